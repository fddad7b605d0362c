import { runBuilds, SteeringRunDependencies } from '../../../lambda/steering/handler';
import { SnapshotBuilder } from '../../../lambda/steering/snapshot-builder';
import { SnapshotStore } from '../../../lambda/steering/snapshot-store';
import { SNAPSHOT_FORMAT, SteeringSnapshot } from '../../../lambda/steering/snapshot';

/** A scheduled run on a fake clock: every build takes `buildMs`, sleeping moves the clock. */
function run(options: { buildMs: number; budgetMs: number; failEvery?: number; previous?: SteeringSnapshot }) {
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
      return { snapshot: { format: SNAPSHOT_FORMAT, region: 'us-east-1', builtAtMs: atMs, titles: [], appliances: [] }, stats: { appliances: 0, titles: 0, registrationsRead: 0, holdingsRead: 0, placementsRead: 0 } };
    },
  } as unknown as SnapshotBuilder;
  const written: number[] = [];
  const store = {
    read: async () => options.previous,
    write: async (snapshot: SteeringSnapshot) => (written.push(snapshot.builtAtMs), { holdingsBytes: 100, healthBytes: 10, snapshotBytes: 100 }),
  } as unknown as SnapshotStore;
  const deps: SteeringRunDependencies = { builder, store, intervalMs: 10_000, nowMs: () => nowMs, sleep: async (ms) => void (nowMs += ms) };
  return { result: runBuilds(deps, () => options.budgetMs - nowMs), built, written, seeded };
}

describe('a scheduled run of the snapshot builder', () => {
  it('builds every 10 s until the next run is due, leaving the invocation time to finish', async () => {
    const { result, built, written } = run({ buildMs: 2_000, budgetMs: 65_000 });
    expect(await result).toMatchObject({ builds: 6, failures: 0 });
    expect(built).toEqual([0, 10_000, 20_000, 30_000, 40_000, 50_000]);
    expect(written).toEqual(built);
  });

  it('goes on after a failed build, and writes nothing for it', async () => {
    const { result, written } = run({ buildMs: 1_000, budgetMs: 65_000, failEvery: 2 });
    expect(await result).toMatchObject({ builds: 3, failures: 3 });
    expect(written).toEqual([0, 20_000, 40_000]);
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
