import * as path from 'node:path';
import { CfnResource, Duration, Stack, Validations } from 'aws-cdk-lib';
import { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Schedule, ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { CONTROL_TABLE_SCHEMA, itemKeys } from '../../lambda/shared/control-table';
import { PLANNING_METRICS } from '../../lambda/shared/metric-names';
import { inventoryKey } from '../../lambda/shared/title-inventory';
import { MediaBucketRef } from './encoding-ladder';
import { NearstreamFunction, NearstreamFunctionProps } from './nearstream-function';
import { scheduleDeadLetters } from './schedule-dead-letters';

export interface FillPlanningProps {
  readonly controlTable: ITableV2;
  /** This region's origin: title inventories are read from it and manifests written under `manifests/`. */
  readonly origin: MediaBucketRef;
  /** Signs the manifests (the key ring appliances verify them with). */
  readonly urlSigningSecret: ISecret;
  /** The UTC hour the run starts; appliances' fill windows should open after it. */
  readonly runHourUtc: number;
  readonly functionDefaults: Pick<NearstreamFunctionProps, 'logRetentionDays' | 'logRemovalPolicy' | 'logEncryptionKey'>;
}

/**
 * The nightly fill plan of one region: a function EventBridge Scheduler invokes daily before the
 * fill windows. It reads the fleet, catalog and demand from the control table and titles'
 * inventories (`titles/<id>/inventory.json`, written by the encoding workflow) from the origin,
 * writes each cluster's signed manifest under `manifests/<cluster>/` and announces it in the table,
 * and may do nothing else: it cannot read an encoded object, so it can never hash one.
 */
export class FillPlanning extends Construct {
  readonly function: NearstreamFunction;
  readonly schedule: Schedule;
  /** Nightly invocations the scheduler could not deliver. */
  readonly deadLetters: Queue;

  constructor(scope: Construct, id: string, props: FillPlanningProps) {
    super(scope, id);
    const { bucket, key, nagArn } = props.origin;
    this.function = new NearstreamFunction(this, 'Function', {
      ...props.functionDefaults,
      entry: path.join(__dirname, '..', '..', 'lambda', 'planning', 'handler.ts'),
      description: 'Nightly fill plan: signed manifests per cluster from demand, catalog and fleet',
      serviceName: 'fill-planning',
      timeout: Duration.minutes(15),
      memorySizeMb: 1024,
      environment: { ORIGIN_BUCKET: bucket.bucketName },
    })
      .bindTable(props.controlTable, {
        envVar: 'CONTROL_TABLE_NAME',
        actions: ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:BatchGetItem'],
        indexes: [CONTROL_TABLE_SCHEMA.index.name],
      })
      // It writes manifest pointers (`cluster#<id>`) and placements (`placement#<id>`), nothing else in the table.
      .bindTable(props.controlTable, {
        envVar: 'CONTROL_TABLE_NAME',
        actions: ['dynamodb:PutItem'],
        leadingKeys: [`${itemKeys.clusterManifest('').pk}*`, `${itemKeys.appliancePlacement('', 0, 0).pk}*`],
      })
      .bindSecret(props.urlSigningSecret, 'URL_SIGNING_SECRET_NAME');

    const role = this.function.role;
    const inventories = inventoryKey('*');
    role.addToPrincipalPolicy(new PolicyStatement({ actions: ['s3:GetObject'], resources: [bucket.arnForObjects(inventories)] }));
    // It writes each cluster's manifest and reads the current one back, to know what the cluster holds.
    role.addToPrincipalPolicy(new PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject'], resources: [bucket.arnForObjects('manifests/*')] }));
    role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );
    Validations.of(this.function).acknowledge(
      {
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::${nagArn}/${inventories}]`,
        reason: 'The planner reads the inventory of any title it may place (titles/<id>/inventory.json) and no other object under titles/: one object per title is the narrowest grant.',
      },
      {
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::${nagArn}/manifests/*]`,
        reason: 'The planner writes every cluster\'s signed manifest of its region under manifests/<clusterId>/, and reads the current one back; the prefix is the job.',
      },
    );

    const schedulerRole = new Role(this, 'SchedulerRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com'),
      description: 'EventBridge Scheduler invokes the nightly fill plan',
    });
    this.deadLetters = scheduleDeadLetters(this, 'DeadLetters', 'the nightly fill planning schedule');
    this.schedule = new Schedule(this, 'Nightly', {
      schedule: ScheduleExpression.cron({ minute: '0', hour: String(props.runHourUtc) }),
      target: new LambdaInvoke(this.function.handler, { role: schedulerRole, retryAttempts: 2, deadLetterQueue: this.deadLetters }),
      description: 'Plans tonight\'s fills before the appliances\' fill windows open',
    });
    const functionId = Stack.of(this).resolve((this.function.function.node.defaultChild as CfnResource).logicalId);
    Validations.of(schedulerRole).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${functionId}.Arn>:*]`,
      reason: 'LambdaInvoke grants invoking the planning function and its versions (ARN:*); it is the only function this role may invoke.',
    });
  }

  /** Clusters whose manifest a run announced, per hour (a run takes minutes, once a night). */
  metricClustersPlanned(): Metric {
    return this.function.publishedMetric(PLANNING_METRICS.clustersPlanned, { label: 'Clusters planned', period: Duration.hours(1) });
  }
}
