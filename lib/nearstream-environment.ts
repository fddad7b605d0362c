import { Stack, Validations } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { acknowledgeCdkProviders } from './cdk-provider-acknowledgements';
import { EnvironmentConfig, regionsOf } from './config/environment';
import { ENVIRONMENT_TAGS } from './config/lifetime';
import { EnvironmentNaming } from './config/naming';
import { ApplianceImageStack } from './stacks/appliance-image-stack';
import { AppliancesStack } from './stacks/appliances-stack';
import { ControlPlaneStack } from './stacks/control-plane-stack';
import { DataStack } from './stacks/data-stack';
import { EncodingStack } from './stacks/encoding-stack';
import { OriginReplicaStack } from './stacks/origin-replica-stack';
import { SummaryDashboard } from './constructs/summary-dashboard';

export interface NearstreamEnvironmentProps {
  readonly config: EnvironmentConfig;
}

/**
 * One whole environment in both regions: the data stack in the primary region and a control
 * plane in each. `bin/` places it straight in the app, so `cdk deploy --all` finds its stacks;
 * `NearstreamStage` wraps the same construct for the pipeline and ephemeral environments.
 */
export class NearstreamEnvironment extends Construct {
  readonly config: EnvironmentConfig;
  readonly originReplica: OriginReplicaStack;
  readonly data: DataStack;
  readonly encoding: EncodingStack;
  readonly controlPlanes: readonly ControlPlaneStack[];
  readonly applianceImage: ApplianceImageStack;
  /** Per region, when the environment has an EC2 fleet or bare-metal trust; else empty. */
  readonly appliances: readonly AppliancesStack[];

  constructor(scope: Construct, id: string, props: NearstreamEnvironmentProps) {
    super(scope, id);
    const { config } = props;
    const naming = new EnvironmentNaming(config);
    this.config = config;

    this.originReplica = new OriginReplicaStack(this, 'OriginReplica', {
      config,
      env: { account: config.account, region: config.secondaryRegion },
      stackName: naming.stackName('origin-replica', config.secondaryRegion),
      description: `Nearstream ${config.name}: origin replica in ${config.secondaryRegion} (${config.kind})`,
      terminationProtection: config.kind === 'prod',
      crossRegionReferences: true,
    });

    this.data = new DataStack(this, 'Data', {
      config,
      originReplicaKeyArn: this.originReplica.key.keyArn,
      env: { account: config.account, region: config.primaryRegion },
      stackName: naming.stackName('data'),
      description: `Nearstream ${config.name}: global table and signing secret (${config.kind})`,
      terminationProtection: config.kind === 'prod',
      crossRegionReferences: true,
    });

    this.encoding = new EncodingStack(this, 'Encoding', {
      config,
      sourceKey: this.data.sourceBucket.key,
      originKey: this.data.originTier.encryptionKey,
      env: { account: config.account, region: config.primaryRegion },
      stackName: naming.stackName('encoding'),
      description: `Nearstream ${config.name}: MediaConvert ladder and the upload-to-catalog workflow`,
      terminationProtection: config.kind === 'prod',
    });

    const originKeys = [this.data.originTier.encryptionKey, this.originReplica.key];
    this.controlPlanes = regionsOf(config).map((region, index) => {
      const stack = new ControlPlaneStack(this, `ControlPlane-${region}`, {
        config,
        region,
        shared: this.data.shared,
        originKey: originKeys[index],
        otherRegion: regionsOf(config)[1 - index],
        // MediaConvert and the upload workflow run in the primary region: its monitoring alarms on them.
        encoding: index === 0 ? this.encoding.workflow : undefined,
        crossRegionReferences: true,
        env: { account: config.account, region },
        stackName: naming.stackName('control-plane', region),
        description: `Nearstream ${config.name}: control plane in ${region}`,
        terminationProtection: config.kind === 'prod',
      });
      stack.addStackDependency(this.data, 'reads the replicated table and secret by name');
      return stack;
    });
    new SummaryDashboard(this.controlPlanes[0], 'SummaryDashboard', {
      dashboardName: `${naming.prefix}-summary`,
      regions: this.controlPlanes.map((stack, index) => ({
        region: stack.region,
        otherRegion: regionsOf(config)[1 - index],
        playback: stack.playback,
        steering: stack.steering,
        dashboardName: stack.monitoring.dashboardName,
      })),
      controlTableName: naming.controlTableName,
      playFailureMinimumPlays: config.alarms.playFailureMinimumPlays,
    });
    this.applianceImage = new ApplianceImageStack(this, 'ApplianceImage', {
      config,
      env: { account: config.account, region: config.primaryRegion },
      stackName: naming.stackName('appliance-image'),
      description: `Nearstream ${config.name}: the appliance AMI, built by Image Builder and copied to both regions`,
      terminationProtection: config.kind === 'prod',
    });
    this.appliances = config.applianceFleet || config.rolesAnywhere
      ? regionsOf(config).map(
          (region, index) =>
            new AppliancesStack(this, `Appliances-${region}`, {
              config,
              region,
              controlPlane: this.controlPlanes[index],
              originKey: originKeys[index],
              env: { account: config.account, region },
              stackName: naming.stackName('appliances', region),
              description: `Nearstream ${config.name}: appliance identities${config.applianceFleet ? ' and the EC2 fleet' : ''} in ${region}`,
              terminationProtection: config.kind === 'prod',
            }),
        )
      : [];
    tagEnvironment(this, config);
    acknowledgeCdkProviders(this);
    Validations.of(this).acknowledge({
      id: 'Annotation::@aws-cdk/core:crossStackReferencesBothTransitional',
      reason: 'Deliberate for one release (see test/feature-flags.test.ts): producers keep the exports environments deployed with strong references still import, while consumers move to Fn::GetStackOutput.',
    });
  }
}

/**
 * Tags every stack with the environment's name and kind, and an ephemeral one with its creator and
 * expiry, which the scheduled cleanup reads. Stack tags, set on each stack (the app's
 * `explicitStackTags` flag ignores `Tags.of` for stacks): CloudFormation copies them onto every
 * resource it creates, so they also show on each bill line.
 */
function tagEnvironment(scope: Construct, config: EnvironmentConfig): void {
  const tags: [string, string][] = [
    [ENVIRONMENT_TAGS.environment, config.name],
    [ENVIRONMENT_TAGS.kind, config.kind],
  ];
  if (config.lifetime) {
    tags.push([ENVIRONMENT_TAGS.creator, config.lifetime.creator], [ENVIRONMENT_TAGS.expiresAt, config.lifetime.expiresAt]);
  }
  for (const stack of scope.node.findAll().filter(Stack.isStack)) {
    for (const [key, value] of tags) {
      stack.tags.setTag(key, value);
    }
  }
}
