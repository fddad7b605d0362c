import { Fn, Stack, StackProps } from 'aws-cdk-lib';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { EnvironmentConfig } from '../config/environment';
import { EnvironmentNaming } from '../config/naming';
import { retentionOf } from '../config/retention';
import { ApplianceFleet } from '../constructs/appliance-fleet';
import { AppliancePolicy } from '../constructs/appliance-policy';
import { BareMetalTrust, CLUSTER_CERTIFICATE_TAG } from '../constructs/bare-metal-trust';
import { LogEncryptionKey } from '../constructs/log-encryption-key';
import { importMediaBucket } from '../constructs/media-bucket-ref';
import { ControlPlaneStack } from './control-plane-stack';
import { NotificationTopic } from '../constructs/notification-topic';

export interface AppliancesStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  /** The region this stack serves; must equal `env.region`. */
  readonly region: string;
  /** This region's control plane, whose fleet API the appliances call. */
  readonly controlPlane: ControlPlaneStack;
  /** The key of this region's origin bucket (the primary, or its replica); the bucket is found by name. */
  readonly originKey: IKey;
}

/**
 * Where one region's appliances get their AWS identity: the EC2 fleet, when the environment has
 * one, and the Roles Anywhere trust for bare-metal nodes homed in the region, when configured.
 * Both act with the same permissions; only how a node proves its cluster differs.
 */
export class AppliancesStack extends Stack {
  readonly fleet?: ApplianceFleet;
  readonly bareMetal?: BareMetalTrust;
  private readonly availabilityZoneCount: number;

  constructor(scope: Construct, id: string, props: AppliancesStackProps) {
    super(scope, id, props);
    this.availabilityZoneCount = props.config.applianceFleet?.availabilityZoneCount ?? 2;
    const { config, region, controlPlane } = props;
    const naming = new EnvironmentNaming(config);
    const keyringSecret = Secret.fromSecretNameV2(this, 'UrlSigningSecret', naming.urlSigningSecretName);
    const origin = importMediaBucket(this, naming, 'origin', props.originKey);
    const access = { origin, keyringSecret };

    if (config.applianceFleet) {
      const logRemovalPolicy = retentionOf(config).removalPolicy;
      const logKey = new LogEncryptionKey(this, 'LogKey', { aliasName: `alias/${naming.prefix}/appliance-logs`, removalPolicy: logRemovalPolicy }).key;
      const topic = new NotificationTopic(this, 'FleetEvents', {
        displayName: `${naming.prefix} appliance fleet events (${region})`,
        publishers: ['auto-scaling', 'cloudwatch-alarms'],
        removalPolicy: logRemovalPolicy,
      }).topic;
      this.fleet = new ApplianceFleet(this, 'Fleet', {
        ...access,
        environmentName: config.name,
        clusterId: naming.ec2ClusterId(region),
        chaosOptIn: !config.chaos.optOutClusters.includes(naming.ec2ClusterId(region)),
        settings: config.applianceFleet,
        controlPlaneUrl: controlPlane.regionalApiUrl,
        alarmTopic: topic,
        logRetentionDays: config.logRetentionDays,
        logRemovalPolicy,
        logEncryptionKey: logKey,
      });
      controlPlane.grantApplianceAccess(this.fleet.role);
    }

    if (config.rolesAnywhere) {
      this.bareMetal = new BareMetalTrust(this, 'BareMetal', { namePrefix: `${naming.prefix}-${region}`, settings: config.rolesAnywhere });
      new AppliancePolicy(this, 'BareMetalAccess', { ...access, role: this.bareMetal.role, clusterId: CLUSTER_CERTIFICATE_TAG });
      controlPlane.grantApplianceAccess(this.bareMetal.role);
    }
  }

  /**
   * Availability Zones by position (`Fn::GetAZs`) rather than by name: names differ between
   * accounts, and looking them up would make synth depend on an AWS call.
   */
  override get availabilityZones(): string[] {
    return Array.from({ length: this.availabilityZoneCount }, (_, index) => Fn.select(index, Fn.getAzs()));
  }
}
