import { runBuilds, SteeringRunDependencies } from '../../../lambda/steering/handler';
import { MetricRecorder } from '../../support/metric-recorder';
import { SnapshotBuilder } from '../../../lambda/steering/snapshot-builder';
import { SnapshotStore } from '../../../lambda/steering/snapshot-store';
import { SnapshotAppliance, SNAPSHOT_FORMAT, SteeringSnapshot } from '../../../lambda/steering/snapshot';

/** An appliance last heard from at `reportedAtMs`, holding the titles at `positions` of the dictionary. */
function appliance(id: string, reportedAtMs: number | undefined, positions: readonly number[]): SnapshotAppliance {
  const holdings = new Uint32Array(1);
  positions.forEach((position) => (holdings[0] |= 1 << position));
  return { applianceId: id, clusterId: 'isp-a', region: 'us-east-1', baseUrl: `https://${id}.example`, prefixes: ['198.51.100.0/24'], reportedAtMs, registrationVersion: 1, holdings };
}

/** A scheduled run on a fake clock: every build takes `buildMs`, sleeping moves the clock. */
function run(options: { buildMs: number; budgetMs: number; failEvery?: number; previous?: SteeringSnapshot; appliances?: readonly SnapshotAppliance[] }) {
  let nowMs = 0;
  const built: number[] = [];
  const seeded: SteeringSnapshot[] = [];
  const builder = {
    seeded: false,
    seed: (snapshot: SteeringSnapshot) => seeded.push(snapshot),
    build: async (atMs: number) => {
      nowMs += options.buildMs;
      built.push(atMs);
      if (options.failEvery && built.length % options.failEvery === 0) {
        throw new Error('table throttled');
      }
      return { snapshot: { format: SNAPSHOT_FORMAT, region: 'us-east-1', builtAtMs: atMs, titles: ['t0', 't1', 't2'], appliances: options.appliances ?? [] }, stats: { appliances: 0, titles: 0, registrationsRead: 0, holdingsRead: 0, placementsRead: 0 } };
    },
  } as unknown as SnapshotBuilder;
  const written: number[] = [];
  const store = {
    read: async () => options.previous,
    write: async (snapshot: SteeringSnapshot) => (written.push(snapshot.builtAtMs), { holdingsBytes: 100, healthBytes: 10, snapshotBytes: 100 }),
  } as unknown as SnapshotStore;
  const metrics = new MetricRecorder();
  const deps: SteeringRunDependencies = { builder, store, metrics, intervalMs: 10_000, nowMs: () => nowMs, sleep: async (ms) => void (nowMs += ms) };
  return { result: runBuilds(deps, () => options.budgetMs - nowMs), built, written, seeded, metrics };
}

describe('a scheduled run of the snapshot builder', () => {
  it('builds every 10 s until the next run is due, leaving the invocation time to finish', async () => {
    const { result, built, written } = run({ buildMs: 2_000, budgetMs: 65_000 });
    expect(await result).toMatchObject({ builds: 6, failures: 0 });
    expect(built).toEqual([0, 10_000, 20_000, 30_000, 40_000, 50_000]);
    expect(written).toEqual(built);
  });

  it('goes on after a failed build, and writes nothing for it', async () => {
    const { result, written, metrics } = run({ buildMs: 1_000, budgetMs: 65_000, failEvery: 2 });
    expect(await result).toMatchObject({ builds: 3, failures: 3 });
    expect(written).toEqual([0, 20_000, 40_000]);
    expect(metrics.values('SnapshotBuildFailures')).toEqual([1, 1, 1]);
    expect(metrics.values('AppliancesRegistered')).toHaveLength(3);
  });

  it('publishes each written build\'s fleet figures: registered, silent and titles held', async () => {
    const appliances = [appliance('fresh', 0, [0]), appliance('gone', -200_000, [0, 1]), appliance('never', undefined, [])];
    const { result, metrics } = run({ buildMs: 1_000, budgetMs: 25_000, appliances });
    await result;
    // Built at 0 and 10 s: one heard from at 0, one 200 s before (silent), one never (silent).
    expect(metrics.values('AppliancesRegistered')).toEqual([3, 3]);
    expect(metrics.values('AppliancesSilent')).toEqual([2, 2]);
    expect(metrics.values('TitlesHeld')).toEqual([2, 2]);
    expect(metrics.values('SnapshotBuildFailures')).toEqual([]);
  });

  it('starts from the last snapshot written when it has none yet', async () => {
    const previous: SteeringSnapshot = { format: SNAPSHOT_FORMAT, region: 'us-east-1', builtAtMs: 1, titles: [], appliances: [] };
    const { result, seeded } = run({ buildMs: 1_000, budgetMs: 20_000, previous });
    await result;
    expect(seeded).toEqual([previous]);
  });

  it('builds once even when the invocation has less time left than an interval', async () => {
    const { result } = run({ buildMs: 1_000, budgetMs: 5_000 });
    expect(await result).toMatchObject({ builds: 1 });
  });
});
