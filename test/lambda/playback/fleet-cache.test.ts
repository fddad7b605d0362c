import { FleetCache, FleetCacheOptions, LoadedFleet } from '../../../lambda/playback/fleet-cache';
import { ApplianceView, DEFAULT_STEERING_POLICY, FleetIndex } from '../../../lambda/playback/steering';

const OPTIONS: FleetCacheOptions = { maxAgeMs: 10_000, loadTimeoutMs: 1500, retryAfterMs: 2000, policy: DEFAULT_STEERING_POLICY };

function appliance(applianceId: string, reportedAtMs: number): ApplianceView {
  return {
    applianceId,
    clusterId: 'isp-near',
    region: 'us-east-1',
    baseUrl: `https://${applianceId}.example`,
    prefixes: ['198.51.100.0/24'],
    reportedAtMs,
    load: 0.2,
    errorRate: 0,
    titles: ['movie-1'],
  };
}

/** A snapshot source whose every read waits until the test answers it with a fleet built at `builtAtMs`. */
class HeldRegistry {
  readonly reads: { answer(appliances: ApplianceView[], builtAtMs?: number): void; fail(error: Error): void }[] = [];

  constructor(private readonly nowMs: () => number) {}

  load = (): Promise<LoadedFleet> =>
    new Promise((resolve, reject) => {
      this.reads.push({
        answer: (appliances, builtAtMs = this.nowMs()) => resolve({ index: FleetIndex.build(appliances, DEFAULT_STEERING_POLICY), builtAtMs }),
        fail: reject,
      });
    });
}

/** Lets every settled promise's callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('the play function\'s fleet cache', () => {
  let nowMs: number;
  let registry: HeldRegistry;
  let cache: FleetCache;

  /** Which appliance steering picks for a near client with this snapshot, if any. */
  const steersTo = async () => {
    const snapshot = await cache.snapshot();
    const route = snapshot.index.route({ clientIp: '198.51.100.20', region: 'us-east-1', titleId: 'movie-1', sessionKey: 's' }, nowMs);
    return { appliance: route.choices[0]?.appliance.applianceId, degraded: snapshot.degraded, ageMs: snapshot.ageMs };
  };

  /** A cache that has loaded one snapshot holding `oca-old`. */
  const warmCache = async (options: FleetCacheOptions = OPTIONS) => {
    cache = new FleetCache(registry.load, options, () => nowMs);
    const first = steersTo();
    await settle();
    registry.reads[0].answer([appliance('oca-old', nowMs)]);
    return first;
  };

  beforeEach(() => {
    nowMs = Date.parse('2026-11-21T20:00:00Z');
    registry = new HeldRegistry(() => nowMs);
  });

  afterEach(async () => {
    // A read left unanswered would hold its load timeout's timer past the test.
    registry.reads.forEach((read) => read.answer([]));
    await settle();
  });

  it('waits for the registry when it has no snapshot yet', async () => {
    expect(await warmCache()).toEqual({ appliance: 'oca-old', degraded: false, ageMs: 0 });
  });

  it('answers a play during a refresh at once with the snapshot it has, and the next one with the refreshed snapshot', async () => {
    await warmCache();
    nowMs += 12_000;

    const duringRefresh = await steersTo();
    expect(registry.reads).toHaveLength(2);
    registry.reads[1].answer([appliance('oca-new', nowMs)]);
    await settle();
    const afterRefresh = await steersTo();

    expect(duringRefresh).toEqual({ appliance: 'oca-old', degraded: false, ageMs: 12_000 });
    expect(afterRefresh).toEqual({ appliance: 'oca-new', degraded: false, ageMs: 0 });
  });

  it('asks the registry once however many plays arrive while a refresh runs', async () => {
    await warmCache();
    nowMs += 12_000;

    await Promise.all(Array.from({ length: 20 }, () => cache.snapshot()));

    expect(registry.reads).toHaveLength(2);
  });

  it('does not ask the registry while the snapshot is younger than maxAgeMs', async () => {
    await warmCache();
    nowMs += 9_999;

    expect(await steersTo()).toEqual({ appliance: 'oca-old', degraded: false, ageMs: 9_999 });
    expect(registry.reads).toHaveLength(1);
  });

  it('waits for the refresh when the snapshot is older than maxStaleMs, as after a long idle spell', async () => {
    await warmCache({ ...OPTIONS, maxStaleMs: 60_000 });
    nowMs += 60_000;

    const play = steersTo();
    await settle();
    registry.reads[1].answer([appliance('oca-new', nowMs)]);

    expect(await play).toEqual({ appliance: 'oca-new', degraded: false, ageMs: 0 });
  });

  it('keeps the last good snapshot, marked degraded, once a refresh fails, and asks again only after retryAfterMs', async () => {
    await warmCache();
    nowMs += 12_000;
    await cache.snapshot();
    registry.reads[1].fail(new Error('registry down'));
    await settle();

    const afterFailure = await steersTo();
    nowMs += 1_999;
    await cache.snapshot();
    const readsWithinRetryAfter = registry.reads.length;
    nowMs += 1;
    await cache.snapshot();
    registry.reads[2].answer([appliance('oca-new', nowMs)]);
    await settle();

    expect(afterFailure).toEqual({ appliance: 'oca-old', degraded: true, ageMs: 12_000 });
    expect(readsWithinRetryAfter).toBe(2);
    expect(await steersTo()).toEqual({ appliance: 'oca-new', degraded: false, ageMs: 0 });
  });

  it('counts a registry slower than loadTimeoutMs as failed', async () => {
    // The first load answers at once (no timer can beat it on a loaded machine); the refresh never does.
    let loads = 0;
    const firstAnswersAtOnce = () =>
      loads++ === 0 ? Promise.resolve({ index: FleetIndex.build([appliance('oca-old', nowMs)], DEFAULT_STEERING_POLICY), builtAtMs: nowMs }) : registry.load();
    cache = new FleetCache(firstAnswersAtOnce, { ...OPTIONS, loadTimeoutMs: 20 }, () => nowMs);
    expect(await steersTo()).toEqual({ appliance: 'oca-old', degraded: false, ageMs: 0 });
    nowMs += 12_000;

    await cache.snapshot();
    await new Promise((resolve) => setTimeout(resolve, 60));

    expect(await steersTo()).toEqual({ appliance: 'oca-old', degraded: true, ageMs: 12_000 });
  });

  it('steers nowhere, degraded, when the registry has never answered', async () => {
    cache = new FleetCache(() => Promise.reject(new Error('registry down')), OPTIONS, () => nowMs);

    expect(await steersTo()).toEqual({ appliance: undefined, degraded: true, ageMs: undefined });
  });

  it('counts age from when the snapshot was built, and says degraded once its builder has stopped for longer than staleAfterMs', async () => {
    await warmCache({ ...OPTIONS, staleAfterMs: 60_000 });
    nowMs += 12_000;
    await cache.snapshot();
    // The source answers with the same snapshot: its builder wrote nothing new.
    registry.reads[1].answer([appliance('oca-old', nowMs - 12_000)], nowMs - 12_000);
    await settle();
    const stillFresh = await steersTo();
    nowMs += 50_000;
    await cache.snapshot();
    registry.reads[2].answer([appliance('oca-old', nowMs)], nowMs - 62_000);
    await settle();

    expect(stillFresh).toEqual({ appliance: 'oca-old', degraded: false, ageMs: 12_000 });
    expect(await steersTo()).toMatchObject({ degraded: true, ageMs: 62_000 });
  });
});
