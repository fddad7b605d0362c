import * as path from 'node:path';
import { ArnFormat, CfnResource, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Schedule, ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { bootstrapRoles, DEFAULT_BOOTSTRAP_QUALIFIER } from '../../lambda/cleanup/bootstrap-roles';
import { nagPseudo } from '../compliance';
import { NEARSTREAM_LOG_GROUP_PATTERN, PROTECTED_LOG_GROUP_PATTERNS } from '../../lambda/cleanup/log-groups';
import { LogEncryptionKey } from './log-encryption-key';
import { NearstreamFunction } from './nearstream-function';
import { NotificationTopic } from './notification-topic';

export interface EnvironmentCleanupProps {
  /**
   * Every region the environments live in (primary and secondary). Each run lists all of them
   * before deleting anything, and each must be CDK-bootstrapped with `qualifier`.
   */
  readonly regions: readonly string[];
  /**
   * The CDK bootstrap qualifier of those regions: the cleanup acts through their bootstrap roles.
   * @default 'hnb659fds'
   */
  readonly qualifier?: string;
  /**
   * How often a run advances each expired environment by one layer of stacks; whole minutes. The
   * function is told it (it places the daily retry of failed deletions by it), and its timeout
   * follows it so that one run ends before the next begins.
   * @default Duration.minutes(15)
   */
  readonly runInterval?: Duration;
  /**
   * The key of the function's log group.
   * @default - a key of its own, for this region's log groups
   */
  readonly logEncryptionKey?: IKey;
  /**
   * How long the record of what was deleted is kept; the pipeline's account is production's.
   * @default RetentionDays.ONE_YEAR
   */
  readonly logRetention?: RetentionDays;
  /**
   * What happens to the log group and the keys when the hosting stack goes away.
   * @default RemovalPolicy.RETAIN: the record of what was deleted outlives the pipeline
   */
  readonly removalPolicy?: RemovalPolicy;
}

const REGION = /^[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d$/;
/** Lambda's longest timeout: a run waits for environments' last stacks until 3 minutes before it. */
const MAX_RUN_MINUTES = 15;
/** Listing two regions and a handful of DeleteStack calls, when the interval leaves no time to wait. */
const MIN_RUN_MINUTES = 2;

/**
 * The scheduled cleanup of expired ephemeral environments. EventBridge Scheduler runs a function
 * every `runInterval` that finds stacks tagged `nearstream:kind=ephemeral` whose
 * `nearstream:expires-at` has passed, in every region, and deletes each such environment one layer
 * per run in reverse dependency order, as `cdk destroy` would: through each region's CDK bootstrap
 * deploy role, with its CloudFormation execution role doing the deleting. The function deletes no
 * stack resource itself, so it can delete nothing the deploy roles could not. The one thing it
 * deletes with its own role is what no stack holds: once an environment's last stacks are gone,
 * the log groups Lambda created for CDK's providers (`/aws/lambda/nearstream-<env>-…`), and never
 * prod's, staging's or dev's, which its role denies. Its reports (stacks started, environments
 * deleted, deletions failed, stacks skipped for bad tags) and its own errors go to `topic`.
 */
export class EnvironmentCleanup extends Construct {
  readonly function: NearstreamFunction;
  /** Subscribe operators here: one message per run that started, removed, failed or skipped something. */
  readonly topic: Topic;
  readonly schedule: Schedule;
  /** Errors in two 15-minute periods in a row: one failed run is retried by the next, so alone it is noise. */
  readonly errorsAlarm: Alarm;

  constructor(scope: Construct, id: string, props: EnvironmentCleanupProps) {
    super(scope, id);
    const regions = checkedRegions(props.regions);
    const qualifier = props.qualifier ?? DEFAULT_BOOTSTRAP_QUALIFIER;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const runIntervalMinutes = checkedRunInterval(props.runInterval ?? Duration.minutes(15));
    const stack = Stack.of(this);
    const roles = regions.map((region) => bootstrapRoles(stack.account, region, qualifier, stack.partition));

    const reports = new NotificationTopic(this, 'Reports', {
      displayName: 'Nearstream cleanup of expired environments',
      publishers: ['cloudwatch-alarms'],
      removalPolicy,
    });
    this.topic = reports.topic;

    this.function = new NearstreamFunction(this, 'Function', {
      entry: path.join(__dirname, '..', '..', 'lambda', 'cleanup', 'handler.ts'),
      description: 'Deletes expired ephemeral environments, one layer of stacks per run, through the CDK bootstrap roles',
      serviceName: 'environment-cleanup',
      // Listing and DeleteStack take seconds; the rest is waiting for environments' last stacks to
      // go, until 3 minutes before the timeout. With a shorter interval than Lambda allows, one
      // run ends before the next begins.
      timeout: Duration.minutes(Math.max(MIN_RUN_MINUTES, Math.min(MAX_RUN_MINUTES, runIntervalMinutes))),
      memorySizeMb: 256,
      logRetentionDays: props.logRetention ?? RetentionDays.ONE_YEAR,
      logRemovalPolicy: removalPolicy,
      logEncryptionKey:
        props.logEncryptionKey ??
        new LogEncryptionKey(this, 'LogKey', { aliasName: 'alias/nearstream/environment-cleanup-logs', removalPolicy }).key,
      environment: {
        CLEANUP_REGIONS: regions.join(','),
        CDK_QUALIFIER: qualifier,
        NOTIFICATION_TOPIC_ARN: this.topic.topicArn,
        RUN_INTERVAL_MINUTES: String(runIntervalMinutes),
      },
    });
    this.function.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['sts:AssumeRole'], resources: roles.map((role) => role.deployRoleArn) }),
    );
    reports.grantPublish(this.function.role);
    this.grantProviderLogGroupCleanup(regions);

    const schedulerRole = new Role(this, 'SchedulerRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com'),
      description: 'EventBridge Scheduler invokes the cleanup of expired environments',
    });
    this.schedule = new Schedule(this, 'Schedule', {
      schedule: ScheduleExpression.rate(Duration.minutes(runIntervalMinutes)),
      // A run that could not start is worth retrying only until the next one is due.
      target: new LambdaInvoke(this.function.handler, { role: schedulerRole, retryAttempts: 2, maxEventAge: Duration.minutes(10) }),
      description: 'Advances the deletion of every expired ephemeral environment by one layer of stacks',
    });
    const functionId = stack.resolve((this.function.function.node.defaultChild as CfnResource).logicalId);
    Validations.of(schedulerRole).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${functionId}.Arn>:*]`,
      reason: 'LambdaInvoke grants invoking the cleanup function and its versions (ARN:*); it is the only function this role may invoke.',
    });

    this.errorsAlarm = new Alarm(this, 'ErrorsAlarm', {
      alarmDescription: 'The cleanup of expired environments failed for two 15-minute periods in a row: expired environments are not being deleted',
      metric: this.function.function.metricErrors({ period: Duration.minutes(15) }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.errorsAlarm.addAlarmAction(new SnsAction(this.topic));
  }

  /**
   * Lets the function list the log groups of `regions` and delete those of Nearstream functions,
   * as itself rather than a deploy role (no stack holds them), and denies deleting prod's,
   * staging's and dev's in any region, whatever the code decides.
   */
  private grantProviderLogGroupCleanup(regions: readonly string[]): void {
    const stack = Stack.of(this);
    const logGroupArn = (region: string, name: string) =>
      stack.formatArn({ service: 'logs', region, resource: 'log-group', resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const nagLogGroupArn = (region: string, name: string) =>
      `arn:${nagPseudo(stack.partition, 'AWS::Partition')}:logs:${region}:${nagPseudo(stack.account, 'AWS::AccountId')}:log-group:${name}`;
    const role = this.function.role;
    // The service authorization reference gives DescribeLogGroups no resource type; IAM checks it
    // against the region's `log-group::log-stream:`, which this pattern covers and no narrower does.
    role.addToPrincipalPolicy(new PolicyStatement({ actions: ['logs:DescribeLogGroups'], resources: regions.map((region) => logGroupArn(region, '*')) }));
    role.addToPrincipalPolicy(new PolicyStatement({ actions: ['logs:DeleteLogGroup'], resources: regions.map((region) => logGroupArn(region, NEARSTREAM_LOG_GROUP_PATTERN)) }));
    role.addToPrincipalPolicy(
      new PolicyStatement({ effect: Effect.DENY, actions: ['logs:DeleteLogGroup'], resources: PROTECTED_LOG_GROUP_PATTERNS.map((pattern) => logGroupArn('*', pattern)) }),
    );
    for (const region of regions) {
      Validations.of(role).acknowledge(
        {
          id: `AwsSolutions::AwsSolutions-IAM5[Resource::${nagLogGroupArn(region, '*')}]`,
          reason: `logs:DescribeLogGroups only: it has no resource type, and IAM authorizes it against ${region}'s log-group::log-stream:, which only log-group:* covers; the names it lists are read, nothing more.`,
        },
        {
          id: `AwsSolutions::AwsSolutions-IAM5[Resource::${nagLogGroupArn(region, NEARSTREAM_LOG_GROUP_PATTERN)}]`,
          reason: `logs:DeleteLogGroup on Nearstream functions' groups in ${region}: the providers' groups have generated names, and prod's, staging's and dev's are denied by the statement after it.`,
        },
      );
    }
  }
}

/** The interval in whole minutes, as `rate()` takes it. */
function checkedRunInterval(interval: Duration): number {
  const minutes = interval.toMinutes({ integral: false });
  if (!Number.isInteger(minutes) || minutes < 1) {
    throw new Error(`EnvironmentCleanup runInterval must be a whole number of minutes, at least 1 (got ${interval.toHumanString()})`);
  }
  return minutes;
}

/** The regions, each once, as literal names: the function's policy and environment are built from them. */
function checkedRegions(regions: readonly string[]): readonly string[] {
  if (regions.length === 0) {
    throw new Error('EnvironmentCleanup regions must name at least one region, like [\'us-east-1\', \'us-west-2\']');
  }
  for (const region of regions) {
    if (Token.isUnresolved(region) || !REGION.test(region)) {
      throw new Error(`EnvironmentCleanup regions: '${region}' must be a literal region name like us-east-1 (the deploy role names are built from it)`);
    }
  }
  const repeated = regions.filter((region, index) => regions.indexOf(region) !== index);
  if (repeated.length > 0) {
    throw new Error(`EnvironmentCleanup regions name ${repeated.join(', ')} more than once`);
  }
  return regions;
}
