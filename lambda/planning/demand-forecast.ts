import type { ClusterDemand, PlannerOptions, PlanTitle } from './fill-plan';

/**
 * One cluster's demand tomorrow per title, from its own history, pure: a decaying average of each
 * title's daily demand since its release, over the days whose data arrived, that starts afresh
 * when the history stops describing the cluster.
 *
 * A taste shift (a season, an event, a new audience) moves demand to titles the history ranks
 * low, and a decaying average takes a week to follow. So each observed day is judged, oldest
 * first, against the forecast of the days before it: its unexplained share is the weight of an
 * uninformed component (every title alike) in the mixture with the forecast that best fits the
 * day. Drift and a young history leave part of every day unexplained, and sampling noise makes
 * that part wander, the more the smaller the cluster; so the cluster calibrates itself on its
 * days since its history began or last shifted. A day is a shift when its unexplained share is
 * above their median by more than `tasteShiftShare` and more than `SHIFT_SPREAD` times their
 * day-to-day noise. A shift day restarts the history; until it builds up again the cluster leans
 * on the pool of clusters like it (`historyShare`) and holds on to what it holds (`holdBonus`).
 *
 * Only titles out for `SHIFT_BASELINE_DAYS` judge a day: a title's first days (a release, an
 * episode of a series dropped whole that viewers reach) are the release prior's and the binge's
 * business. A crowd on one title (news, a sequel) is no shift either: a title whose day reaches
 * the forecast's `releasePriorRank`-th title and `SURGE_FACTOR` times its busiest day so far is
 * left out of the judgment and restarts its own history, as if it were released that day.
 */

/**
 * Days a history needs, since it began or last shifted, before a day can be judged a shift; and
 * days a title must be out, and observed, to judge one or to surge.
 */
const SHIFT_BASELINE_DAYS = 3;
/** How many times the cluster's day-to-day noise a day's rise in unexplained share must clear to be a shift. */
const SHIFT_SPREAD = 3;
/** A title whose day reaches the top of the forecast at this many times its busiest day so far is surging. */
const SURGE_FACTOR = 3;
/** Bisection steps for the unexplained share: within 1e-6. */
const MIXTURE_STEPS = 20;
/** Turns a median absolute deviation into a standard deviation, for normal noise. */
const MAD_TO_SD = 1.4826;

export interface Forecast {
  /** Predicted demand tomorrow by title id (titles with none left out). */
  readonly predicted: Map<string, number>;
  /** Titles released today, or since the cluster's first observed day and with no observed day since. */
  readonly unobserved: Set<string>;
  /**
   * The weight of the observed days the forecast rests on (since the last taste shift) over a
   * full history window's (0-1).
   */
  readonly historyShare: number;
  /** Observed days of the window that restarted the history, oldest first. */
  readonly tasteShiftDays: readonly number[];
}

/**
 * Predicted demand tomorrow per title: a decaying average over the observed days each title was
 * out, since the last taste shift (or the title's last surge). A day with no data is skipped and
 * the weights renormalised over the days that remain.
 */
export function predictDemand(
  history: ClusterDemand | undefined,
  titles: readonly PlanTitle[],
  day: number,
  observed: (past: number) => boolean,
  options: PlannerOptions,
): Forecast {
  const oldest = day - options.historyDays;
  const tracked = titles.filter((title) => history?.has(title.titleId));
  const byDay = tracked.map((title) => history!.get(title.titleId)!);
  const averages = new RunningAverages(tracked.length);
  const today = new Float64Array(tracked.length);
  const scratch = new Float64Array(2 * tracked.length);
  const releaseDays = titles.map((title) => title.releaseDay).sort((a, b) => a - b);
  // Titles out for SHIFT_BASELINE_DAYS on the day judged: the ones that may judge it.
  let released = 0;
  let evidence = 0;
  let sharesSince: number[] = [];
  const tasteShiftDays: number[] = [];
  // Oldest day first: each day is judged against the forecast of the days before it.
  for (let past = oldest; past < day; past++) {
    averages.age(options.decay);
    evidence *= options.decay;
    while (released < releaseDays.length && releaseDays[released] <= past - SHIFT_BASELINE_DAYS) {
      released++;
    }
    if (!observed(past)) {
      continue;
    }
    for (let at = 0; at < tracked.length; at++) {
      today[at] = byDay[at].get(past) ?? 0;
    }
    const surging = averages.surging(today, options.releasePriorRank);
    const judged = (at: number) => !surging.has(at) && past - tracked[at].releaseDay >= SHIFT_BASELINE_DAYS;
    const unexplained = unexplainedShare(averages, today, judged, released - surging.size, scratch);
    if (unexplained !== undefined && isShift(unexplained, sharesSince, options.tasteShiftShare)) {
      averages.restartAll();
      evidence = 0;
      sharesSince = [];
      tasteShiftDays.push(past);
    } else {
      if (unexplained !== undefined) {
        sharesSince.push(unexplained);
      }
      surging.forEach((at) => averages.restart(at));
    }
    tracked.forEach((title, at) => past >= title.releaseDay && averages.add(at, today[at]));
    evidence += 1;
  }
  const predicted = new Map<string, number>();
  tracked.forEach((title, at) => {
    const forecast = averages.forecast(at);
    if (forecast > 0) {
      predicted.set(title.titleId, forecast);
    }
  });
  let firstObserved = day;
  for (let past = day - 1; past >= oldest; past--) {
    firstObserved = observed(past) ? past : firstObserved;
  }
  const unobserved = new Set<string>();
  for (const title of titles) {
    const justReleased = title.releaseDay >= day - 1;
    if (!predicted.has(title.titleId) && (justReleased || title.releaseDay > firstObserved) && !observedSince(title, day, observed)) {
      // New to this cluster: released on the planned day or the evening before it (the nightly run
      // plans the day its fill window opens, two hours ahead, so a title out at 23:00 is a day
      // "old" with no day of demand yet), or after its data began and with none since.
      unobserved.add(title.titleId);
    }
  }
  let fullWeight = 0;
  for (let age = 0, weight = 1; age < options.historyDays; age++, weight *= options.decay) {
    fullWeight += weight;
  }
  return { predicted, unobserved, historyShare: evidence / fullWeight, tasteShiftDays };
}

/** Per tracked title (by index): its decaying average, busiest day and observed days since its release or restart. */
class RunningAverages {
  private readonly sums: Float64Array;
  private readonly weights: Float64Array;
  private readonly busiest: Float64Array;
  private readonly days: Float64Array;

  constructor(readonly size: number) {
    this.sums = new Float64Array(size);
    this.weights = new Float64Array(size);
    this.busiest = new Float64Array(size);
    this.days = new Float64Array(size);
  }

  /** A day passes: every day so far weighs `decay` times what it did. */
  age(decay: number): void {
    for (let at = 0; at < this.size; at++) {
      this.sums[at] *= decay;
      this.weights[at] *= decay;
    }
  }

  add(at: number, demand: number): void {
    this.sums[at] += demand;
    this.weights[at] += 1;
    this.busiest[at] = Math.max(this.busiest[at], demand);
    this.days[at] += 1;
  }

  /** The average so far; 0 before any observed day. */
  forecast(at: number): number {
    return this.weights[at] > 0 ? this.sums[at] / this.weights[at] : 0;
  }

  /** Whether a title has an observed day since its release or restart. */
  covers(at: number): boolean {
    return this.weights[at] > 0;
  }

  restart(at: number): void {
    this.sums[at] = 0;
    this.weights[at] = 0;
    this.busiest[at] = 0;
    this.days[at] = 0;
  }

  restartAll(): void {
    for (const values of [this.sums, this.weights, this.busiest, this.days]) {
      values.fill(0);
    }
  }

  /**
   * Titles whose demand `today` reached the `rank`-th forecast and `SURGE_FACTOR` times their
   * busiest day, with `SHIFT_BASELINE_DAYS` observed: against its busiest day, not its average, a
   * title seldom played is not surging whenever sampling noise gives it a few plays at once.
   */
  surging(today: Float64Array, rank: number): Set<number> {
    // The `rank` largest forecasts, largest first: rank is a handful, so insertion beats a sort.
    const top: number[] = [];
    for (let at = 0; at < this.size; at++) {
      const forecast = this.forecast(at);
      if (forecast > 0 && (top.length < rank || forecast > top[top.length - 1])) {
        let place = Math.min(top.length, rank - 1);
        while (place > 0 && top[place - 1] < forecast) {
          top[place] = top[place - 1];
          place--;
        }
        top[place] = forecast;
      }
    }
    const surging = new Set<number>();
    for (let at = 0; at < this.size && top.length > 0; at++) {
      if (this.days[at] >= SHIFT_BASELINE_DAYS && today[at] >= top[top.length - 1] && today[at] >= SURGE_FACTOR * this.busiest[at]) {
        surging.add(at);
      }
    }
    // More titles rising to the top at once than the top holds is a change of taste, not a crowd.
    return surging.size > rank ? new Set() : surging;
  }
}

/**
 * A day's unexplained share against the cluster's shares since its history began or last shifted.
 * Their noise comes from second differences, blind to the steady fall of a young history's share.
 */
function isShift(unexplained: number, since: readonly number[], tasteShiftShare: number): boolean {
  if (since.length < SHIFT_BASELINE_DAYS) {
    return false;
  }
  const curvatures = since.slice(2).map((share, at) => Math.abs(share - 2 * since[at + 1] + since[at]));
  const noise = (MAD_TO_SD * median(curvatures)) / Math.sqrt(6);
  return unexplained - median(since) > Math.max(tasteShiftShare, SHIFT_SPREAD * noise);
}

/**
 * The share of `today`'s demand the forecast so far does not explain: the weight `u` that makes
 * (1 - u) x forecast + u x uniform the likeliest mixture for the day's demand, over the `judged`
 * titles the forecast covers, the uniform spreading over the `candidates` titles that may judge.
 * Undefined with no forecast or no demand to judge. The log-likelihood is concave in `u`: its
 * derivative is found zero by bisection. `scratch` holds two numbers per title.
 */
function unexplainedShare(averages: RunningAverages, today: Float64Array, judged: (at: number) => boolean, candidates: number, scratch: Float64Array): number | undefined {
  let forecastTotal = 0;
  let dayTotal = 0;
  let covered = 0;
  let played = 0;
  for (let at = 0; at < averages.size; at++) {
    if (!averages.covers(at) || !judged(at)) {
      continue;
    }
    covered++;
    const forecast = averages.forecast(at);
    forecastTotal += forecast;
    dayTotal += today[at];
    if (today[at] > 0) {
      scratch[2 * played] = forecast;
      scratch[2 * played + 1] = today[at];
      played++;
    }
  }
  if (forecastTotal === 0 || dayTotal === 0) {
    return undefined;
  }
  for (let at = 0; at < played; at++) {
    scratch[2 * at] /= forecastTotal;
    scratch[2 * at + 1] /= dayTotal;
  }
  const uniform = 1 / Math.max(candidates, covered);
  const slope = (share: number) => {
    let sum = 0;
    for (let at = 0; at < played; at++) {
      const expected = scratch[2 * at];
      sum += (scratch[2 * at + 1] * (uniform - expected)) / ((1 - share) * expected + share * uniform);
    }
    return sum;
  };
  if (slope(0) <= 0) {
    return 0;
  }
  if (slope(1) >= 0) {
    return 1;
  }
  let low = 0;
  let high = 1;
  for (let step = 0; step < MIXTURE_STEPS; step++) {
    const middle = (low + high) / 2;
    if (slope(middle) > 0) {
      low = middle;
    } else {
      high = middle;
    }
  }
  return (low + high) / 2;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function observedSince(title: PlanTitle, day: number, observed: (past: number) => boolean): boolean {
  for (let past = day - 1; past >= title.releaseDay; past--) {
    if (observed(past)) {
      return true;
    }
  }
  return false;
}

/** The days on which the cluster has any demand: a day with none at all is missing data. */
export function daysWithDemand(history: ClusterDemand | undefined): Set<number> {
  const days = new Set<number>();
  for (const byDay of history?.values() ?? []) {
    for (const [day, value] of byDay) {
      if (value > 0) {
        days.add(day);
      }
    }
  }
  return days;
}
