/** Latency figures of one run, in milliseconds. */
export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/**
 * The nearest-rank percentile of `sortedAscending`: the smallest value that at least `p` percent
 * of the values are at or below. No interpolation, so every figure is a latency that happened.
 */
export function percentile(sortedAscending: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) {
    throw new RangeError(`percentile p must be between 0 and 100 (got ${p})`);
  }
  if (sortedAscending.length === 0) {
    throw new RangeError('percentile of no values: there is nothing to rank');
  }
  const rank = Math.ceil((p / 100) * sortedAscending.length);
  return sortedAscending[Math.max(0, rank - 1)];
}

/** Summarizes latencies in any order; with none at all every figure is NaN, not a made-up zero. */
export function summarizeLatencies(latenciesMs: readonly number[]): LatencySummary {
  if (latenciesMs.length === 0) {
    return { p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
  }
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1],
    mean: sum / sorted.length,
  };
}
