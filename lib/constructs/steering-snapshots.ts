import * as path from 'node:path';
import { CfnResource, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Schedule, ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { MathExpression, Metric, Stats } from 'aws-cdk-lib/aws-cloudwatch';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { STEERING_METRICS } from '../../lambda/shared/metric-names';
import { scheduleDeadLetters } from './schedule-dead-letters';
import { FLEET_SHARD_PREFIX, itemKeys } from '../../lambda/shared/control-table';
import { healthKeyOf } from '../../lambda/steering/snapshot-store';
import { restrictGrantsToAwsServices } from './key-policies';
import { MetricOptions, metricId, NearstreamFunction, NearstreamFunctionProps } from './nearstream-function';

export interface SteeringSnapshotsProps {
  readonly controlTable: ITableV2;
  /** Derived from the environment, account and region, so policies and tests can name it. */
  readonly bucketName: string;
  /**
   * How often the snapshot is rebuilt: a report reaches plays within this plus the play
   * functions' cache time.
   * @default 10 s
   */
  readonly intervalSeconds?: number;
  readonly removalPolicy: RemovalPolicy;
  readonly functionDefaults: Pick<NearstreamFunctionProps, 'logRetentionDays' | 'logRemovalPolicy' | 'logEncryptionKey'>;
}

/** The one object each region's snapshot lives in. */
const SNAPSHOT_KEY = 'steering/snapshot.bin';

/**
 * One region's steering snapshot: a builder function, started every minute by EventBridge
 * Scheduler, that reads the fleet's health (under 1 KB per appliance) and what changed of its
 * registrations and holdings from the control table, and rewrites one compact object every
 * `intervalSeconds`; play functions read that object conditionally (`grantRead`), so the table's
 * reads do not grow with the number of play containers.
 */
export class SteeringSnapshots extends Construct {
  readonly bucket: Bucket;
  readonly key: Key;
  readonly builder: NearstreamFunction;
  readonly schedule: Schedule;
  /** Minute runs the scheduler could not deliver. */
  readonly deadLetters: Queue;

  constructor(scope: Construct, id: string, props: SteeringSnapshotsProps) {
    super(scope, id);
    const key = (this.key = new Key(this, 'Key', {
      description: 'Encrypts the steering snapshot',
      enableKeyRotation: true,
      pendingWindow: Duration.days(7),
      removalPolicy: props.removalPolicy,
    }));
    restrictGrantsToAwsServices(key);
    this.bucket = new Bucket(this, 'Bucket', {
      bucketName: props.bucketName,
      encryption: BucketEncryption.KMS,
      encryptionKey: key,
      bucketKeyEnabled: true,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      // Derived data, rebuilt from the table within seconds: nothing to keep.
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });
    const derived = 'The bucket holds one derived object, rewritten every few seconds from the control table and rebuilt from it within seconds if lost:';
    Validations.of(this.bucket).acknowledge(
      { id: 'AwsSolutions::AwsSolutions-S1', reason: `${derived} its only reader is this region's play function and its only writer the builder, and access logs would add a line per play container every few seconds.` },
      { id: 'cdk-validator-cfnguard::s3_bucket_logging_enabled_check', reason: `${derived} access logs would add a line per play container every few seconds and show nothing the function logs do not.` },
      { id: 'cdk-validator-cfnguard::s3_bucket_versioning_enabled_check', reason: `${derived} versioning would keep thousands of copies a day.` },
      { id: 'cdk-validator-cfnguard::s3_bucket_replication_enabled_check', reason: `${derived} each region builds its own from its replica of the global table.` },
      { id: 'cdk-validator-cfnguard::s3_bucket_object_lock_enabled_check', reason: `${derived} Object Lock would forbid the rewrites.` },
      { id: 'cdk-validator-cfnguard::s3_event_notifications_enabled_check', reason: `${derived} an event per rewrite would be thousands a day with nothing to act on them.` },
    );

    const intervalSeconds = props.intervalSeconds ?? 10;
    this.builder = new NearstreamFunction(this, 'Builder', {
      ...props.functionDefaults,
      entry: path.join(__dirname, '..', '..', 'lambda', 'steering', 'handler.ts'),
      description: 'Builds the region\'s steering snapshot from the fleet registry every few seconds',
      serviceName: 'steering-snapshot',
      // A run builds at 0, 10, ... 50 s and stops; the schedule's next run starts at 60 s.
      timeout: Duration.seconds(65),
      memorySizeMb: 2048,
      environment: {
        STEERING_SNAPSHOT_BUCKET: this.bucket.bucketName,
        STEERING_SNAPSHOT_KEY: SNAPSHOT_KEY,
        STEERING_SNAPSHOT_SECONDS: String(intervalSeconds),
      },
    })
      // It reads health shards, registrations, holdings and placements: the fleet's items, nothing else.
      .bindTable(props.controlTable, {
        envVar: 'CONTROL_TABLE_NAME',
        actions: ['dynamodb:Query', 'dynamodb:BatchGetItem'],
        leadingKeys: [`${FLEET_SHARD_PREFIX}*`, `${itemKeys.applianceRegistration('').pk}*`, `${itemKeys.appliancePlacement('', 0, 0).pk}*`],
      });
    // It reads the last snapshot back when it starts and rewrites it. ListBucket makes a missing one a
    // 404 rather than a 403 (S3 evaluates it with no prefix for a GetObject, so it cannot be narrowed;
    // the bucket holds this one object).
    this.builder.role.addToPrincipalPolicy(new PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject'], resources: this.objectArns() }));
    this.builder.role.addToPrincipalPolicy(new PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }));
    this.grantKey(this.builder, ['kms:Decrypt', 'kms:GenerateDataKey']);

    const schedulerRole = new Role(this, 'SchedulerRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com'),
      description: 'EventBridge Scheduler starts the steering snapshot builder every minute',
    });
    this.deadLetters = scheduleDeadLetters(this, 'DeadLetters', 'the steering snapshot schedule');
    this.schedule = new Schedule(this, 'EveryMinute', {
      schedule: ScheduleExpression.rate(Duration.minutes(1)),
      target: new LambdaInvoke(this.builder.handler, { role: schedulerRole, retryAttempts: 0, deadLetterQueue: this.deadLetters }),
      description: 'Each run builds the steering snapshot every few seconds until the next run',
    });
    const functionId = Stack.of(this).resolve((this.builder.function.node.defaultChild as CfnResource).logicalId);
    Validations.of(schedulerRole).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${functionId}.Arn>:*]`,
      reason: 'LambdaInvoke grants invoking the snapshot builder and its versions (ARN:*); it is the only function this role may invoke.',
    });
  }

  /** Appliances registered in this region, as of each snapshot build (the latest in a period). */
  metricAppliancesRegistered(options: MetricOptions = {}): Metric {
    return this.builder.publishedMetric(STEERING_METRICS.appliancesRegistered, { statistic: Stats.MAXIMUM, label: 'Appliances registered', ...options });
  }

  /** Registered appliances that missed three reports (90 s), as of each build. */
  metricAppliancesSilent(options: MetricOptions = {}): Metric {
    return this.builder.publishedMetric(STEERING_METRICS.appliancesSilent, { statistic: Stats.MAXIMUM, label: 'Appliances silent', ...options });
  }

  /** Silent appliances as a share of the registered fleet, in percent (0 with no fleet). */
  metricSilentAppliancesPercent(options: MetricOptions = {}): MathExpression {
    const period = options.period ?? Duration.minutes(5);
    const [silent, registered] = ['silent', 'registered'].map((name) => metricId(name, options.region ?? Stack.of(this).region));
    return new MathExpression({
      expression: `IF(${registered} > 0, 100 * ${silent} / ${registered}, 0)`,
      usingMetrics: { [silent]: this.metricAppliancesSilent({ ...options, period }), [registered]: this.metricAppliancesRegistered({ ...options, period }) },
      label: 'Silent appliances (%)',
      period,
    });
  }

  /** Distinct titles held by at least one appliance of the region. */
  metricTitlesHeld(options: MetricOptions = {}): Metric {
    return this.builder.publishedMetric(STEERING_METRICS.titlesHeld, { statistic: Stats.MAXIMUM, label: 'Titles held', ...options });
  }

  /** Failed builds: plays keep the last good snapshot meanwhile. */
  metricBuildFailures(options: MetricOptions = {}): Metric {
    return this.builder.publishedMetric(STEERING_METRICS.snapshotBuildFailures, { label: 'Snapshot build failures', ...options });
  }

  /** Lets a play function read the snapshot: its location in the environment, GetObject on that one key. */
  grantRead(fn: NearstreamFunction): void {
    fn.function.addEnvironment('STEERING_SNAPSHOT_BUCKET', this.bucket.bucketName);
    fn.function.addEnvironment('STEERING_SNAPSHOT_KEY', SNAPSHOT_KEY);
    fn.role.addToPrincipalPolicy(new PolicyStatement({ actions: ['s3:GetObject'], resources: this.objectArns() }));
    this.grantKey(fn, ['kms:Decrypt']);
  }

  /** The snapshot's two objects: its holdings and its health. */
  private objectArns(): string[] {
    return [this.bucket.arnForObjects(SNAPSHOT_KEY), this.bucket.arnForObjects(healthKeyOf(SNAPSHOT_KEY))];
  }

  /** The bucket key's actions, through S3 in this region only. */
  private grantKey(fn: NearstreamFunction, actions: string[]): void {
    fn.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions,
        resources: [this.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );
  }
}
