import { DEFAULT_PLANNER_OPTIONS } from '../../lambda/planning/fill-plan';
import { SyntheticFleet, syntheticFleet } from '../../simulator/fleet';

const NOW = 1_800_000_000_000;
const TB = 1e12;

describe('syntheticFleet', () => {
  const fleet = syntheticFleet({ appliances: 1000, titles: 3000, seed: 1, nowMs: NOW });
  const byCluster = (of: SyntheticFleet) => {
    const clusters = new Map<string, number[]>();
    of.appliances.forEach((appliance, i) => clusters.set(appliance.clusterId, [...(clusters.get(appliance.clusterId) ?? []), i]));
    return [...clusters.values()];
  };

  it('makes the same fleet from the same seed, and another from another seed', () => {
    const again = syntheticFleet({ appliances: 1000, titles: 3000, seed: 1, nowMs: NOW });
    const other = syntheticFleet({ appliances: 1000, titles: 3000, seed: 2, nowMs: NOW });

    expect(again).toEqual(fleet);
    expect(other.holdings).not.toEqual(fleet.holdings);
  });

  it('has the appliances and titles asked for, in ISP clusters of 4 to 20 (about 10), and titles of 200 MB to 40 GB', () => {
    const sizes = byCluster(fleet).map((members) => members.length);

    expect([fleet.appliances.length, fleet.holdings.length, fleet.health.length, fleet.titleIds.length, fleet.titleBytes.length]).toEqual([1000, 1000, 1000, 3000, 3000]);
    expect(sizes.every((size) => size >= 4 && size <= 20)).toBe(true);
    expect(1000 / sizes.length).toBeGreaterThan(8);
    expect(1000 / sizes.length).toBeLessThan(12);
    expect(Math.min(...fleet.titleBytes)).toBeGreaterThanOrEqual(200e6);
    expect(Math.max(...fleet.titleBytes)).toBeLessThanOrEqual(40e9);
    expect(fleet.appliances.every(({ capacity }) => capacity.diskBytes >= 50 * TB && capacity.diskBytes <= 250 * TB)).toBe(true);
  });

  it('names appliances, clusters and titles as the platform does, and gives each cluster a /24 (every tenth a covering /16 too)', () => {
    expect(fleet.appliances[0]).toMatchObject({ applianceId: 'oca-0-0', clusterId: 'isp-0', region: 'us-east-1', prefixes: ['10.0.0.0/24', '10.0.0.0/16'] });
    expect(fleet.appliances.find((appliance) => appliance.clusterId === 'isp-13')).toMatchObject({ applianceId: 'oca-13-0', region: 'us-west-2', prefixes: ['10.0.13.0/24'] });
    expect(fleet.titleIds.slice(0, 2)).toEqual(['title-0', 'title-1']);
    expect(fleet.health.every((health) => health.reportedAtMs <= NOW && health.reportedAtMs > NOW - 30_000)).toBe(true);
  });

  it('fills an appliance up to its disk less the planner\'s headroom and no further, a title at most once', () => {
    // A catalog of 200,000 titles (about 900 TB) fills the appliances with the smallest disks.
    const crowded = syntheticFleet({ appliances: 40, titles: 200_000, seed: 1, nowMs: NOW });
    const index = new Map(crowded.titleIds.map((titleId, i) => [titleId, i]));
    const fullness = crowded.appliances.map((appliance, i) => {
      expect(new Set(crowded.holdings[i]).size).toBe(crowded.holdings[i].length);
      return crowded.holdings[i].reduce((sum, titleId) => sum + crowded.titleBytes[index.get(titleId)!], 0) / appliance.capacity.diskBytes;
    });

    expect(Math.max(...fullness)).toBeGreaterThan(0.95);
    expect(Math.max(...fullness)).toBeLessThanOrEqual(1 - DEFAULT_PLANNER_OPTIONS.headroomShare);
  });

  it('gives the most popular titles copies on more appliances of a cluster than the tail, which has one', () => {
    const copies = (titleId: string) =>
      byCluster(fleet).map((members) => members.filter((i) => fleet.holdings[i].includes(titleId)).length).filter((count) => count > 0);
    const mean = (counts: number[]) => counts.reduce((sum, count) => sum + count, 0) / counts.length;

    expect(mean(copies('title-0'))).toBeGreaterThan(1.3);
    for (const titleId of fleet.titleIds.slice(2000, 2050)) {
      expect(Math.max(...copies(titleId))).toBe(1);
    }
  });
});
