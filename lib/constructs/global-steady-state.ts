import * as path from 'node:path';
import { CfnResource, Duration, Stack, Validations } from 'aws-cdk-lib';
import { AnomalyDetectionAlarm, ComparisonOperator, Metric, Stats, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { ContextAttribute, Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { ITopic } from 'aws-cdk-lib/aws-sns';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { STEADY_STATE_METRICS } from '../../lambda/shared/metric-names';
import type { AlarmSettings } from '../config/alarm-settings';
import { scheduleDeadLetters } from './schedule-dead-letters';
import { METRICS_NAMESPACE, MetricOptions, NearstreamFunction, NearstreamFunctionProps } from './nearstream-function';

export interface GlobalSteadyStateProps {
  /** `nearstream-<env>-<region>`: the alarm's name prefix. */
  readonly name: string;
  /** The other active region, whose stream starts are summed with this region's every minute. */
  readonly peerRegion: string;
  /** The `service` the telemetry function publishes stream starts under, in both regions. */
  readonly telemetryService: string;
  /** The SPS band's width and evaluation, as for the region's own SPS alarm. */
  readonly thresholds: Pick<AlarmSettings, 'spsBandStandardDeviations' | 'spsDatapointsToAlarm' | 'spsEvaluationMinutes'>;
  readonly alarmTopic: ITopic;
  readonly functionDefaults: Pick<NearstreamFunctionProps, 'logRetentionDays' | 'logRemovalPolicy' | 'logEncryptionKey'>;
}

/**
 * The platform's steady state as one alarm in this region: a function sums both regions' stream
 * starts every minute and publishes the sum here (an alarm watches only its own region's metrics),
 * reading both regions alike so that neither half lags. A region evacuation stops on it: the
 * evacuated region's own SPS falls to zero by design, and what must hold is the sum, once players
 * have moved.
 */
export class GlobalSteadyState extends Construct {
  readonly publisher: NearstreamFunction;
  readonly schedule: Schedule;
  /** Runs the scheduler could not start. */
  readonly deadLetters: Queue;
  /** Stream starts of both regions fell below their band. */
  readonly alarm: AnomalyDetectionAlarm;

  constructor(scope: Construct, id: string, props: GlobalSteadyStateProps) {
    super(scope, id);
    this.publisher = new NearstreamFunction(this, 'GlobalStarts', {
      ...props.functionDefaults,
      entry: path.join(__dirname, '..', '..', 'lambda', 'steady-state', 'handler.ts'),
      description: `Sums this region's and ${props.peerRegion}'s stream starts every minute, for the global steady-state alarm`,
      serviceName: 'steady-state',
      timeout: Duration.seconds(30),
      environment: { METRICS_NAMESPACE, PEER_REGION: props.peerRegion, TELEMETRY_SERVICE: props.telemetryService },
    });
    // Neither action has resource-level permissions; the function may publish only in Nearstream's namespace.
    this.publisher.role.addToPrincipalPolicy(new PolicyStatement({ actions: ['cloudwatch:GetMetricData'], resources: ['*'] }));
    this.publisher.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['cloudwatch:PutMetricData'], resources: ['*'], conditions: { StringEquals: { 'cloudwatch:namespace': METRICS_NAMESPACE } } }),
    );
    Validations.of(this.publisher.role).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason: 'GetMetricData and PutMetricData have no resource-level permissions; PutMetricData is held to the Nearstream namespace by condition.',
    });

    const schedulerRole = new Role(this, 'SchedulerRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com'),
      description: 'EventBridge Scheduler runs the global stream-start sum every minute',
    });
    this.deadLetters = scheduleDeadLetters(this, 'DeadLetters', 'the global stream-start sum');
    this.schedule = new Schedule(this, 'EveryMinute', {
      schedule: ScheduleExpression.rate(Duration.minutes(1)),
      // Each run publishes the minute of its scheduled time; a repeat publishes the same value again,
      // which the alarm's Maximum counts once.
      target: new LambdaInvoke(this.publisher.handler, {
        role: schedulerRole,
        retryAttempts: 2,
        deadLetterQueue: this.deadLetters,
        input: ScheduleTargetInput.fromObject({ scheduledTime: ContextAttribute.scheduledTime }),
      }),
      description: 'Publishes both regions\' stream starts of the minute that ended two minutes before the scheduled time, stamped at the minute just ended',
    });
    const functionId = Stack.of(this).resolve((this.publisher.function.node.defaultChild as CfnResource).logicalId);
    Validations.of(schedulerRole).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${functionId}.Arn>:*]`,
      reason: 'LambdaInvoke grants invoking the publishing function and its versions (ARN:*); it is the only function this role may invoke.',
    });

    const t = props.thresholds;
    this.alarm = new AnomalyDetectionAlarm(this, 'Alarm', {
      alarmName: `${props.name}-GlobalSteadyState`,
      metric: this.metricGlobalStreamStarts(),
      stdDevs: t.spsBandStandardDeviations,
      comparisonOperator: ComparisonOperator.LESS_THAN_LOWER_THRESHOLD,
      evaluationPeriods: t.spsEvaluationMinutes,
      datapointsToAlarm: t.spsDatapointsToAlarm,
      // A minute without its sum means the sum stopped: that breaches, so an evacuation without its
      // steady state stops rather than running blind.
      treatMissingData: TreatMissingData.BREACHING,
      alarmDescription:
        `Stream starts of both regions together fell below the band CloudWatch learned from their history (${t.spsBandStandardDeviations} standard deviations) in ${t.spsDatapointsToAlarm} of ${t.spsEvaluationMinutes} minutes: viewers cannot start playing anywhere. ` +
        `Runbook: if a region evacuation is running, it stopped on this alarm: the other region did not take the players. Check that region's SPS and play failures, and whether the sum of both regions' starts is being published (its function and its schedule's dead-letter queue).`,
    });
    this.alarm.addAlarmAction(new SnsAction(props.alarmTopic));
    this.alarm.addOkAction(new SnsAction(props.alarmTopic));
  }

  /** Stream starts of both regions per minute, as summed here (`Maximum`: a minute published twice counts once). */
  metricGlobalStreamStarts(options: MetricOptions = {}): Metric {
    return this.publisher.publishedMetric(STEADY_STATE_METRICS.globalStreamStarts, { statistic: Stats.MAXIMUM, label: 'Stream starts per minute, both regions', ...options });
  }
}
