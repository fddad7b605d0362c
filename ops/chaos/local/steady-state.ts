/**
 * A local chaos drill's steady-state judgment, pure: did every play complete, did rebuffering and
 * failed segment fetches stay under their thresholds, and did each region's stream starts per
 * second (SPS) hold within the experiment's allowed dip while the fault was on?
 */

/** One play of the drill's load, reduced to what the judgment reads. */
export interface DrillPlay {
  readonly completed: boolean;
  readonly wallMs: number;
  readonly rebufferMs: number;
  readonly segments: number;
  /** Segment fetches that failed and moved the player to its next source. */
  readonly failedFetches: number;
  readonly errors: readonly string[];
}

/** Stream starts a region's functions counted, at a moment. */
export interface StartSample {
  readonly region: string;
  readonly atMs: number;
  readonly starts: number;
}

export interface DrillWindows {
  /** Load starts; the first `warmUpMs` of the baseline are not judged (players are still ramping). */
  readonly startMs: number;
  readonly warmUpMs: number;
  readonly faultStartMs: number;
  readonly faultEndMs: number;
  readonly endMs: number;
}

export interface SteadyStateThresholds {
  readonly maxSpsDipPercent: number;
  /** Rebuffering wall time over all plays' wall time. @default 0.05 */
  readonly maxRebufferRatio?: number;
  /**
   * Failed segment fetches over segments fetched. A play that starts on a dead or broken source
   * fails over once per track and stays on the next one, so a fault forces a share of these.
   * @default 0.2
   */
  readonly maxFailedFetchRatio?: number;
  /**
   * Stream starts are counted one by one, so one start landing a moment before or after the
   * fault's edge moves the dip by 1/B + 1/F (B and F the starts counted before and during the
   * fault). A dip is judged only when the baseline's rate makes that step at most this share of the
   * allowed dip: with fewer starts, where one start lands would decide the verdict. @default 0.5
   */
  readonly maxStartShareOfDip?: number;
}

/** SPS before and during the fault, for one region or, as `ALL_REGIONS`, the whole platform. */
export interface RegionSps {
  readonly region: string;
  readonly baselineSps: number;
  readonly faultSps: number;
  /** How far the fault window fell below the baseline, in percent; 0 when it did not. */
  readonly dipPercent: number;
}

/** The name of the platform-wide SPS, which the verdict judges. */
export const ALL_REGIONS = 'all regions';

export interface SteadyStateVerdict {
  readonly passed: boolean;
  readonly plays: number;
  readonly incompletePlays: number;
  readonly rebufferRatio: number;
  readonly failedFetchRatio: number;
  /** Each region's SPS, shown but not judged: a player's region failover moves starts between them. */
  readonly regions: readonly RegionSps[];
  /** The platform's SPS, judged against the allowed dip. */
  readonly total: RegionSps;
  /** Each broken hypothesis, in words; empty when the drill passed. */
  readonly failures: readonly string[];
}

/**
 * Judges a drill: SPS is the mean over the baseline (after warm-up, before the fault) against the
 * mean over the fault window, so a one-second gap in a few players' starts is not a dip. A drill's
 * fault hits both local regions at once, and a player whose `/play` or `/events` fails in one
 * region retries in the other: one region's count alone would call that retry a dip, so the
 * platform's SPS is judged and each region's is reported beside it.
 */
export function judgeSteadyState(
  plays: readonly DrillPlay[],
  samples: readonly StartSample[],
  windows: DrillWindows,
  thresholds: SteadyStateThresholds,
): SteadyStateVerdict {
  const maxRebufferRatio = thresholds.maxRebufferRatio ?? 0.05;
  const maxFailedFetchRatio = thresholds.maxFailedFetchRatio ?? 0.2;
  const maxStartShareOfDip = thresholds.maxStartShareOfDip ?? 0.5;
  if (!(thresholds.maxSpsDipPercent > 0) || !(maxStartShareOfDip > 0)) {
    throw new Error(`judgeSteadyState: maxSpsDipPercent (${thresholds.maxSpsDipPercent}) and maxStartShareOfDip (${maxStartShareOfDip}) must be above 0: counted starts cannot judge a dip of 0`);
  }
  const failures: string[] = [];

  const incomplete = plays.filter((play) => !play.completed);
  if (plays.length === 0) {
    failures.push('no play ran');
  }
  if (incomplete.length > 0) {
    failures.push(`${incomplete.length} of ${plays.length} plays did not complete (first: ${incomplete[0].errors[0] ?? 'no error given'})`);
  }
  const rebufferRatio = ratio(sum(plays.map((play) => play.rebufferMs)), sum(plays.map((play) => play.wallMs)));
  if (rebufferRatio > maxRebufferRatio) {
    failures.push(`rebuffer ratio ${percent(rebufferRatio)} is over ${percent(maxRebufferRatio)}`);
  }
  const failedFetchRatio = ratio(sum(plays.map((play) => play.failedFetches)), sum(plays.map((play) => play.segments)));
  if (failedFetchRatio > maxFailedFetchRatio) {
    failures.push(`failed segment fetches ${percent(failedFetchRatio)} are over ${percent(maxFailedFetchRatio)}`);
  }

  const regions = [...new Set(samples.map((sample) => sample.region))].sort().map((region) => spsOf(region, samples.filter((sample) => sample.region === region), windows));
  const total = spsOf(ALL_REGIONS, samples, windows);
  const baselineSeconds = (windows.faultStartMs - windows.startMs - windows.warmUpMs) / 1000;
  const faultSeconds = (windows.faultEndMs - windows.faultStartMs) / 1000;
  const baselineStarts = Math.round(total.baselineSps * baselineSeconds);
  // 100 (1/B + 1/F) <= share x dip, with F the starts the fault window would count at the baseline's rate.
  const startsNeeded = Math.ceil((100 * (1 + baselineSeconds / faultSeconds)) / (maxStartShareOfDip * thresholds.maxSpsDipPercent));
  if (baselineStarts < startsNeeded) {
    failures.push(
      `the platform counted ${baselineStarts} stream starts before the fault, and judging a ${thresholds.maxSpsDipPercent}% dip takes ${startsNeeded}, ` +
        `so that one start moved across the fault's edge is at most ${percent(maxStartShareOfDip)} of it (add --players or --seconds)`,
    );
  } else if (total.dipPercent > thresholds.maxSpsDipPercent) {
    failures.push(`SPS fell ${total.dipPercent.toFixed(1)}% (${total.baselineSps.toFixed(2)} to ${total.faultSps.toFixed(2)}), over the ${thresholds.maxSpsDipPercent}% allowed`);
  }
  return { passed: failures.length === 0, plays: plays.length, incompletePlays: incomplete.length, rebufferRatio, failedFetchRatio, regions, total, failures };
}

function spsOf(region: string, samples: readonly StartSample[], windows: DrillWindows): RegionSps {
  const baselineSps = rate(samples, windows.startMs + windows.warmUpMs, windows.faultStartMs);
  const faultSps = rate(samples, windows.faultStartMs, windows.faultEndMs);
  const dipPercent = baselineSps > 0 ? Math.max(0, ((baselineSps - faultSps) / baselineSps) * 100) : 0;
  return { region, baselineSps, faultSps, dipPercent };
}

/** Starts per second over [fromMs, toMs). */
function rate(samples: readonly StartSample[], fromMs: number, toMs: number): number {
  const seconds = (toMs - fromMs) / 1000;
  return seconds > 0 ? sum(samples.filter((sample) => sample.atMs >= fromMs && sample.atMs < toMs).map((sample) => sample.starts)) / seconds : 0;
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function ratio(part: number, whole: number): number {
  return whole > 0 ? part / whole : 0;
}

function percent(value: number): string {
  return `${(value * 100).toFixed(1)}%`;
}
