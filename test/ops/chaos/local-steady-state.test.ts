import { ALL_REGIONS, DrillPlay, DrillWindows, judgeSteadyState, StartSample } from '../../../ops/chaos/local/steady-state';

const WINDOWS: DrillWindows = { startMs: 0, warmUpMs: 2_000, faultStartMs: 10_000, faultEndMs: 20_000, endMs: 30_000 };
const GOOD_PLAY: DrillPlay = { completed: true, wallMs: 2_000, rebufferMs: 0, segments: 8, failedFetches: 0, errors: [] };

/** One start a second in `region` from `fromMs` to `toMs`, each worth `starts`. */
function steady(region: string, fromMs: number, toMs: number, starts = 1): StartSample[] {
  return Array.from({ length: (toMs - fromMs) / 1000 }, (_, i) => ({ region, atMs: fromMs + i * 1000, starts }));
}

describe('a local drill\'s steady state', () => {
  it('passes when every play completes and SPS holds through the fault', () => {
    const verdict = judgeSteadyState([GOOD_PLAY, GOOD_PLAY], steady('us-east-1', 0, 30_000, 10), WINDOWS, { maxSpsDipPercent: 5 });

    expect(verdict).toMatchObject({ passed: true, failures: [], plays: 2, incompletePlays: 0 });
    expect(verdict.total).toEqual({ region: ALL_REGIONS, baselineSps: 10, faultSps: 10, dipPercent: 0 });
  });

  it('fails when SPS during the fault dips more than the experiment allows, comparing window means', () => {
    const samples = [...steady('us-east-1', 0, 10_000, 10), ...steady('us-east-1', 10_000, 20_000, 9), ...steady('us-east-1', 20_000, 30_000, 10)];

    expect(judgeSteadyState([GOOD_PLAY], samples, WINDOWS, { maxSpsDipPercent: 10 }).passed).toBe(true);
    const strict = judgeSteadyState([GOOD_PLAY], samples, WINDOWS, { maxSpsDipPercent: 5 });
    expect(strict.passed).toBe(false);
    expect(strict.failures).toEqual(['SPS fell 10.0% (10.00 to 9.00), over the 5% allowed']);
  });

  it('judges the platform\'s SPS, not one region\'s, when players fail over between regions', () => {
    const samples = [...steady('us-east-1', 0, 30_000, 10), ...steady('us-east-1', 10_000, 20_000, -5), ...steady('us-west-2', 10_000, 20_000, 5)];

    const verdict = judgeSteadyState([GOOD_PLAY], samples, WINDOWS, { maxSpsDipPercent: 5 });

    expect(verdict.passed).toBe(true);
    expect(verdict.regions.find((region) => region.region === 'us-east-1')).toMatchObject({ baselineSps: 10, faultSps: 5, dipPercent: 50 });
  });

  it('leaves the warm-up out of the baseline', () => {
    const samples = [...steady('us-east-1', 0, 2_000, 0.1), ...steady('us-east-1', 2_000, 30_000, 2)];

    expect(judgeSteadyState([GOOD_PLAY], samples, WINDOWS, { maxSpsDipPercent: 5 }).total.baselineSps).toBe(2);
  });

  it('fails naming the incomplete plays, the rebuffering and the failed fetches over their thresholds', () => {
    const broken: DrillPlay = { completed: false, wallMs: 2_000, rebufferMs: 400, segments: 4, failedFetches: 2, errors: ['every source failed for segment 1'] };

    const verdict = judgeSteadyState([GOOD_PLAY, broken], steady('us-east-1', 0, 30_000, 10), WINDOWS, { maxSpsDipPercent: 5, maxFailedFetchRatio: 0.1 });

    expect(verdict.passed).toBe(false);
    expect(verdict.failures).toEqual([
      '1 of 2 plays did not complete (first: every source failed for segment 1)',
      'rebuffer ratio 10.0% is over 5.0%',
      'failed segment fetches 16.7% are over 10.0%',
    ]);
  });

  it('judges a dip only when one start moved across the fault\'s edge is at most half of the allowed dip, and says what is missing', () => {
    // 8 s of baseline and 10 s of fault at 2 starts a second: 16 and 20 starts; one moved is 1/16 + 1/20 = 11.25%.
    const samples = steady('us-east-1', 0, 30_000, 2);

    expect(judgeSteadyState([GOOD_PLAY], samples, WINDOWS, { maxSpsDipPercent: 23 }).passed).toBe(true);
    expect(judgeSteadyState([GOOD_PLAY], samples, WINDOWS, { maxSpsDipPercent: 22 }).failures).toEqual([
      'the platform counted 16 stream starts before the fault, and judging a 22% dip takes 17, so that one start moved across the fault\'s edge is at most 50.0% of it (add --players or --seconds)',
    ]);
    expect(judgeSteadyState([GOOD_PLAY], samples, WINDOWS, { maxSpsDipPercent: 5 }).failures).toEqual([expect.stringMatching(/^the platform counted 16 stream starts before the fault, and judging a 5% dip takes 72,/)]);
    expect(judgeSteadyState([GOOD_PLAY], steady('us-east-1', 0, 30_000, 0), WINDOWS, { maxSpsDipPercent: 50 }).failures).toEqual([
      expect.stringMatching(/^the platform counted 0 stream starts before the fault, and judging a 50% dip takes 8,/),
    ]);
    expect(() => judgeSteadyState([GOOD_PLAY], samples, WINDOWS, { maxSpsDipPercent: 0 })).toThrow(/must be above 0/);
  });
});
