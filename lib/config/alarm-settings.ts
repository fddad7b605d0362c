import { ConfigProblem, positiveWholeNumberProblems } from './config-error';

/**
 * What pages someone, per environment kind: the thresholds of every alarm the monitoring construct
 * makes. Stacks read them from here, never from literals, so prod and staging differ only in data.
 */
export interface AlarmSettings {
  /**
   * The SPS steady state: stream starts per minute below CloudWatch's anomaly band of this many
   * standard deviations (it learns the daily and weekly shape, so quiet nights are not a drop).
   */
  readonly spsBandStandardDeviations: number;
  /** SPS alarms when this many of the last `spsEvaluationMinutes` one-minute periods are below the band. */
  readonly spsDatapointsToAlarm: number;
  readonly spsEvaluationMinutes: number;
  /**
   * Whether minutes with no stream starts reported at all count as below the band. In prod they
   * are an outage; in an idle staging or ephemeral environment they are normal and would page.
   */
  readonly spsMissingDataBreaches: boolean;
  /** Play failures as a share of plays started or failed over 5 minutes, in percent. */
  readonly playFailureRatePercent: number;
  /** Below this many plays in 5 minutes the failure rate says nothing and does not alarm. */
  readonly playFailureMinimumPlays: number;
  /** Errors of any one function in 5 minutes. */
  readonly functionErrorsPer5Minutes: number;
  /** Throttled invocations of any one function in 5 minutes. */
  readonly functionThrottlesPer5Minutes: number;
  /** Throttled requests to the control table in this region in 5 minutes (reads and writes each). */
  readonly tableThrottledRequestsPer5Minutes: number;
  /** Average replication latency of the control table to the other region, in milliseconds. */
  readonly replicationLatencyMs: number;
  /** Failed nightly planning runs in an hour (each attempt of the schedule's invocation counts). */
  readonly planningFailuresPerHour: number;
  /** Failed steering snapshot builds in 5 minutes (a build runs every 10 s; plays keep the last good snapshot). */
  readonly snapshotBuildFailuresPer5Minutes: number;
  /** Appliances that stopped reporting (no report for 90 s), as a share of the region's registered fleet, in percent. */
  readonly silentAppliancesPercent: number;
}

export const ALARMS_BY_KIND = {
  prod: {
    spsBandStandardDeviations: 3,
    spsDatapointsToAlarm: 3,
    spsEvaluationMinutes: 5,
    spsMissingDataBreaches: true,
    playFailureRatePercent: 2,
    playFailureMinimumPlays: 50,
    functionErrorsPer5Minutes: 5,
    functionThrottlesPer5Minutes: 1,
    tableThrottledRequestsPer5Minutes: 10,
    replicationLatencyMs: 30_000,
    planningFailuresPerHour: 1,
    snapshotBuildFailuresPer5Minutes: 3,
    silentAppliancesPercent: 5,
  },
  staging: {
    spsBandStandardDeviations: 4,
    spsDatapointsToAlarm: 4,
    spsEvaluationMinutes: 5,
    spsMissingDataBreaches: false,
    playFailureRatePercent: 5,
    playFailureMinimumPlays: 20,
    functionErrorsPer5Minutes: 10,
    functionThrottlesPer5Minutes: 5,
    tableThrottledRequestsPer5Minutes: 50,
    replicationLatencyMs: 60_000,
    planningFailuresPerHour: 1,
    snapshotBuildFailuresPer5Minutes: 6,
    silentAppliancesPercent: 20,
  },
  ephemeral: {
    spsBandStandardDeviations: 4,
    spsDatapointsToAlarm: 5,
    spsEvaluationMinutes: 5,
    spsMissingDataBreaches: false,
    playFailureRatePercent: 10,
    playFailureMinimumPlays: 20,
    functionErrorsPer5Minutes: 20,
    functionThrottlesPer5Minutes: 20,
    tableThrottledRequestsPer5Minutes: 100,
    replicationLatencyMs: 120_000,
    planningFailuresPerHour: 1,
    snapshotBuildFailuresPer5Minutes: 12,
    silentAppliancesPercent: 50,
  },
} as const satisfies Record<'prod' | 'staging' | 'ephemeral', AlarmSettings>;

/** Every threshold that cannot work, named: an alarm that never fires is worse than none. */
export function alarmSettingProblems(alarms: AlarmSettings): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const share = (field: 'playFailureRatePercent' | 'silentAppliancesPercent') => {
    const value = alarms[field];
    if (!(value > 0 && value <= 100)) {
      problems.push({ field: `alarms.${field}`, rule: `must be above 0 and at most 100 (got ${value})` });
    }
  };
  if (!(alarms.spsBandStandardDeviations > 0 && alarms.spsBandStandardDeviations <= 10)) {
    problems.push({ field: 'alarms.spsBandStandardDeviations', rule: `must be above 0 and at most 10 (got ${alarms.spsBandStandardDeviations})` });
  }
  for (const field of ['spsDatapointsToAlarm', 'spsEvaluationMinutes', 'playFailureMinimumPlays', 'functionErrorsPer5Minutes', 'functionThrottlesPer5Minutes', 'tableThrottledRequestsPer5Minutes', 'replicationLatencyMs', 'planningFailuresPerHour', 'snapshotBuildFailuresPer5Minutes'] as const) {
    problems.push(...positiveWholeNumberProblems(`alarms.${field}`, alarms[field]));
  }
  if (alarms.spsDatapointsToAlarm > alarms.spsEvaluationMinutes) {
    problems.push({
      field: 'alarms.spsDatapointsToAlarm',
      rule: `must be at most alarms.spsEvaluationMinutes (${alarms.spsEvaluationMinutes}): the alarm could never fire (got ${alarms.spsDatapointsToAlarm})`,
    });
  }
  share('playFailureRatePercent');
  share('silentAppliancesPercent');
  return problems;
}
