import { CfnResource, Duration, RemovalPolicy, Stack, TimeZone, Token, Validations } from 'aws-cdk-lib';
import { IAlarm } from 'aws-cdk-lib/aws-cloudwatch';
import { CfnExperimentTemplate } from 'aws-cdk-lib/aws-fis';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ContextAttribute, Schedule, ScheduleExpression, ScheduleTargetInput, TimeWindow } from 'aws-cdk-lib/aws-scheduler';
import { Universal } from 'aws-cdk-lib/aws-scheduler-targets';
import { BUSINESS_HOURS, CHAOS_EXPERIMENTS, CHAOS_TAG, ChaosExperiment, ChaosFault, ChaosSettings, EVACUATION_TAG } from '../chaos/catalog';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { scheduleDeadLetters } from './schedule-dead-letters';
import { EncryptedLogGroup } from './encrypted-log-group';
import { NearstreamFunction } from './nearstream-function';

/** Where FIS writes the Lambda extension's fault configurations, and experiment reports. */
const FAULT_CONFIG_PREFIX = 'FisConfigs/';
const REPORT_PREFIX = 'reports/';
/** The tag every template carries with its experiment's name; the runner finds templates by it. */
export const EXPERIMENT_TAG = 'nearstream:experiment';
/** A report shows the steady state this long before and after the experiment. */
const REPORT_CONTEXT = 'PT10M';

export interface ChaosExperimentsProps {
  /** `nearstream-<env>`: names and tags. */
  readonly prefix: string;
  readonly environmentName: string;
  /** Mode (`leashed` or `on`), Chaos Monkey's mean time between kills and business hours' time zone. */
  readonly settings: ChaosSettings;
  /** This region's SPS alarm: every experiment about the region's steady state stops when it fires. */
  readonly stopAlarm: IAlarm;
  /**
   * Both regions' SPS as one alarm in this region (`GlobalSteadyState`): the region evacuation,
   * which empties this region by design, stops on it and asserts it after the drain.
   */
  readonly globalStopAlarm: IAlarm;
  /** The control table (a global table): the evacuation pauses replication of this region's replica. */
  readonly controlTableName: string;
  /** This region's dashboard, in every experiment report. */
  readonly dashboardName: string;
  /**
   * Control-plane functions that opt in to fault injection (the FIS Lambda extension is added to
   * them): every experiment on functions may target them, the evacuation included.
   */
  readonly functions: readonly NearstreamFunction[];
  /** Functions only the region evacuation takes down: the health check Route 53 reads. */
  readonly evacuationOnlyFunctions: readonly NearstreamFunction[];
  readonly logRetentionDays: number;
  readonly logEncryptionKey: IKey;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The region's chaos experiments, from the catalog (`lib/chaos/catalog.ts`), as AWS FIS templates:
 * each stops on the region's SPS alarm, logs to its own log group, reports to S3 with the region's
 * dashboard, and runs as one role that may harm only resources tagged `nearstream:chaos=opt-in` of
 * this environment. Only environments with chaos `leashed` or `on` have them.
 */
export class ChaosExperiments extends Construct {
  readonly bucket: Bucket;
  readonly logGroup: EncryptedLogGroup;
  readonly role: Role;
  readonly templates: Readonly<Record<string, CfnExperimentTemplate>>;
  readonly monkeySchedule: Schedule;
  /** Chaos Monkey runs the scheduler could not start. */
  readonly monkeyDeadLetters: Queue;

  /** The bucket's logical id, as cdk-nag names it in findings. */
  private get nagBucket(): string {
    return Stack.of(this).resolve((this.bucket.node.defaultChild as CfnResource).logicalId);
  }

  /** The account as cdk-nag names it in findings: `<AWS::AccountId>` at deploy time, else itself. */
  private readonly nagAccount: string;

  constructor(scope: Construct, id: string, props: ChaosExperimentsProps) {
    super(scope, id);
    const { region, account } = Stack.of(this);
    this.nagAccount = Token.isUnresolved(account) ? '<AWS::AccountId>' : account;
    this.bucket = new Bucket(this, 'Bucket', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        { prefix: FAULT_CONFIG_PREFIX, expiration: Duration.days(1) },
        { prefix: REPORT_PREFIX, expiration: Duration.days(90) },
        { abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      removalPolicy: props.removalPolicy,
      autoDeleteObjects: props.removalPolicy === RemovalPolicy.DESTROY,
    });
    const written = 'FIS writes this bucket: fault configurations that live for one experiment and expire in a day, and experiment reports kept 90 days;';
    Validations.of(this.bucket).acknowledge(
      { id: 'AwsSolutions::AwsSolutions-S1', reason: `${written} FIS's own experiment log records every write.` },
      { id: 'cdk-validator-cfnguard::s3_bucket_logging_enabled_check', reason: `${written} FIS's own experiment log records every write.` },
      { id: 'cdk-validator-cfnguard::s3_bucket_versioning_enabled_check', reason: `${written} FIS rewrites and deletes the configurations, and nothing here needs an older version.` },
      { id: 'cdk-validator-cfnguard::s3_bucket_replication_enabled_check', reason: `${written} each region has its own, as FIS requires the configuration bucket in the experiment's region.` },
      { id: 'cdk-validator-cfnguard::s3_bucket_object_lock_enabled_check', reason: `${written} Object Lock would stop FIS removing a configuration when its experiment ends.` },
      { id: 'cdk-validator-cfnguard::s3_event_notifications_enabled_check', reason: `${written} nothing acts on its writes.` },
      {
        id: 'cdk-validator-cfnguard::s3_bucket_default_encryption_kms_check',
        reason: `${written} they hold percentages, durations and metric graphs, no viewer or content data, so S3-managed keys suffice; a KMS key would have to admit FIS and every function the extension reads for.`,
      },
    );
    this.logGroup = new EncryptedLogGroup(this, 'Logs', {
      retentionDays: props.logRetentionDays,
      encryptionKey: props.logEncryptionKey,
      removalPolicy: props.removalPolicy,
    });
    const location = { bucketName: this.bucket.bucketName, bucketLogicalId: this.nagBucket, prefix: FAULT_CONFIG_PREFIX };
    const evacuation = { key: EVACUATION_TAG.key, value: EVACUATION_TAG.optIn };
    for (const fn of props.functions) {
      fn.enableFaultInjection({ ...location, optInTags: [{ key: CHAOS_TAG.key, value: CHAOS_TAG.optIn }, evacuation] });
    }
    for (const fn of props.evacuationOnlyFunctions) {
      fn.enableFaultInjection({ ...location, optInTags: [evacuation] });
    }

    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('fis.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': account },
          ArnLike: { 'aws:SourceArn': `arn:aws:fis:${region}:${account}:experiment/*` },
        },
      }),
      description: `Runs ${props.prefix}'s chaos experiments in ${region}: only on resources tagged ${CHAOS_TAG.key}=${CHAOS_TAG.optIn} of this environment`,
    });
    this.grantExperimentActions(props, region, account);

    const dashboardArn = `arn:aws:cloudwatch::${account}:dashboard/${props.dashboardName}`;
    this.templates = Object.fromEntries(
      CHAOS_EXPERIMENTS.map((experiment) => [
        experiment.name,
        new CfnExperimentTemplate(this, experiment.name, {
          description: `${experiment.title}. Hypothesis: ${experiment.hypothesis} Blast radius: ${experiment.blastRadius}.`.slice(0, 512),
          roleArn: this.role.roleArn,
          stopConditions: [{ source: 'aws:cloudwatch:alarm', value: (experiment.steadyState === 'global' ? props.globalStopAlarm : props.stopAlarm).alarmArn }],
          ...faultOf(experiment, { environmentName: props.environmentName, tableArn: this.tableArn(props), steadyAlarmArn: props.globalStopAlarm.alarmArn }),
          logConfiguration: { cloudWatchLogsConfiguration: { LogGroupArn: this.logGroup.logGroupArn }, logSchemaVersion: 2 },
          experimentOptions: { accountTargeting: 'single-account', emptyTargetResolutionMode: 'fail' },
          experimentReportConfiguration: {
            outputs: { experimentReportS3Configuration: { bucketName: this.bucket.bucketName, prefix: `${REPORT_PREFIX}${experiment.name}/` } },
            dataSources: { cloudWatchDashboards: [{ dashboardIdentifier: dashboardArn }] },
            preExperimentDuration: REPORT_CONTEXT,
            postExperimentDuration: REPORT_CONTEXT,
          },
          tags: { Name: `${props.prefix}-${region}-${experiment.name}`, [EXPERIMENT_TAG]: experiment.name },
        }),
      ]),
    );
    this.monkeyDeadLetters = scheduleDeadLetters(this, 'MonkeyDeadLetters', 'the Chaos Monkey schedule');
    this.monkeySchedule = this.scheduleChaosMonkey(props.settings, region, account);
  }

  /**
   * Chaos Monkey: EventBridge Scheduler starts the chaos-monkey experiment once in every slot of
   * `meanMinutesBetweenKills` of business hours (weekdays 09:00-17:00 in the chaos time zone), at a
   * random moment within the slot (the schedule's flexible window), straight through FIS's API. In
   * `leashed` mode FIS resolves the targets and harms nothing (`ActionsMode: skip-all`).
   */
  private scheduleChaosMonkey(settings: ChaosSettings, region: string, account: string): Schedule {
    const template = this.templates['chaos-monkey'];
    const role = new Role(this, 'MonkeyRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': account } } }),
      description: 'EventBridge Scheduler starts the chaos-monkey experiment, and no other',
    });
    const target = new Universal({
      service: 'fis',
      action: 'startExperiment',
      role,
      retryAttempts: 0,
      deadLetterQueue: this.monkeyDeadLetters,
      input: ScheduleTargetInput.fromObject({
        ExperimentTemplateId: template.attrId,
        ClientToken: ContextAttribute.executionId,
        ...(settings.mode === 'leashed' ? { ExperimentOptions: { ActionsMode: 'skip-all' } } : {}),
      }),
      policyStatements: [
        new PolicyStatement({
          actions: ['fis:StartExperiment'],
          resources: [`arn:aws:fis:${region}:${account}:experiment-template/${template.attrId}`, `arn:aws:fis:${region}:${account}:experiment/*`],
        }),
      ],
    });
    Validations.of(role).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::arn:aws:fis:${region}:${this.nagAccount}:experiment/*]`,
      reason: 'StartExperiment authorizes the experiment it creates, whose id FIS assigns; the template is named exactly.',
    });
    const slot = settings.meanMinutesBetweenKills;
    const { startHour, endHour } = BUSINESS_HOURS;
    const lastHour = endHour - 1;
    const cron = slot < 60
      ? { minute: `0/${slot}`, hour: `${startHour}-${lastHour}` }
      : { minute: '0', hour: slot === 60 ? `${startHour}-${lastHour}` : `${startHour}-${lastHour}/${slot / 60}` };
    return new Schedule(this, 'ChaosMonkey', {
      schedule: ScheduleExpression.cron({ ...cron, weekDay: 'MON-FRI', timeZone: TimeZone.of(settings.timezone) }),
      timeWindow: TimeWindow.flexible(Duration.minutes(slot)),
      target,
      description: `Chaos Monkey${settings.mode === 'leashed' ? ' (leashed: targets resolved, nothing harmed)' : ''}: one appliance kill at a random moment in every ${slot} minutes of business hours`,
    });
  }

  /** This region's replica of the control table. */
  private tableArn(props: ChaosExperimentsProps): string {
    const { region, account } = Stack.of(this);
    return `arn:aws:dynamodb:${region}:${account}:table/${props.controlTableName}`;
  }

  /** Each action's permissions, held to this environment's opted-in resources by tag where the action allows it. */
  private grantExperimentActions(props: ChaosExperimentsProps, region: string, account: string): void {
    const optedIn = {
      StringEquals: { [`aws:ResourceTag/${CHAOS_TAG.key}`]: CHAOS_TAG.optIn, 'aws:ResourceTag/nearstream:environment': props.environmentName },
    };
    const add = (statement: ConstructorParameters<typeof PolicyStatement>[0]) => this.role.addToPrincipalPolicy(new PolicyStatement(statement));
    add({ actions: ['ec2:TerminateInstances'], resources: [`arn:aws:ec2:${region}:${account}:instance/*`], conditions: optedIn });
    add({ actions: ['ec2:InjectVolumeIOLatency'], resources: [`arn:aws:ec2:${region}:${account}:volume/*`], conditions: optedIn });
    add({ actions: ['lambda:GetFunction'], resources: [...props.functions, ...props.evacuationOnlyFunctions].map((fn) => fn.function.functionArn) });
    // Pausing a global table's replication: FIS denies replication through the replica's resource policy.
    add({
      actions: ['dynamodb:PutResourcePolicy', 'dynamodb:DeleteResourcePolicy', 'dynamodb:GetResourcePolicy', 'dynamodb:DescribeTable'],
      resources: [this.tableArn(props)],
    });
    add({ actions: ['s3:PutObject', 's3:DeleteObject'], resources: [this.bucket.arnForObjects(`${FAULT_CONFIG_PREFIX}*`)] });
    add({ actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects(`${REPORT_PREFIX}*`)] });
    add({ actions: ['cloudwatch:GetDashboard'], resources: [`arn:aws:cloudwatch::${account}:dashboard/${props.dashboardName}`] });
    // Target resolution by tag, instance and volume descriptions, report widgets and log delivery
    // setup have no resource-level permissions.
    add({
      actions: [
        'tag:GetResources',
        'ec2:DescribeInstances',
        'ec2:DescribeVolumes',
        'cloudwatch:GetMetricWidgetImage',
        'cloudwatch:DescribeAlarms',
        'logs:CreateLogDelivery',
        'logs:DescribeResourcePolicies',
        'logs:DescribeLogGroups',
        'logs:PutResourcePolicy',
      ],
      resources: ['*'],
    });
    Validations.of(this.role).acknowledge(
      {
        id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
        reason: 'FIS resolves targets by tag (tag:GetResources), describes instances and volumes, reads alarm states for its assertions, renders report widgets and sets up its log delivery: none of these has resource-level permissions.',
      },
      {
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::arn:aws:ec2:${region}:${this.nagAccount}:instance/*]`,
        reason: `Held by condition to instances tagged ${CHAOS_TAG.key}=${CHAOS_TAG.optIn} of this environment; FIS picks one at run time.`,
      },
      {
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::arn:aws:ec2:${region}:${this.nagAccount}:volume/*]`,
        reason: `Held by condition to volumes tagged ${CHAOS_TAG.key}=${CHAOS_TAG.optIn} of this environment; FIS picks one at run time.`,
      },
      {
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${this.nagBucket}.Arn>/${FAULT_CONFIG_PREFIX}*]`,
        reason: 'FIS writes and removes one fault configuration per targeted function under this prefix, named by FIS.',
      },
      {
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${this.nagBucket}.Arn>/${REPORT_PREFIX}*]`,
        reason: 'FIS writes each experiment\'s report under this prefix, named by FIS.',
      },
    );
  }
}

/** The FIS targets and actions of an experiment's fault (action ids, target keys and parameters as AWS documents them). */
function faultOf(
  experiment: ChaosExperiment,
  context: { readonly environmentName: string; readonly tableArn: string; readonly steadyAlarmArn: string },
): Pick<CfnExperimentTemplate, 'targets' | 'actions'> {
  const { environmentName } = context;
  const duration = `PT${experiment.durationMinutes}M`;
  const resourceTags = { [CHAOS_TAG.key]: CHAOS_TAG.optIn, 'nearstream:environment': environmentName };
  const fault: ChaosFault = experiment.fault;
  switch (fault.kind) {
    case 'terminate-appliance':
      return {
        targets: {
          appliances: {
            resourceType: 'aws:ec2:instance',
            resourceTags: { ...resourceTags, 'nearstream:role': 'appliance' },
            filters: [{ path: 'State.Name', values: ['running'] }],
            selectionMode: `COUNT(${fault.count})`,
          },
        },
        actions: { terminate: { actionId: 'aws:ec2:terminate-instances', description: 'Terminate one appliance instance', targets: { Instances: 'appliances' } } },
      };
    case 'function-latency':
      return {
        targets: { functions: { resourceType: 'aws:lambda:function', resourceTags, selectionMode: 'ALL' } },
        actions: {
          delay: {
            actionId: 'aws:lambda:invocation-add-delay',
            description: `Delay ${fault.invocationPercent}% of invocations by ${fault.delayMs} ms`,
            parameters: { duration, invocationPercentage: String(fault.invocationPercent), startupDelayMilliseconds: String(fault.delayMs) },
            targets: { Functions: 'functions' },
          },
        },
      };
    case 'function-errors':
      return {
        targets: { functions: { resourceType: 'aws:lambda:function', resourceTags, selectionMode: 'ALL' } },
        actions: {
          fail: {
            actionId: 'aws:lambda:invocation-error',
            description: `Fail ${fault.invocationPercent}% of invocations without running them`,
            parameters: { duration, invocationPercentage: String(fault.invocationPercent), preventExecution: 'true' },
            targets: { Functions: 'functions' },
          },
        },
      };
    case 'appliance-disk-latency':
      return {
        targets: { volumes: { resourceType: 'aws:ec2:ebs-volume', resourceTags: { ...resourceTags, 'nearstream:role': 'appliance' }, selectionMode: 'COUNT(1)' } },
        actions: {
          slowDisk: {
            actionId: 'aws:ebs:volume-io-latency',
            description: `Add ${fault.latencyMs} ms to ${fault.ioPercent}% of one appliance volume's reads and writes`,
            parameters: {
              duration,
              readIOPercentage: String(fault.ioPercent),
              readIOLatencyMilliseconds: String(fault.latencyMs),
              writeIOPercentage: String(fault.ioPercent),
              writeIOLatencyMilliseconds: String(fault.latencyMs),
            },
            targets: { Volumes: 'volumes' },
          },
        },
      };
    case 'region-evacuation':
      return {
        targets: {
          regionApi: {
            resourceType: 'aws:lambda:function',
            resourceTags: { [EVACUATION_TAG.key]: EVACUATION_TAG.optIn, 'nearstream:environment': environmentName },
            selectionMode: 'ALL',
          },
          tableReplica: { resourceType: 'aws:dynamodb:global-table', resourceArns: [context.tableArn], selectionMode: 'ALL' },
        },
        actions: {
          evacuate: {
            actionId: 'aws:lambda:invocation-http-integration-response',
            description: `Every API function, the health check included, answers ${fault.statusCode} without running: Route 53 fails the region`,
            parameters: { duration, statusCode: String(fault.statusCode), contentTypeHeader: 'application/json', preventExecution: 'true', invocationPercentage: '100' },
            targets: { Functions: 'regionApi' },
          },
          settle: {
            actionId: 'aws:fis:wait',
            description: `${fault.settleMinutes} minute(s) for the region's last writes (sessions, stream slots) to replicate`,
            parameters: { duration: `PT${fault.settleMinutes}M` },
          },
          pauseReplication: {
            actionId: 'aws:dynamodb:global-table-pause-replication',
            description: 'Replication to and from this region\'s table replica pauses',
            parameters: { duration: `PT${experiment.durationMinutes - fault.settleMinutes}M` },
            targets: { Tables: 'tableReplica' },
            startAfter: ['settle'],
          },
          drain: {
            actionId: 'aws:fis:wait',
            description: `${fault.drainMinutes} minutes for Route 53 to fail the region and players to move`,
            parameters: { duration: `PT${fault.drainMinutes}M` },
          },
          assertServed: {
            actionId: 'aws:cloudwatch:assert-alarm-state',
            description: 'The other region serves the players: both regions\' SPS is back within its band',
            parameters: { alarmArns: context.steadyAlarmArn, alarmStates: 'OK' },
            startAfter: ['drain'],
          },
        },
      };
  }
}
