import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { rendezvousOrder } from '../../lambda/shared/rendezvous';
import { readWorkloadFiles } from '../../simulator/files';
import { simulate } from '../../simulator/simulate';
import { DEFAULT_SYNTHETIC, syntheticWorkload } from '../../simulator/synthetic';
import { SimAppliance, Workload } from '../../simulator/workload';
import { mustRun, runProcess } from '../support/run-process';

const ROOT = path.join(__dirname, '..', '..');

/** One cluster `isp-a` of `appliances`; `requests` as [day, title id, bytes], in day order. */
function workloadOf(titleIds: readonly string[], appliances: readonly SimAppliance[], requests: readonly [number, string, number][]): Workload {
  return {
    titles: titleIds.map((id) => ({ id, bytes: 100, releaseDay: 0 })),
    clusters: [{ id: 'isp-a', appliances }],
    requests: {
      length: requests.length,
      day: Int32Array.from(requests, ([day]) => day),
      cluster: new Uint16Array(requests.length),
      title: Uint32Array.from(requests, ([, title]) => titleIds.indexOf(title)),
      bytes: Float64Array.from(requests, ([, , bytes]) => bytes),
    },
  };
}

/** Fifteen 10-byte plays of title A a day for two days: 150 bytes a day. */
const HOT_TITLE_DAYS = [0, 1].flatMap((day) => Array.from({ length: 15 }, () => [day, 'A', 10] as [number, string, number]));
/** Two appliances with room for A, each serving 100 bytes a day: A draws more than one can serve. */
const TWO_APPLIANCES = [
  { id: 'oca-1', diskBytes: 1000, egressBytesPerDay: 100 },
  { id: 'oca-2', diskBytes: 1000, egressBytesPerDay: 100 },
];

function writeFiles(fleet: unknown): { trace: string; catalog: string; fleet: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-sim-appliances-'));
  const files = { trace: path.join(dir, 'trace.csv'), catalog: path.join(dir, 'catalog.json'), fleet: path.join(dir, 'fleet.json') };
  fs.writeFileSync(files.trace, 'day,cluster,title,bytes\n0,isp-a,A,10\n');
  fs.writeFileSync(files.catalog, JSON.stringify([{ title: 'A', bytes: 100, releaseDay: 0 }]));
  fs.writeFileSync(files.fleet, JSON.stringify(fleet));
  return files;
}

describe('appliances and egress', () => {
  it('serves a title hotter than one appliance\'s egress fully only when the planner gives it two copies', () => {
    const workload = workloadOf(['A'], TWO_APPLIANCES, HOT_TITLE_DAYS);
    // The default hot share puts A, all of the demand, on both appliances; steering spreads it.
    const copied = simulate(workload, { warmupDays: 0 }).policies.planner;
    expect(copied.offload).toBe(1);
    expect(copied.refusedBytes).toBe(0);
    expect(copied.fillBytes).toBe(200);
    // Plays alternate between the copies: eight of each day's fifteen land on the busier.
    expect(copied.worstEgress?.utilisation).toBe(0.8);
    // A hot share no title reaches keeps one copy: 100 of each day's 150 bytes, the rest refused.
    const single = simulate(workload, { warmupDays: 0, planner: { hotShare: 10 } }).policies.planner;
    expect(single.offload).toBeCloseTo(2 / 3, 12);
    expect(single.refusedBytes).toBe(100);
    expect(single.originBytes).toBe(100);
    expect(single.fillBytes).toBe(100);
    expect(single.worstEgress).toMatchObject({ utilisation: 1 });
  });

  it('caches a title on its rendezvous appliance only, which relays the first miss and refuses once saturated', () => {
    const result = simulate(workloadOf(['A'], TWO_APPLIANCES, HOT_TITLE_DAYS), { warmupDays: 0 });
    // Day 0: a relayed miss (10) and nine hits fill the appliance's 100; day 1: ten hits. Five refused a day.
    expect(result.policies.lru).toMatchObject({ servedBytes: 190, refusedBytes: 100, originBytes: 110, fillBytes: 100 });
    expect(result.policies.lru.worstEgress).toEqual({ id: rendezvousOrder('A', ['oca-1', 'oca-2'])[0], day: 0, utilisation: 1 });
    expect(result.policies.lfu).toMatchObject({ servedBytes: 190, refusedBytes: 100 });
    // Belady pools the cluster's 200 bytes of egress.
    expect(result.policies.belady).toMatchObject({ offload: 1, refusedBytes: 0, worstEgress: { id: 'isp-a', utilisation: 0.75 } });
  });

  it('routes each title to one appliance by rendezvous: titles on different appliances do not evict each other', () => {
    const appliances = ['oca-1', 'oca-2', 'oca-3'].map((id) => ({ id, diskBytes: 100, egressBytesPerDay: Infinity }));
    const ids = appliances.map((appliance) => appliance.id);
    const titles = Array.from({ length: 20 }, (_, index) => `t${index}`);
    const firstOf = (title: string) => rendezvousOrder(title, ids)[0];
    const [one] = titles;
    const sameAppliance = titles.find((title) => title !== one && firstOf(title) === firstOf(one))!;
    const otherAppliance = titles.find((title) => firstOf(title) !== firstOf(one))!;
    const alternate = (other: string) =>
      simulate(workloadOf(titles, appliances, [one, other, one, other].map((title) => [0, title, 10] as [number, string, number])), { warmupDays: 0 }).policies;
    // Each appliance holds one title: on separate appliances the second round hits, on the same one it never does.
    expect(alternate(otherAppliance).lru.servedBytes).toBe(20);
    expect(alternate(sameAppliance).lru.servedBytes).toBe(0);
    expect(alternate(otherAppliance).lfu.servedBytes).toBe(20);
  });

  it('gives the same figures for the same seed, appliances and egress limits', () => {
    const options = { ...DEFAULT_SYNTHETIC, requests: 20_000, days: 4, catalogTitles: 300, appliancesPerCluster: 3, egressShare: 0.4 };
    const first = simulate(syntheticWorkload(options));
    expect(simulate(syntheticWorkload(options))).toEqual(first);
    expect(first.policies.lru.refusedBytes).toBeGreaterThan(0);
  });

  it('splits a synthetic cluster\'s disk over its appliances and sizes their egress from its mean daily demand', () => {
    const options = { ...DEFAULT_SYNTHETIC, requests: 20_000, days: 4, catalogTitles: 300 };
    const plain = syntheticWorkload(options);
    expect(plain.clusters[0].appliances).toEqual([{ id: 'c0-1', diskBytes: expect.any(Number), egressBytesPerDay: Infinity }]);
    const split = syntheticWorkload({ ...options, appliancesPerCluster: 4, egressShare: 0.25 });
    expect(split.requests).toEqual(plain.requests);
    expect(split.clusters[1].appliances.map((appliance) => appliance.id)).toEqual(['c1-1', 'c1-2', 'c1-3', 'c1-4']);
    expect(split.clusters[1].appliances[0].diskBytes).toBe(Math.round(plain.clusters[1].appliances[0].diskBytes / 4));
    let requested = 0;
    plain.requests.cluster.forEach((cluster, index) => (requested += cluster === 1 ? plain.requests.bytes[index] : 0));
    expect(split.clusters[1].appliances[3].egressBytesPerDay).toBe(Math.round((0.25 * requested) / 4));
  });
});

describe('fleet files with appliances', () => {
  it('still reads a cluster given as capacityBytes: one appliance with no egress limit', async () => {
    const workload = await readWorkloadFiles(writeFiles({ clusters: [{ id: 'isp-a', capacityBytes: 205 }] }));
    expect(workload.clusters).toEqual([{ id: 'isp-a', appliances: [{ id: 'isp-a', diskBytes: 205, egressBytesPerDay: Infinity }] }]);
  });

  it('reads appliances with disk and egress, egress optional', async () => {
    const fleet = { clusters: [{ id: 'isp-a', appliances: [{ id: 'oca-1', diskBytes: 500, egressBytesPerDay: 1e6 }, { id: 'oca-2', diskBytes: 300 }] }] };
    const workload = await readWorkloadFiles(writeFiles(fleet));
    expect(workload.clusters[0].appliances).toEqual([
      { id: 'oca-1', diskBytes: 500, egressBytesPerDay: 1e6 },
      { id: 'oca-2', diskBytes: 300, egressBytesPerDay: Infinity },
    ]);
  });

  it.each([
    ['an egress of zero', { clusters: [{ id: 'isp-a', appliances: [{ id: 'oca-1', diskBytes: 500, egressBytesPerDay: 0 }] }] }, /fleet\.json: clusters\.0\.appliances\.0\.egressBytesPerDay: .*>0/],
    ['a disk that is not whole', { clusters: [{ id: 'isp-a', appliances: [{ id: 'oca-1', diskBytes: 1.5 }] }] }, /fleet\.json: clusters\.0\.appliances\.0\.diskBytes: .*int/],
    ['an unknown appliance field', { clusters: [{ id: 'isp-a', appliances: [{ id: 'oca-1', diskBytes: 5, egressGbps: 10 }] }] }, /fleet\.json: clusters\.0\.appliances\.0: .*egressGbps/],
    ['no appliances', { clusters: [{ id: 'isp-a', appliances: [] }] }, /fleet\.json: clusters\.0\.appliances: must list at least one appliance/],
    ['both forms at once', { clusters: [{ id: 'isp-a', capacityBytes: 5, appliances: [{ id: 'oca-1', diskBytes: 5 }] }] }, /fleet\.json: clusters\.0: give either capacityBytes .* or appliances/],
    ['an appliance listed twice', { clusters: [{ id: 'isp-a', appliances: [{ id: 'oca-1', diskBytes: 5 }] }, { id: 'isp-b', appliances: [{ id: 'oca-1', diskBytes: 5 }] }] }, /fleet\.json: appliance 'oca-1' is listed twice/],
  ])('refuses a fleet with %s, naming the field', async (_label, fleet, message) => {
    await expect(readWorkloadFiles(writeFiles(fleet))).rejects.toThrow(message);
  });
});

describe('npm run sim with appliances', () => {
  const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
  const SIM = path.join(ROOT, 'bin', 'sim.ts');

  it('reports refused bytes and the busiest appliance per policy', async () => {
    const result = await mustRun(TSX, [SIM, '--requests', '20000', '--days', '3', '--titles', '300', '--appliances-per-cluster', '2', '--egress-share', '0.3', '--json']);
    const output = JSON.parse(result.stdout);
    expect(output.policies.lru.refusedBytes).toBeGreaterThan(0);
    expect(output.policies.planner.worstEgress).toEqual({ id: expect.stringMatching(/^c\d-[12]$/), day: expect.any(Number), utilisation: expect.any(Number) });
    const table = await mustRun(TSX, [SIM, '--requests', '20000', '--days', '3', '--titles', '300', '--appliances-per-cluster', '2', '--egress-share', '0.3']);
    expect(table.stdout).toMatch(/refused TB +busiest egress/);
  });

  it.each([
    [['--appliances-per-cluster', '0'], /--appliances-per-cluster must be a whole number from 1 to 1000 \(got 0\)/],
    [['--egress-share', '0'], /--egress-share must be above 0 \(got 0\)/],
  ])('refuses %p with a usage error', async (args, message) => {
    const result = await runProcess(TSX, [SIM, ...args]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(message);
  });
});
