import * as path from 'node:path';
import { contentKeyItemKeys } from '../../lambda/keys/content-key-store';
import { CfnResource, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Metric, Stats } from 'aws-cdk-lib/aws-cloudwatch';
import { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Match, Rule } from 'aws-cdk-lib/aws-events';
import { SfnStateMachine } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption, RedrivePermission } from 'aws-cdk-lib/aws-sqs';
import { Choice, Condition, DefinitionBody, Fail, LogLevel, StateMachine, Succeed } from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { EncodingSettings } from '../config/environment';
import { EncodingCompletion } from './encoding-completion';
import { EncryptedLogGroup } from './encrypted-log-group';
import { EncodingLadder, MediaBucketRef } from './encoding-ladder';
import { NearstreamFunction, NearstreamFunctionProps } from './nearstream-function';
import { NotificationTopic } from './notification-topic';

/** Upload suffixes that start an encode, matched in any case. */
export const VIDEO_SUFFIXES = ['.mp4', '.mov', '.m4v', '.mxf', '.mkv', '.webm', '.avi', '.ts', '.mpg', '.mpeg'];

export interface EncodingWorkflowProps {
  /** The environment's name: MediaConvert events are matched by it. */
  readonly environmentName: string;
  readonly ladder: EncodingLadder;
  readonly source: MediaBucketRef;
  readonly origin: MediaBucketRef;
  readonly controlTable: ITableV2;
  readonly settings: EncodingSettings;
  /**
   * Content protection: the key provider protected titles are encrypted with, whether titles are
   * protected unless their upload says otherwise, and the content keys' KMS alias (the completion
   * step lists a title's key ids; it opens no key).
   */
  readonly protection: { readonly keyProviderUrl: string; readonly byDefault: boolean };
  readonly functionDefaults: Pick<NearstreamFunctionProps, 'logRetentionDays' | 'logRemovalPolicy' | 'logEncryptionKey'>;
}

const LAMBDA_ROOT = path.join(__dirname, '..', '..', 'lambda', 'encoding');

/**
 * From upload to catalog. An S3 "Object Created" event for a video starts a state machine that
 * ingests the upload (refusing what is too large or not a video, submitting MediaConvert jobs,
 * with retries) and fails the title with a notification when it cannot; MediaConvert's job state
 * changes then start the completion state machine (`EncodingCompletion`), which fails the title or
 * folds the job into it and, after its last job, writes its inventory before making it available.
 * Events that cannot be delivered land in a dead-letter queue, which the region's monitoring
 * alarms on (`RegionMonitoring`).
 */
export class EncodingWorkflow extends Construct {
  readonly stateMachine: StateMachine;
  readonly completion: EncodingCompletion;
  readonly failureTopic: Topic;
  readonly deadLetters: Queue;
  private readonly ownFunctions: readonly NearstreamFunction[];

  constructor(scope: Construct, id: string, props: EncodingWorkflowProps) {
    super(scope, id);
    const { functionDefaults } = props;

    const failureNotifications = new NotificationTopic(this, 'FailureTopic', {
      displayName: 'Nearstream titles that failed to encode',
      publishers: ['cloudwatch-alarms'],
      removalPolicy: functionDefaults.logRemovalPolicy,
    });
    this.failureTopic = failureNotifications.topic;
    this.deadLetters = new Queue(this, 'DeadLetters', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      redriveAllowPolicy: { redrivePermission: RedrivePermission.ALLOW_ALL },
    });
    Validations.of(this.deadLetters).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the encoding event rules; it alarms when anything lands in it.',
    });

    const tableAccess = { envVar: 'CONTROL_TABLE_NAME', actions: ['dynamodb:GetItem', 'dynamodb:PutItem'] };
    const ingest = new NearstreamFunction(this, 'IngestFunction', {
      ...functionDefaults,
      entry: path.join(LAMBDA_ROOT, 'ingest.ts'),
      description: 'Encoding: refuse oversized or non-video uploads, create the title, submit MediaConvert jobs',
      serviceName: 'encoding-ingest',
      timeout: Duration.minutes(1),
      environment: {
        NEARSTREAM_ENVIRONMENT: props.environmentName,
        ORIGIN_BUCKET: props.origin.bucket.bucketName,
        MEDIACONVERT_ROLE_ARN: props.ladder.serviceRole.roleArn,
        JOB_TEMPLATES_JSON: JSON.stringify(props.ladder.templateNames),
        MAX_UPLOAD_BYTES: String(props.settings.maxUploadBytes),
        DEFAULT_LADDER: props.settings.defaultLadder,
        KEY_PROVIDER_URL: props.protection.keyProviderUrl,
        // Signalled in every protected title's manifests; commercial systems need their provider's signalling.
        DRM_SYSTEMS: 'clearkey',
        PROTECTION_BY_DEFAULT: props.protection.byDefault ? 'on' : 'off',
      },
    }).bindTable(props.controlTable, tableAccess);
    props.ladder.grantSubmitJob(ingest.role);
    // The source bucket is versioned, so upload events name a version, and reading a named version
    // is GetObjectVersion. Listing lets S3 answer a missing key 404 rather than 403, which is how
    // ingest learns that a key arrived URL-encoded and must be read decoded.
    ingest.role.addToPolicy(
      new PolicyStatement({ actions: ['s3:GetObject', 's3:GetObjectVersion'], resources: [props.source.bucket.arnForObjects('*')] }),
    );
    ingest.role.addToPolicy(new PolicyStatement({ actions: ['s3:ListBucket'], resources: [props.source.bucket.bucketArn] }));
    props.source.key.grantDecrypt(ingest.role);
    Validations.of(ingest.role).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::${props.source.nagArn}/*]`,
      reason: 'Ingest reads the metadata of whichever upload arrived; every object of the source bucket is an upload.',
    });

    const reject = new NearstreamFunction(this, 'RejectFunction', {
      ...functionDefaults,
      entry: path.join(LAMBDA_ROOT, 'reject.ts'),
      description: 'Encoding: fail a title that cannot be encoded and notify operators',
      serviceName: 'encoding-reject',
      environment: { FAILURE_TOPIC_ARN: this.failureTopic.topicArn },
    }).bindTable(props.controlTable, tableAccess);
    failureNotifications.grantPublish(reject.role);

    const complete = new NearstreamFunction(this, 'CompleteFunction', {
      ...functionDefaults,
      entry: path.join(LAMBDA_ROOT, 'complete.ts'),
      description: 'Encoding: fold finished MediaConvert jobs into the catalog, or fail the title',
      serviceName: 'encoding-complete',
      timeout: Duration.minutes(2),
      environment: {
        FAILURE_TOPIC_ARN: this.failureTopic.topicArn,
        ENCODING_RATES_JSON: JSON.stringify(props.settings.ratesUsdPerMinute),
      },
    })
      .bindTable(props.controlTable, tableAccess)
      // The key ids of a protected title, which the catalog lists: never the keys (no KMS access).
      .bindTable(props.controlTable, { envVar: 'CONTROL_TABLE_NAME', actions: ['dynamodb:Query'], leadingKeys: [`${contentKeyItemKeys.contentKey('', '').pk}*`] });
    failureNotifications.grantPublish(complete.role);
    this.ownFunctions = [ingest, reject, complete];
    complete.role.addToPolicy(
      new PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [props.origin.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': ['titles/*'] } },
      }),
    );
    this.completion = new EncodingCompletion(this, 'Completion', {
      completeFunction: complete,
      origin: props.origin,
      controlTable: props.controlTable,
      alarmTopic: this.failureTopic,
      functionDefaults,
    });

    const rejectUpload = new LambdaInvoke(this, 'RejectUpload', { lambdaFunction: reject.handler, payloadResponseOnly: true }).next(
      new Fail(this, 'UploadRejected', { comment: 'The title failed; the reason is in the catalog and on the failure topic' }),
    );
    const ingestUpload = new LambdaInvoke(this, 'IngestUpload', { lambdaFunction: ingest.handler, payloadResponseOnly: true, retryOnServiceExceptions: true })
      .addRetry({ errors: ['States.ALL'], maxAttempts: 3, interval: Duration.seconds(10), backoffRate: 3 })
      .addCatch(rejectUpload, { errors: ['States.ALL'], resultPath: '$.error' });
    const logs = new EncryptedLogGroup(this, 'StateMachineLogs', {
      retentionDays: functionDefaults.logRetentionDays,
      encryptionKey: functionDefaults.logEncryptionKey,
      removalPolicy: functionDefaults.logRemovalPolicy,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      comment: 'Nearstream: one upload to submitted MediaConvert jobs, or to a failed title',
      definitionBody: DefinitionBody.fromChainable(
        ingestUpload.next(
          new Choice(this, 'Rejected?')
            .when(Condition.stringEquals('$.outcome', 'rejected'), rejectUpload)
            .otherwise(new Succeed(this, 'JobsSubmitted')),
        ),
      ),
      timeout: Duration.minutes(30),
      tracingEnabled: true,
      logs: { destination: logs, level: LogLevel.ALL, includeExecutionData: true },
    });
    const stack = Stack.of(this);
    const logicalId = (fn: NearstreamFunction) => stack.resolve((fn.function.node.defaultChild as CfnResource).logicalId);
    Validations.of(this.stateMachine.role).acknowledge(
      ...[ingest, reject].map((fn) => ({
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${logicalId(fn)}.Arn>:*]`,
        reason: 'Step Functions\' Lambda task grants invoke on the function and its versions (the :* ARN); it invokes nothing else.',
      })),
      {
        id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
        reason: 'X-Ray trace writes and CloudWatch Logs delivery setup for the state machine have no resource-level permissions.',
      },
    );

    new Rule(this, 'UploadRule', {
      description: 'A video landed in the source bucket: encode it',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [props.source.bucket.bucketName] },
          object: { key: VIDEO_SUFFIXES.flatMap((suffix) => Match.suffixEqualsIgnoreCase(suffix)) },
        },
      },
      targets: [
        new SfnStateMachine(this.stateMachine, { deadLetterQueue: this.deadLetters, retryAttempts: 8, maxEventAge: Duration.hours(24) }),
      ],
    });
    new Rule(this, 'JobStateRule', {
      description: 'A MediaConvert job of this environment finished: complete its title',
      eventPattern: {
        source: ['aws.mediaconvert'],
        detailType: ['MediaConvert Job State Change'],
        detail: { status: ['COMPLETE', 'ERROR'], userMetadata: { nearstreamEnvironment: [props.environmentName] } },
      },
      targets: [
        new SfnStateMachine(this.completion.stateMachine, { deadLetterQueue: this.deadLetters, retryAttempts: 8, maxEventAge: Duration.hours(24) }),
      ],
    });
  }

  /** MediaConvert jobs completed in this region's default queue (every Nearstream job runs there). */
  metricJobsCompleted(): Metric {
    return this.mediaConvertMetric('JobsCompletedCount', 'Encoding jobs completed');
  }

  /** MediaConvert jobs that ended in error: their titles fail. */
  metricJobsErrored(): Metric {
    return this.mediaConvertMetric('JobsErroredCount', 'Encoding jobs errored');
  }

  /** The workflow's functions, for their error and throttle alarms. */
  get functions(): readonly NearstreamFunction[] {
    return [...this.ownFunctions, this.completion.hashFunction, this.completion.publishFunction];
  }

  private mediaConvertMetric(metricName: string, label: string): Metric {
    const { region, account } = Stack.of(this);
    return new Metric({
      namespace: 'AWS/MediaConvert',
      metricName,
      dimensionsMap: { Queue: `arn:aws:mediaconvert:${region}:${account}:queues/Default` },
      statistic: Stats.SUM,
      period: Duration.minutes(5),
      label,
    });
  }
}
