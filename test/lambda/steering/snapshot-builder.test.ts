import { holdingsDigest, holdingsOf } from '../../../lambda/fleet/fleet-protocol';
import { ApplianceHealth, ApplianceRegistration, StoredHoldings } from '../../../lambda/fleet/fleet-store';
import { DEFAULT_STEERING_POLICY, FleetIndex } from '../../../lambda/playback/steering';
import { decodeSnapshot, encodeSnapshot } from '../../../lambda/steering/snapshot';
import { FleetSource, SnapshotBuilder } from '../../../lambda/steering/snapshot-builder';

const NOW = Date.parse('2026-11-29T20:00:00Z');

/** A registry in memory: one appliance whose placement and holdings the test changes. */
class MemoryFleet implements FleetSource {
  placements = new Map<number, string[]>();
  holdings?: StoredHoldings;

  hold(generation: number, placed: string[], held: string[]): void {
    this.placements.set(generation, placed);
    const bits = holdingsOf(generation, placed, new Set(held));
    this.holdings = { ...bits, applianceId: 'oca-1', digest: holdingsDigest(bits) };
  }

  readHealth = async (): Promise<ApplianceHealth[]> => [
    {
      applianceId: 'oca-1',
      clusterId: 'isp-a',
      region: 'us-east-1',
      registrationVersion: 1,
      reportedAtMs: NOW,
      load: 0.1,
      errorRate: 0,
      holdings: this.holdings && { generation: this.holdings.generation, count: this.holdings.count, digest: this.holdings.digest },
    },
  ];

  getRegistrations = async (): Promise<ApplianceRegistration[]> => [
    { applianceId: 'oca-1', clusterId: 'isp-a', region: 'us-east-1', baseUrl: 'https://oca-1.example', prefixes: ['198.51.100.0/24'], capacity: { egressGbps: 10, diskBytes: 1e12 }, principalArn: 'p', registeredAt: '', registrationVersion: 1 },
  ];

  getHoldings = async (): Promise<StoredHoldings[]> => (this.holdings ? [this.holdings] : []);

  getPlacement = async (_applianceId: string, generation: number): Promise<string[] | undefined> => this.placements.get(generation);
}

const steers = (snapshot: Parameters<typeof encodeSnapshot>[0], titleId: string) =>
  FleetIndex.fromSnapshot(decodeSnapshot(encodeSnapshot(snapshot)), DEFAULT_STEERING_POLICY)
    .steer({ clientIp: '198.51.100.9', region: 'us-east-1', titleId, sessionKey: 's' }, NOW)
    .map((choice) => choice.appliance.applianceId);

describe('the snapshot builder\'s dictionary', () => {
  it('drops titles nobody holds once they are more than a quarter of it, and steers as before', async () => {
    const fleet = new MemoryFleet();
    const builder = new SnapshotBuilder(fleet, 'us-east-1', { compactEveryBuilds: 1 });
    fleet.hold(1, ['t1', 't2', 't3', 't4'], ['t1', 't2', 't3', 't4']);
    const first = await builder.build(NOW);
    fleet.hold(2, ['t5', 't1'], ['t5']);
    const second = await builder.build(NOW);
    const third = await builder.build(NOW);

    expect(first.snapshot.titles).toEqual(['t1', 't2', 't3', 't4']);
    // Four of five titles nobody holds any more: the build that read generation 2 dropped them.
    expect([second.snapshot.titles, third.snapshot.titles]).toEqual([['t5'], ['t5']]);
    expect([steers(third.snapshot, 't5'), steers(third.snapshot, 't1')]).toEqual([['oca-1'], []]);
  });

  it('keeps a dictionary that is mostly held', async () => {
    const fleet = new MemoryFleet();
    const builder = new SnapshotBuilder(fleet, 'us-east-1', { compactEveryBuilds: 1 });
    fleet.hold(1, ['t1', 't2', 't3', 't4'], ['t1', 't2', 't3']);
    await builder.build(NOW);
    expect((await builder.build(NOW)).snapshot.titles).toEqual(['t1', 't2', 't3', 't4']);
  });
});
