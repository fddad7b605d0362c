import { percentile, summarizeLatencies } from '../../local/load/latency-summary';

describe('load latency figures', () => {
  const oneToTen = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

  it.each([
    [0, 1],
    [10, 1],
    [50, 5],
    [90, 9],
    [99, 10],
    [100, 10],
  ])('takes the nearest-rank p%d of 1..10 as %d, a latency that happened', (p, expected) => {
    expect(percentile(oneToTen, p)).toBe(expected);
  });

  it('lets one slow request in a hundred set the p99 but not the p90', () => {
    const latencies = [...Array.from({ length: 99 }, () => 10), 500];

    expect(summarizeLatencies(latencies)).toEqual({ p50: 10, p90: 10, p99: 10, max: 500, mean: 14.9 });
    expect(summarizeLatencies([...latencies.slice(1), 600, 700]).p99).toBe(600);
  });

  it('summarizes latencies given in any order', () => {
    expect(summarizeLatencies([30, 10, 20])).toEqual({ p50: 20, p90: 30, p99: 30, max: 30, mean: 20 });
  });

  it('says NaN for every figure of a run with no answers, rather than a made-up zero', () => {
    expect(summarizeLatencies([])).toEqual({ p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN });
  });

  it('refuses a percentile outside 0..100 or of no values, saying which', () => {
    expect(() => percentile(oneToTen, 101)).toThrow('percentile p must be between 0 and 100 (got 101)');
    expect(() => percentile(oneToTen, NaN)).toThrow('percentile p must be between 0 and 100 (got NaN)');
    expect(() => percentile([], 50)).toThrow('percentile of no values');
  });
});
