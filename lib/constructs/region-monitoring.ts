import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Dashboard, MathExpression, Metric, Stats, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { Table } from 'aws-cdk-lib/aws-dynamodb';
import { ITopic } from 'aws-cdk-lib/aws-sns';
import { IQueue } from 'aws-cdk-lib/aws-sqs';
import {
  AlarmWithAnnotation,
  DashboardRenderingPreference,
  DefaultDashboardFactory,
  LatencyType,
  MonitoringFacade,
  SnsAlarmActionStrategy,
} from 'cdk-monitoring-constructs';
import { Construct } from 'constructs';
import { API_ROUTES } from '../../lambda/shared/api-routes';
import { FLEET_METRICS } from '../../lambda/shared/metric-names';
import { AlarmSettings } from '../config/alarm-settings';
import { EncodingWorkflow } from './encoding-workflow';
import { FillPlanning } from './fill-planning';
import { NearstreamFunction } from './nearstream-function';
import { PlaybackApi } from './playback-api';
import { RegionalApi } from './regional-api';
import { SteeringSnapshots } from './steering-snapshots';

export interface RegionMonitoringProps {
  /** `<prefix>-<region>`: the dashboard's name and every alarm's prefix (both unique per account). */
  readonly name: string;
  /** The region replicating the control table to and from this one. */
  readonly otherRegion: string;
  readonly alarmTopic: ITopic;
  readonly thresholds: AlarmSettings;
  readonly api: RegionalApi;
  readonly playback: PlaybackApi;
  readonly steering: SteeringSnapshots;
  readonly fillPlanning: FillPlanning;
  /** Every function of the region's control plane; errors and throttles alarm per function. */
  readonly functions: readonly NearstreamFunction[];
  readonly controlTableName: string;
  /** The encoding workflow, monitored from the region that runs it. @default - the region runs no encoding */
  readonly encoding?: EncodingWorkflow;
}

/**
 * One region seen whole and alarmed, built on cdk-monitoring-constructs: a dashboard (SPS and play
 * failures first, then the API per route, every function, the control table and its replication,
 * steering and the fleet, nightly planning, encoding) and alarms routed to the region's alarm topic,
 * each saying in its description what it means and what to do. Thresholds come from the
 * environment kind (`AlarmSettings`); the SPS alarm is the steady state chaos experiments stop on.
 */
export class RegionMonitoring extends Construct {
  readonly facade: MonitoringFacade;
  readonly dashboard: Dashboard;
  /** The dashboard's name, known at synth (the dashboard's own attribute is a deploy-time token). */
  readonly dashboardName: string;
  /** Stream starts below their learned band: the stop condition of this region's chaos experiments. */
  readonly spsAlarm: Alarm;
  readonly playFailureRateAlarm: Alarm;

  constructor(scope: Construct, id: string, props: RegionMonitoringProps) {
    super(scope, id);
    const { thresholds: t, playback, steering, fillPlanning } = props;
    const dashboards = new DefaultDashboardFactory(this, 'Dashboards', {
      dashboardNamePrefix: props.name,
      createDashboard: true,
      createSummaryDashboard: false,
      createAlarmDashboard: false,
      renderingPreference: DashboardRenderingPreference.INTERACTIVE_ONLY,
    });
    this.facade = new MonitoringFacade(this, 'Facade', {
      alarmFactoryDefaults: {
        alarmNamePrefix: props.name,
        actionsEnabled: true,
        action: new SnsAlarmActionStrategy({ onAlarmTopic: props.alarmTopic, onOkTopic: props.alarmTopic }),
        datapointsToAlarm: 1,
      },
      metricFactoryDefaults: {},
      dashboardFactory: dashboards,
    });
    this.dashboard = dashboards.dashboard!;
    this.dashboardName = props.name;
    const facade = this.facade;

    facade.addLargeHeader(`${props.name}: steady state`);
    const sps = new MathExpression({
      // No starts reported in a minute is zero starts, not missing data: an outage must breach.
      expression: 'FILL(starts, 0)',
      usingMetrics: { starts: playback.metricStreamStarts({ period: Duration.minutes(1) }) },
      label: 'Stream starts per minute',
      period: Duration.minutes(1),
    });
    facade.monitorCustom({
      alarmFriendlyName: 'SteadyState',
      humanReadableName: 'Stream starts (SPS x 60) and play failures',
      metricGroups: [
        {
          title: 'Stream starts per minute, with the band the SPS alarm learned',
          important: true,
          metrics: [
            {
              metric: sps,
              alarmFriendlyName: 'Sps',
              anomalyDetectionStandardDeviationToRender: t.spsBandStandardDeviations,
              addAlarmOnAnomaly: {
                SteadyState: {
                  standardDeviationForAlarm: t.spsBandStandardDeviations,
                  alarmWhenBelowTheBand: true,
                  alarmWhenAboveTheBand: false,
                  datapointsToAlarm: t.spsDatapointsToAlarm,
                  evaluationPeriods: t.spsEvaluationMinutes,
                  treatMissingDataOverride: t.spsMissingDataBreaches ? TreatMissingData.BREACHING : TreatMissingData.NOT_BREACHING,
                  alarmDescriptionOverride: runbook(
                    `Stream starts in ${props.name} fell below the band CloudWatch learned from their own history (${t.spsBandStandardDeviations} standard deviations) in ${t.spsDatapointsToAlarm} of ${t.spsEvaluationMinutes} minutes: viewers cannot start playing.`,
                    'Check this region\'s play failure rate and 5xx alarms and the play function\'s errors; if the region is unhealthy, confirm Route 53 moved players to the other region (its SPS should rise).',
                  ),
                },
              },
            },
          ],
        },
        {
          title: 'Play outcomes',
          metrics: [playback.metricPlaysAuthorized(), playback.metricPlaysRefused(), playback.metricPlayFailures(), playback.metricRebuffers(), playback.metricSteeringDegraded()],
        },
        {
          title: 'Play failure rate (%)',
          metrics: [
            {
              metric: playback.metricPlayFailureRatePercent(t.playFailureMinimumPlays),
              alarmFriendlyName: 'PlayFailureRate',
              addAlarm: {
                PlayFailures: {
                  threshold: t.playFailureRatePercent,
                  comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
                  datapointsToAlarm: 2,
                  evaluationPeriods: 3,
                  treatMissingDataOverride: TreatMissingData.NOT_BREACHING,
                  alarmDescriptionOverride: runbook(
                    `More than ${t.playFailureRatePercent}% of plays in ${props.name} failed fatally in 2 of 3 five-minute periods (at least ${t.playFailureMinimumPlays} plays each).`,
                    'Look at the players\' error codes in the telemetry function\'s logs; a failing origin or appliance tier shows as segment errors, a control-plane fault as play 5xx.',
                  ),
                },
              },
            },
          ],
        },
      ],
    });

    facade.addLargeHeader('API, per route');
    facade.monitorApiGatewayV2HttpApi({
      api: props.api.httpApi,
      apiStage: props.api.stage.stageName,
      humanReadableName: 'All routes',
      alarmFriendlyName: 'Api',
      latencyTypesToRender: [LatencyType.P50, LatencyType.P99],
    });
    for (const route of API_ROUTES) {
      facade.monitorApiGatewayV2HttpApi({
        api: props.api.httpApi,
        apiStage: props.api.stage.stageName,
        apiMethod: route.method,
        apiResource: route.path,
        humanReadableName: `${route.method} ${route.path}`,
        alarmFriendlyName: `Api${route.method}${route.path.replace(/[^A-Za-z0-9]/g, '')}`,
        latencyTypesToRender: [LatencyType.P50, LatencyType.P99],
      });
    }

    facade.addLargeHeader('Functions');
    for (const fn of props.functions) {
      this.monitorFunction(fn, t);
    }

    facade.addLargeHeader('Control table');
    facade.monitorDynamoTable({
      table: Table.fromTableName(this, 'ControlTable', props.controlTableName),
      alarmFriendlyName: 'ControlTable',
      addReadThrottledEventsCountAlarm: {
        Throttled: {
          maxThrottledEventsThreshold: t.tableThrottledRequestsPer5Minutes,
          period: Duration.minutes(5),
          alarmDescriptionOverride: runbook(
            `The control table in ${props.name} throttled more than ${t.tableThrottledRequestsPer5Minutes} read events in 5 minutes.`,
            'The table is on demand: look for one hot partition key in CloudWatch Contributor Insights, or a burst above the account\'s table quota.',
          ),
        },
      },
      addWriteThrottledEventsCountAlarm: {
        Throttled: {
          maxThrottledEventsThreshold: t.tableThrottledRequestsPer5Minutes,
          period: Duration.minutes(5),
          alarmDescriptionOverride: runbook(
            `The control table in ${props.name} throttled more than ${t.tableThrottledRequestsPer5Minutes} write events in 5 minutes.`,
            'Look for one hot partition key in Contributor Insights (telemetry demand counters, a health shard); replication from the other region writes here too.',
          ),
        },
      },
    });
    facade.monitorCustom({
      alarmFriendlyName: 'Replication',
      humanReadableName: `Control table replication to ${props.otherRegion}`,
      metricGroups: [
        {
          title: `Replication latency to ${props.otherRegion} (ms)`,
          metrics: [
            {
              metric: metricReplicationLatency(props.controlTableName, props.otherRegion),
              alarmFriendlyName: 'ReplicationLatency',
              addAlarm: {
                Lagging: {
                  threshold: t.replicationLatencyMs,
                  comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
                  datapointsToAlarm: 2,
                  evaluationPeriods: 3,
                  treatMissingDataOverride: TreatMissingData.NOT_BREACHING,
                  alarmDescriptionOverride: runbook(
                    `Writes in ${props.name} reach ${props.otherRegion} more than ${t.replicationLatencyMs} ms late (average, 2 of 3 five-minute periods): a player moved to ${props.otherRegion} may miss its sessions and stream slots.`,
                    'Check the AWS Health Dashboard for DynamoDB in both regions and whether a chaos experiment paused replication; if it persists, keep players in one region.',
                  ),
                },
              },
            },
          ],
        },
      ],
    });

    facade.addLargeHeader('Steering and the appliance fleet');
    const fleet = playback.functions.fleet;
    facade.monitorCustom({
      alarmFriendlyName: 'Fleet',
      humanReadableName: 'The appliances that report to this region',
      metricGroups: [
        { title: 'Appliances', metrics: [steering.metricAppliancesRegistered(), steering.metricAppliancesSilent()] },
        {
          title: 'Silent appliances (%)',
          metrics: [
            {
              metric: steering.metricSilentAppliancesPercent(),
              alarmFriendlyName: 'SilentAppliances',
              addAlarm: {
                Silent: {
                  threshold: t.silentAppliancesPercent,
                  comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
                  datapointsToAlarm: 2,
                  evaluationPeriods: 3,
                  treatMissingDataOverride: TreatMissingData.NOT_BREACHING,
                  alarmDescriptionOverride: runbook(
                    `More than ${t.silentAppliancesPercent}% of the appliances registered in ${props.name} sent no report for 90 s: steering stops sending players to them.`,
                    'Many at once is a network path or the fleet route failing (check POST /fleet/report 4xx/5xx); one site is that ISP\'s link; look at a silent node\'s agent log (journalctl -u nearstream-agent).',
                  ),
                },
              },
            },
          ],
        },
        { title: 'Titles held in the region', metrics: [steering.metricTitlesHeld()] },
        {
          title: 'Egress and errors at report',
          metrics: [
            fleet.publishedMetric(FLEET_METRICS.applianceEgressGbps, { statistic: Stats.AVERAGE, label: 'Egress per appliance (Gbit/s, average)' }),
            fleet.publishedMetric(FLEET_METRICS.applianceErrorRate, { statistic: Stats.MAXIMUM, label: 'Worst appliance 5xx share' }),
          ],
        },
        {
          title: 'Steering snapshot builds failed',
          metrics: [
            {
              metric: steering.metricBuildFailures({ period: Duration.minutes(5) }),
              alarmFriendlyName: 'SnapshotBuilds',
              addAlarm: {
                Failing: {
                  threshold: t.snapshotBuildFailuresPer5Minutes,
                  comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
                  treatMissingDataOverride: TreatMissingData.NOT_BREACHING,
                  alarmDescriptionOverride: runbook(
                    `More than ${t.snapshotBuildFailuresPer5Minutes} steering snapshot builds failed in ${props.name} in 5 minutes: plays keep the last good snapshot and, after a minute, steer degraded.`,
                    'The builder\'s log names the failure (table throttling, the snapshot bucket or its key); plays steered degraded show on this dashboard.',
                  ),
                },
              },
            },
          ],
        },
        { title: 'Plays steered degraded', metrics: [playback.metricSteeringDegraded()] },
      ],
    });
    this.deadLetterAlarm(steering.deadLetters, 'SteeringSchedule', 'the steering snapshot schedule', 'The scheduler could not invoke the builder (its role denied, or the function gone): plays keep the last good snapshot for a minute and then steer degraded. Read the message for the error and fix the schedule\'s role or target.');

    facade.addLargeHeader('Nightly fill planning');
    facade.monitorCustom({
      alarmFriendlyName: 'Planning',
      humanReadableName: 'Nightly plan',
      metricGroups: [
        { title: 'Clusters planned', metrics: [fillPlanning.metricClustersPlanned()] },
        {
          title: 'Planning runs failed',
          metrics: [
            {
              metric: fillPlanning.function.function.metricErrors({ period: Duration.hours(1), statistic: Stats.SUM, label: 'Failed runs' }),
              alarmFriendlyName: 'PlanningRuns',
              addAlarm: {
                Failed: {
                  threshold: t.planningFailuresPerHour,
                  comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                  treatMissingDataOverride: TreatMissingData.NOT_BREACHING,
                  alarmDescriptionOverride: runbook(
                    `The nightly fill planning run in ${props.name} failed (an error or a timeout; Lambda retries it twice).`,
                    'Appliances keep yesterday\'s manifest until a run succeeds. Read the run\'s log for the failure, fix it, then invoke the planning function by hand before the fill windows close.',
                  ),
                },
              },
            },
          ],
        },
      ],
    });
    this.deadLetterAlarm(fillPlanning.deadLetters, 'PlanningSchedule', 'the nightly fill planning schedule', 'The scheduler could not invoke the planning function (its role denied, or the function gone): tonight\'s plan did not run and appliances keep yesterday\'s manifest. Fix the schedule\'s role or target, then invoke the function by hand.');

    if (props.encoding) {
      facade.addLargeHeader('Encoding');
      facade.monitorCustom({
        alarmFriendlyName: 'Encoding',
        humanReadableName: 'Titles',
        metricGroups: [
          { title: 'MediaConvert jobs', metrics: [props.encoding.metricJobsCompleted(), props.encoding.metricJobsErrored()] },
          {
            title: 'Workflow executions failed',
            metrics: [
              props.encoding.stateMachine.metricFailed({ label: 'Ingest failed', period: Duration.minutes(5) }),
              props.encoding.completion.stateMachine.metricFailed({ label: 'Completion failed', period: Duration.minutes(5) }),
            ],
          },
        ],
      });
      this.deadLetterAlarm(props.encoding.deadLetters, 'EncodingEvents', 'the encoding workflow\'s event rules', 'Uploads or MediaConvert job changes were not delivered: their titles stay processing. Read the messages, fix the cause, and redrive the queue.');
      for (const fn of props.encoding.functions) {
        this.monitorFunction(fn, t);
      }
    }

    this.spsAlarm = alarmNamed(facade.createdAlarms(), 'SteadyState');
    this.playFailureRateAlarm = alarmNamed(facade.createdAlarms(), 'PlayFailures');
  }

  /** Every alarm this construct made. */
  get alarms(): readonly Alarm[] {
    return this.facade.createdAlarms().map((created) => created.alarm as Alarm);
  }

  private monitorFunction(fn: NearstreamFunction, t: AlarmSettings): void {
    this.facade.monitorLambdaFunction({
      lambdaFunction: fn.function,
      humanReadableName: fn.serviceName,
      alarmFriendlyName: fn.serviceName,
      addFaultCountAlarm: {
        Errors: {
          maxErrorCount: t.functionErrorsPer5Minutes,
          period: Duration.minutes(5),
          alarmDescriptionOverride: runbook(
            `The ${fn.serviceName} function had more than ${t.functionErrorsPer5Minutes} errors in 5 minutes.`,
            `Search its log group for level ERROR; a deploy that just ran is the first suspect (roll it back), then a dependency (table, secret, bucket) it names.`,
          ),
        },
      },
      addThrottlesCountAlarm: {
        Throttled: {
          maxErrorCount: t.functionThrottlesPer5Minutes,
          period: Duration.minutes(5),
          alarmDescriptionOverride: runbook(
            `The ${fn.serviceName} function had more than ${t.functionThrottlesPer5Minutes} throttled invocations in 5 minutes.`,
            'The account\'s concurrent executions in this region are exhausted: find the function using them (ConcurrentExecutions by function) and raise the quota or reserve concurrency.',
          ),
        },
      },
    });
  }

  /** Pages on the first message in `queue`, the dead letters of `what`; `action` is the runbook line. */
  deadLetterAlarm(queue: IQueue, friendlyName: string, what: string, action: string): void {
    this.facade.monitorSqsQueue({
      queue,
      humanReadableName: `Dead letters of ${what}`,
      alarmFriendlyName: friendlyName,
      addQueueMaxSizeAlarm: {
        DeadLetters: {
          maxMessageCount: 0,
          alarmDescriptionOverride: runbook(`Something landed in the dead-letter queue of ${what}.`, action),
        },
      },
    });
  }
}

/**
 * How late writes to the control table reach `receivingRegion`, averaged over 5 minutes, as
 * DynamoDB measures it in the writing region (`region`, for a dashboard of another one).
 */
export function metricReplicationLatency(tableName: string, receivingRegion: string, region?: string): Metric {
  return new Metric({
    namespace: 'AWS/DynamoDB',
    metricName: 'ReplicationLatency',
    dimensionsMap: { TableName: tableName, ReceivingRegion: receivingRegion },
    statistic: Stats.AVERAGE,
    period: Duration.minutes(5),
    region,
    label: region ? `${region} to ${receivingRegion}` : `to ${receivingRegion}`,
  });
}

/** An alarm's description: what happened, then what to do. */
function runbook(what: string, action: string): string {
  return `${what} Runbook: ${action}`;
}

/** The one alarm made with `disambiguator` (the key of its threshold in the facade's props). */
function alarmNamed(alarms: readonly AlarmWithAnnotation[], disambiguator: string): Alarm {
  const found = alarms.filter((created) => created.disambiguator === disambiguator);
  if (found.length !== 1) {
    throw new Error(`expected one alarm for ${disambiguator}, found ${found.length}`);
  }
  return found[0].alarm as Alarm;
}
