import { CfnOutput, Duration, RemovalPolicy, Stack, Tags, Validations } from 'aws-cdk-lib';
import { AutoScalingGroup, CfnAutoScalingGroup, GroupMetrics, HealthChecks, UpdatePolicy } from 'aws-cdk-lib/aws-autoscaling';
import {
  BlockDeviceVolume,
  EbsDeviceVolumeType,
  FlowLogDestination,
  FlowLogTrafficType,
  InstanceType,
  IpAddresses,
  LaunchTemplate,
  MachineImage,
  Peer,
  Port,
  SecurityGroup,
  SubnetType,
  UserData,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { IRole, ManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ApplianceFleetSettings } from '../config/appliance-settings';
import { CHAOS_TAG } from '../chaos/catalog';
import { AppliancePolicy } from './appliance-policy';
import { MediaBucketRef } from './encoding-ladder';
import { EncryptedLogGroup } from './encrypted-log-group';

/** The tags every EC2 appliance carries; FIS experiment templates select their targets by them. */
export const APPLIANCE_TAGS = {
  environment: 'nearstream:environment',
  role: 'nearstream:role',
  cluster: 'nearstream:cluster',
  /** Only instances tagged `opt-in` may be targeted by chaos experiments (`opt-out` otherwise). */
  chaos: 'nearstream:chaos',
} as const;

/** The root volume holds the OS as well as the cache. */
const SYSTEM_GIB = 16;
/** The agent keeps this share of the cache volume for itself; the rest is headroom for the filesystem. */
const CACHE_CEILING_SHARE = 0.95;
/** Steering sends players to every client prefix; an ISP's bare-metal cluster wins with a longer one. */
const SERVE_EVERYONE = ['0.0.0.0/0', '::/0'];

export interface ApplianceFleetProps {
  /** The environment's name, for tags. */
  readonly environmentName: string;
  /** The cluster these appliances form in the fleet registry, e.g. `ec2-us-east-1`. */
  readonly clusterId: string;
  readonly settings: ApplianceFleetSettings;
  /** The origin bucket of this region and its key. */
  readonly origin: MediaBucketRef;
  /** The key ring nginx checks tokens with. */
  readonly keyringSecret: ISecret;
  /** This region's control plane, e.g. `https://api-us-east-1.example.com/`: requests are signed for this region. */
  readonly controlPlaneUrl: string;
  /** Scaling events go here. */
  readonly alarmTopic: ITopic;
  /** Whether chaos experiments may pick these appliances (their cluster did not opt out). */
  readonly chaosOptIn: boolean;
  readonly logRetentionDays: number;
  readonly logRemovalPolicy: RemovalPolicy;
  readonly logEncryptionKey: IKey;
}

/**
 * One region's EC2 appliances: an Auto Scaling group across Availability Zones in public subnets,
 * launched from the appliance AMI given in config with IMDSv2 only and an encrypted cache volume,
 * reachable from the internet on the serving port alone. cloud-init writes each node's settings
 * from the user data (a Jinja template filled with the instance's own id and address), and the
 * image's first-boot unit configures the node from them.
 */
export class ApplianceFleet extends Construct {
  readonly role: IRole;
  readonly group: AutoScalingGroup;
  readonly securityGroup: SecurityGroup;
  readonly vpc: Vpc;

  constructor(scope: Construct, id: string, props: ApplianceFleetProps) {
    super(scope, id);
    const { settings, clusterId } = props;
    const region = Stack.of(this).region;

    const flowLogs = new EncryptedLogGroup(this, 'FlowLogs', {
      retentionDays: props.logRetentionDays,
      encryptionKey: props.logEncryptionKey,
      removalPolicy: props.logRemovalPolicy,
    });
    this.vpc = new Vpc(this, 'Vpc', {
      ipAddresses: IpAddresses.cidr('10.80.0.0/16'),
      // Every zone the stack offers: the stack decides how many the fleet spans.
      maxAzs: Stack.of(this).availabilityZones.length,
      natGateways: 0,
      subnetConfiguration: [{ name: 'Serving', subnetType: SubnetType.PUBLIC, cidrMask: 20, mapPublicIpOnLaunch: false }],
      flowLogs: { All: { destination: FlowLogDestination.toCloudWatchLogs(flowLogs), trafficType: FlowLogTrafficType.ALL } },
    });

    this.securityGroup = new SecurityGroup(this, 'ServingGroup', {
      vpc: this.vpc,
      description: `Nearstream appliances of ${clusterId}: players in on the serving port; HTTPS out to the origin and control plane, HTTP out to Debian mirrors`,
      allowAllOutbound: false,
    });
    this.securityGroup.addIngressRule(Peer.anyIpv4(), Port.tcp(settings.servingPort), 'players fetch segments');
    this.securityGroup.addEgressRule(Peer.anyIpv4(), Port.tcp(443), 'S3, the control plane, Secrets Manager and SSM, all over HTTPS');
    // Debian's mirrors serve apt over HTTP by default; apt verifies the signed indexes itself.
    this.securityGroup.addEgressRule(Peer.anyIpv4(), Port.tcp(80), 'Debian security updates (apt)');
    Validations.of(this.securityGroup).acknowledge(
      { id: 'AwsSolutions::AwsSolutions-EC23', reason: 'An appliance serves players on the internet: the serving port must be open to every address, and it is the only inbound port.' },
      { id: 'cdk-validator-cfnguard::vpc_sg_open_only_to_authorized_ports', reason: 'An appliance serves players on the internet: the serving port must be open to every address, and it is the only inbound port.' },
    );

    const role = new Role(this, 'InstanceRole', {
      assumedBy: new ServicePrincipal('ec2.amazonaws.com'),
      description: `Nearstream appliances of ${clusterId}: fill from the origin, read the key ring, report to the fleet API`,
      managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      reason: 'Session Manager is the only way onto an appliance (no SSH port is open); AWS maintains the exact actions its agent needs.',
    });
    new AppliancePolicy(this, 'Access', {
      role,
      origin: props.origin,
      keyringSecret: props.keyringSecret,
      clusterId,
    });
    this.role = role;

    const launchTemplate = new LaunchTemplate(this, 'LaunchTemplate', {
      machineImage: MachineImage.genericLinux({ [region]: settings.amiIds[region] }),
      instanceType: new InstanceType(settings.instanceType),
      role,
      securityGroup: this.securityGroup,
      // Players fetch from the node itself, as from a bare-metal appliance: a load balancer would
      // bill every served byte again and hide the client addresses the access logs need.
      associatePublicIpAddress: true,
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      detailedMonitoring: true,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: BlockDeviceVolume.ebs(settings.cacheVolumeGiB + SYSTEM_GIB, {
            encrypted: true,
            volumeType: EbsDeviceVolumeType.GP3,
            deleteOnTermination: true,
          }),
        },
      ],
      userData: UserData.custom(
        applianceUserData({
          clusterId,
          settings,
          originBucket: props.origin.bucket.bucketName,
          keyringSecretId: props.keyringSecret.secretName,
          controlPlaneUrl: props.controlPlaneUrl,
        }),
      ),
    });

    // A launch template's tags go on its instances and their volumes: the disk experiment picks a volume by them.
    const chaos = props.chaosOptIn ? CHAOS_TAG.optIn : CHAOS_TAG.optOut;
    for (const [key, value] of [[APPLIANCE_TAGS.environment, props.environmentName], [APPLIANCE_TAGS.role, 'appliance'], [APPLIANCE_TAGS.chaos, chaos]]) {
      Tags.of(launchTemplate).add(key, value);
    }
    Validations.of(launchTemplate).acknowledge({
      id: 'cdk-validator-cfnguard::ec2_launch_template_public_ip_disabled_check',
      reason: 'Appliances are addressed by players directly, like bare-metal nodes in an ISP; a load balancer in front would bill every served byte twice. Only the serving port is open.',
    });
    const count = settings.appliancesPerRegion;
    this.group = new AutoScalingGroup(this, 'Group', {
      vpc: this.vpc,
      vpcSubnets: { subnetType: SubnetType.PUBLIC },
      launchTemplate,
      minCapacity: count,
      maxCapacity: count,
      healthChecks: HealthChecks.ec2({ gracePeriod: Duration.minutes(10) }),
      groupMetrics: [GroupMetrics.all()],
      notifications: [{ topic: props.alarmTopic }],
      // A new image reaches one appliance at a time; the others keep serving while it fills.
      updatePolicy: UpdatePolicy.rollingUpdate({ maxBatchSize: 1, minInstancesInService: count - 1, pauseTime: Duration.minutes(10) }),
    });
    // Control Tower's multi-AZ control reads the zones from the group itself: name the subnets' zones.
    (this.group.node.defaultChild as CfnAutoScalingGroup).availabilityZones = this.vpc.publicSubnets.map((subnet) => subnet.availabilityZone);
    Validations.of(this.group).acknowledge({
      id: 'cdk-validator-cfnguard::autoscaling_mixed_instances_policy_multiple_instance_types_check',
      reason: 'An appliance reports its egress and disk to steering from config; one instance type per fleet keeps those figures true for every node.',
    });
    const tags = Tags.of(this.group);
    tags.add(APPLIANCE_TAGS.environment, props.environmentName);
    tags.add(APPLIANCE_TAGS.role, 'appliance');
    tags.add(APPLIANCE_TAGS.cluster, clusterId);
    tags.add(APPLIANCE_TAGS.chaos, chaos);

    new CfnOutput(this, 'GroupName', { value: this.group.autoScalingGroupName, description: `Auto Scaling group of ${clusterId}` });
  }

}

export interface ApplianceUserDataOptions {
  readonly clusterId: string;
  readonly settings: ApplianceFleetSettings;
  readonly originBucket: string;
  readonly keyringSecretId: string;
  readonly controlPlaneUrl: string;
}

/**
 * cloud-config, rendered by cloud-init's Jinja support on the instance, that writes
 * `/etc/nearstream/node.json` (the node settings the image's configure unit applies). The instance
 * id names the appliance; its public address is where players reach it.
 */
export function applianceUserData(options: ApplianceUserDataOptions): string {
  const { settings } = options;
  const port = settings.servingPort === 80 ? '' : `:${settings.servingPort}`;
  const cacheBytes = settings.cacheVolumeGiB * 1024 ** 3;
  const node = {
    applianceId: '{{ v1.instance_id }}',
    clusterId: options.clusterId,
    region: '{{ v1.region }}',
    controlPlaneUrl: options.controlPlaneUrl,
    baseUrl: `http://{{ ds.meta_data.public_ipv4 }}${port}`,
    prefixes: SERVE_EVERYONE,
    capacity: { egressGbps: settings.egressGbps, diskBytes: cacheBytes },
    originBucket: options.originBucket,
    keyringSecretId: options.keyringSecretId,
    diskCeilingBytes: Math.floor(cacheBytes * CACHE_CEILING_SHARE),
    bandwidthCapBytesPerSecond: settings.fillBandwidthBytesPerSecond,
    fillWindow: settings.fillWindow,
    listen: `0.0.0.0:${settings.servingPort}`,
  };
  const json = JSON.stringify(node, null, 2).split('\n').map((line) => `      ${line}`).join('\n');
  return [
    '## template: jinja',
    '#cloud-config',
    'write_files:',
    '  - path: /etc/nearstream/node.json',
    "    owner: 'root:root'",
    "    permissions: '0640'",
    '    content: |',
    json,
    '',
  ].join('\n');
}
