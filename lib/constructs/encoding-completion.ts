import * as path from 'node:path';
import { CfnResource, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, MathExpression, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { IBucket } from 'aws-cdk-lib/aws-s3';
import { ITopic } from 'aws-cdk-lib/aws-sns';
import {
  Choice,
  Condition,
  DefinitionBody,
  DistributedMap,
  Fail,
  ItemBatcher,
  JitterType,
  JsonPath,
  LogLevel,
  Map as MapState,
  S3ObjectsItemReader,
  StateMachine,
  StateMachineType,
  Succeed,
  TaskInput,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { TITLE_KEY_PREFIX } from '../../lambda/encoding/ladder';
import { itemKeys } from '../../lambda/shared/control-table';
import { RENDITION_INDEX_FILE } from '../../lambda/shared/rendition-index';
import { INVENTORY_NAME } from '../../lambda/shared/title-inventory';
import { nagPseudo } from '../compliance';
import { MediaBucketRef } from './encoding-ladder';
import { EncryptedLogGroup } from './encrypted-log-group';
import { NearstreamFunction, NearstreamFunctionProps } from './nearstream-function';

/**
 * Objects per child execution of the Distributed Map. The map returns one small entry per batch, so
 * its result stays far under Step Functions' 256 KiB payload limit however many objects a title has.
 */
const OBJECTS_PER_BATCH = 100;
/**
 * Batches in flight, and objects hashed at once within each: at most 50 hash invocations at a time,
 * which also keeps the writes to a title's one digest partition under DynamoDB's per-partition rate.
 */
const BATCHES_IN_FLIGHT = 10;
const HASHES_IN_FLIGHT_PER_BATCH = 5;

export interface EncodingCompletionProps {
  /** Folds one finished MediaConvert job into its title (`lambda/encoding/complete.ts`). */
  readonly completeFunction: NearstreamFunction;
  /** The origin the jobs wrote `titles/<id>/` into, where each inventory goes too. */
  readonly origin: MediaBucketRef;
  readonly controlTable: ITableV2;
  /** Told when a completion fails for good: its title stays `processing` until the execution is redriven. */
  readonly alarmTopic: ITopic;
  readonly functionDefaults: Pick<NearstreamFunctionProps, 'logRetentionDays' | 'logRemovalPolicy' | 'logEncryptionKey'>;
}

/**
 * From a finished MediaConvert job to an available title, as one state machine. Each job's COMPLETE
 * or ERROR event is folded into the catalog; after a title's last job, a Distributed Map lists
 * `titles/<id>/` and hashes every object in its own invocation of the hash function (streaming, a
 * bounded number at a time), then the publish function writes `titles/<id>/inventory.json` from
 * the digests and only then makes the title available. No invocation ever handles more than one
 * object's bytes, so no title is too large. Started with `{"titleId": "..."}` instead of an event,
 * it (re)builds that title's inventory: the way to give one to a title that predates inventories.
 */
export class EncodingCompletion extends Construct {
  readonly stateMachine: StateMachine;
  readonly hashFunction: NearstreamFunction;
  readonly publishFunction: NearstreamFunction;

  constructor(scope: Construct, id: string, props: EncodingCompletionProps) {
    super(scope, id);
    const { bucket, key, nagArn } = props.origin;
    const stack = Stack.of(this);
    const viaS3 = { StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` } };
    const lambdaRoot = path.join(__dirname, '..', '..', 'lambda', 'encoding');

    this.hashFunction = new NearstreamFunction(this, 'HashFunction', {
      ...props.functionDefaults,
      entry: path.join(lambdaRoot, 'hash-object.ts'),
      description: 'Encoding: SHA-256 of one encoded object, streamed, recorded for its title\'s inventory',
      serviceName: 'encoding-hash-object',
      // The most one object may take: Lambda's ceiling, several times what the ladder's largest segment needs.
      timeout: Duration.minutes(15),
      memorySizeMb: 1024,
      environment: { ORIGIN_BUCKET: bucket.bucketName },
    }).bindTable(props.controlTable, { envVar: 'CONTROL_TABLE_NAME', actions: ['dynamodb:PutItem'], leadingKeys: [`${itemKeys.objectDigest('', '').pk}*`] });
    this.hashFunction.role.addToPrincipalPolicy(new PolicyStatement({ actions: ['s3:GetObject'], resources: [bucket.arnForObjects(`${TITLE_KEY_PREFIX}*`)] }));
    this.hashFunction.role.addToPrincipalPolicy(new PolicyStatement({ actions: ['kms:Decrypt'], resources: [key.keyArn], conditions: viaS3 }));
    Validations.of(this.hashFunction.role).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::${nagArn}/${TITLE_KEY_PREFIX}*]`,
      reason: 'The hash function reads whichever encoded object the state machine hands it; every title lives under titles/<titleId>/ and it reads nothing else.',
    });

    this.publishFunction = new NearstreamFunction(this, 'PublishFunction', {
      ...props.functionDefaults,
      entry: path.join(lambdaRoot, 'publish-inventory.ts'),
      description: 'Encoding: write a title\'s inventory.json from its objects\' digests, then make the title available',
      serviceName: 'encoding-publish-inventory',
      timeout: Duration.minutes(5),
      memorySizeMb: 1024,
      environment: { ORIGIN_BUCKET: bucket.bucketName },
    })
      .bindTable(props.controlTable, { envVar: 'CONTROL_TABLE_NAME', actions: ['dynamodb:Query', 'dynamodb:PutItem'], leadingKeys: [`${itemKeys.objectDigest('', '').pk}*`] })
      .bindTable(props.controlTable, { envVar: 'CONTROL_TABLE_NAME', actions: ['dynamodb:GetItem', 'dynamodb:PutItem'], leadingKeys: [`${itemKeys.title('').pk}*`] });
    const publishRole = this.publishFunction.role;
    publishRole.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn], conditions: { StringLike: { 's3:prefix': [`${TITLE_KEY_PREFIX}*`] } } }),
    );
    publishRole.addToPrincipalPolicy(new PolicyStatement({ actions: ['s3:PutObject'], resources: [bucket.arnForObjects(`${TITLE_KEY_PREFIX}*/${INVENTORY_NAME}`)] }));
    publishRole.addToPrincipalPolicy(new PolicyStatement({ actions: ['kms:GenerateDataKey'], resources: [key.keyArn], conditions: viaS3 }));
    // Each codec's rendition objects (lambda/encoding/rendition-artifacts.ts), derived from its two manifests.
    const manifests = ['index.m3u8', 'index.mpd'].map((name) => `${TITLE_KEY_PREFIX}*/${name}`);
    const derived = [`${TITLE_KEY_PREFIX}*/${RENDITION_INDEX_FILE}`, `${TITLE_KEY_PREFIX}*/index.cap*.m3u8`, `${TITLE_KEY_PREFIX}*/index.cap*.mpd`];
    publishRole.addToPrincipalPolicy(new PolicyStatement({ actions: ['s3:GetObject'], resources: manifests.map((pattern) => bucket.arnForObjects(pattern)) }));
    publishRole.addToPrincipalPolicy(new PolicyStatement({ actions: ['s3:PutObject'], resources: derived.map((pattern) => bucket.arnForObjects(pattern)) }));
    publishRole.addToPrincipalPolicy(new PolicyStatement({ actions: ['kms:Decrypt'], resources: [key.keyArn], conditions: viaS3 }));
    Validations.of(publishRole).acknowledge(
      ...manifests.map((pattern) => ({
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::${nagArn}/${pattern}]`,
        reason: 'The publish function reads the multivariant manifests of whichever title finished, to derive its rendition index and capped manifests; no segment.',
      })),
      ...derived.map((pattern) => ({
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::${nagArn}/${pattern}]`,
        reason: 'The publish function writes, beside each manifest pair, the rendition index and the manifests cut per height, whose names no encoded object has; it can overwrite no encoded object.',
      })),
    );
    Validations.of(publishRole).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::${nagArn}/${TITLE_KEY_PREFIX}*/${INVENTORY_NAME}]`,
      reason: 'The publish function writes exactly one object per title, titles/<titleId>/inventory.json, for whichever title finished; it can write no encoded object.',
    });

    const foldJob = new LambdaInvoke(this, 'FoldJob', {
      lambdaFunction: props.completeFunction.handler,
      payloadResponseOnly: true,
      retryOnServiceExceptions: true,
    }).addRetry({ errors: ['States.ALL'], maxAttempts: 3, interval: Duration.seconds(10), backoffRate: 3 });

    const hashObject = new LambdaInvoke(this, 'HashObject', {
      lambdaFunction: this.hashFunction.handler,
      payloadResponseOnly: true,
      retryOnServiceExceptions: true,
    }).addRetry({ errors: ['States.ALL'], maxAttempts: 4, interval: Duration.seconds(5), backoffRate: 2, jitterStrategy: JitterType.FULL });
    const hashBatch = new MapState(this, 'HashBatch', {
      itemsPath: JsonPath.stringAt('$.Items'),
      maxConcurrency: HASHES_IN_FLIGHT_PER_BATCH,
      resultSelector: { hashed: JsonPath.arrayLength(JsonPath.listAt('$')) },
    }).itemProcessor(hashObject);
    const hashTitle = new DistributedMap(this, 'HashTitleObjects', {
      itemReader: new TitleObjectsReader(bucket),
      // Applied to each listed object before batching: every batch item is one hash function input.
      itemSelector: { titleId: JsonPath.stringAt('$.titleId'), key: JsonPath.stringAt('$$.Map.Item.Value.Key') },
      itemBatcher: new ItemBatcher({ maxItemsPerBatch: OBJECTS_PER_BATCH }),
      maxConcurrency: BATCHES_IN_FLIGHT,
      // Standard children: a batch's duration is bounded per object, by the hash function's timeout, not by Express's 5 minutes.
      mapExecutionType: StateMachineType.STANDARD,
      label: 'HashTitleObjects',
      resultPath: JsonPath.DISCARD,
    }).itemProcessor(hashBatch);
    const publish = new LambdaInvoke(this, 'PublishInventory', {
      lambdaFunction: this.publishFunction.handler,
      payload: TaskInput.fromObject({ titleId: JsonPath.stringAt('$.titleId') }),
      payloadResponseOnly: true,
      retryOnServiceExceptions: true,
    }).addRetry({ errors: ['States.ALL'], maxAttempts: 3, interval: Duration.seconds(10), backoffRate: 3 });
    const buildInventory = hashTitle.next(publish).next(new Succeed(this, 'TitleAvailable'));

    const logs = new EncryptedLogGroup(this, 'StateMachineLogs', {
      retentionDays: props.functionDefaults.logRetentionDays,
      encryptionKey: props.functionDefaults.logEncryptionKey,
      removalPolicy: props.functionDefaults.logRemovalPolicy,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      comment: 'Nearstream: a finished MediaConvert job into the catalog; after a title\'s last job, its inventory, then availability',
      definitionBody: DefinitionBody.fromChainable(
        new Choice(this, 'JobEventOrTitle?')
          .when(
            Condition.isPresent('$.detail'),
            foldJob.next(
              new Choice(this, 'InventoryDue?')
                .when(Condition.booleanEquals('$.inventoryDue', true), buildInventory)
                .otherwise(new Succeed(this, 'JobRecorded')),
            ),
          )
          .when(Condition.isPresent('$.titleId'), buildInventory)
          .otherwise(new Fail(this, 'UnknownInput', { error: 'UnknownInput', cause: 'Start with a MediaConvert job state change event or {"titleId": "<id>"}' })),
      ),
      timeout: Duration.hours(6),
      tracingEnabled: true,
      // Every object's hash is an event; its data stays in the execution history, not in the logs.
      logs: { destination: logs, level: LogLevel.ALL, includeExecutionData: false },
    });

    new Alarm(this, 'FailedAlarm', {
      alarmDescription:
        'A title could not complete (job fold, hashing or inventory); it stays processing. Inspect the failed execution of the completion state machine and redrive it.',
      metric: new MathExpression({
        expression: 'failed + timedOut',
        usingMetrics: {
          failed: this.stateMachine.metricFailed({ period: Duration.minutes(5) }),
          timedOut: this.stateMachine.metricTimedOut({ period: Duration.minutes(5) }),
        },
        period: Duration.minutes(5),
      }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    }).addAlarmAction(new SnsAction(props.alarmTopic));

    const logicalId = (fn: NearstreamFunction) => stack.resolve((fn.function.node.defaultChild as CfnResource).logicalId);
    Validations.of(this.stateMachine.role).acknowledge(
      ...[props.completeFunction, this.hashFunction, this.publishFunction].map((fn) => ({
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${logicalId(fn)}.Arn>:*]`,
        reason: 'Step Functions\' Lambda task grants invoke on the function and its versions (the :* ARN); it invokes nothing else.',
      })),
      {
        id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
        reason: 'X-Ray trace writes and CloudWatch Logs delivery setup for the state machine have no resource-level permissions.',
      },
    );
    // The Distributed Map runs its batches as executions of this same state machine.
    const machineId = stack.resolve((this.stateMachine.node.defaultChild as CfnResource).logicalId);
    const executions =
      `arn:${nagPseudo(stack.partition, 'AWS::Partition')}:states:${nagPseudo(stack.region, 'AWS::Region')}:${nagPseudo(stack.account, 'AWS::AccountId')}` +
      `:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${machineId}"}]}]}`;
    Validations.of(this.stateMachine.node.findChild('DistributedMapPolicy')).acknowledge(
      {
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::${executions}:*]`,
        reason: 'The Distributed Map describes and stops the child executions it starts, which are executions of this state machine only and named by Step Functions.',
      },
      {
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::${executions}/HashTitleObjects:*]`,
        reason: 'Redriving a failed inventory build redrives the HashTitleObjects map run\'s child executions of this state machine, whose names Step Functions chooses.',
      },
    );
  }
}

/**
 * Lists `titles/<titleId>/` of the execution's title for the Distributed Map, with the listing
 * grant narrowed to the `titles/` prefix (the stock reader grants listing the whole bucket).
 */
class TitleObjectsReader extends S3ObjectsItemReader {
  constructor(private readonly origin: IBucket) {
    super({ bucket: origin, prefix: JsonPath.format(`${TITLE_KEY_PREFIX}{}/`, JsonPath.stringAt('$.titleId')) });
  }

  override providePolicyStatements(): PolicyStatement[] {
    return [
      new PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [this.origin.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${TITLE_KEY_PREFIX}*`] } },
      }),
    ];
  }
}
