import { SILENT_AFTER_MS } from '../../../lambda/shared/metric-names';
import { fleetFigures } from '../../../lambda/steering/fleet-figures';
import { SnapshotAppliance, SNAPSHOT_FORMAT, SteeringSnapshot } from '../../../lambda/steering/snapshot';

const NOW = 1_800_000_000_000;

function appliance(id: string, reportedAtMs: number | undefined, heldPositions: readonly number[], titles: number, region = 'us-east-1'): SnapshotAppliance {
  const holdings = new Uint32Array(Math.ceil(titles / 32));
  for (const position of heldPositions) {
    holdings[position >>> 5] |= 1 << (position & 31);
  }
  return { applianceId: id, clusterId: 'isp-a', region, baseUrl: `https://${id}.example`, prefixes: ['198.51.100.0/24'], reportedAtMs, registrationVersion: 1, holdings };
}

describe('fleetFigures', () => {
  it('counts silent appliances by report age and titles held by anyone, across word boundaries', () => {
    const titles = Array.from({ length: 70 }, (_, index) => `t${index}`);
    const snapshot: SteeringSnapshot = {
      format: SNAPSHOT_FORMAT,
      region: 'us-east-1',
      builtAtMs: NOW,
      titles,
      appliances: [
        appliance('fresh', NOW - 1_000, [0, 31, 32], titles.length),
        appliance('just-in-time', NOW - SILENT_AFTER_MS, [31, 69], titles.length),
        appliance('late', NOW - SILENT_AFTER_MS - 1, [5], titles.length),
        appliance('never', undefined, [], titles.length),
      ],
    };
    expect(fleetFigures(snapshot, NOW)).toEqual({ appliancesRegistered: 4, appliancesSilent: 2, titlesHeld: 5 });
  });

  it('counts only the appliances reporting to the snapshot\'s region: the other region\'s arrive late by replication', () => {
    const titles = ['t0', 't1', 't2'];
    const snapshot: SteeringSnapshot = {
      format: SNAPSHOT_FORMAT,
      region: 'us-east-1',
      builtAtMs: NOW,
      titles,
      appliances: [appliance('here', NOW, [0], 3), appliance('there-late', NOW - 10 * SILENT_AFTER_MS, [1, 2], 3, 'us-west-2'), appliance('there', NOW, [2], 3, 'us-west-2')],
    };
    expect(fleetFigures(snapshot, NOW)).toEqual({ appliancesRegistered: 1, appliancesSilent: 0, titlesHeld: 1 });
    expect(fleetFigures({ ...snapshot, region: 'us-west-2' }, NOW)).toEqual({ appliancesRegistered: 2, appliancesSilent: 1, titlesHeld: 2 });
  });

  it('reports an empty fleet as zeros', () => {
    expect(fleetFigures({ format: SNAPSHOT_FORMAT, region: 'us-east-1', builtAtMs: NOW, titles: [], appliances: [] }, NOW)).toEqual({
      appliancesRegistered: 0,
      appliancesSilent: 0,
      titlesHeld: 0,
    });
  });

  it('counts every bit of a full word once', () => {
    const titles = Array.from({ length: 64 }, (_, index) => `t${index}`);
    const all = Array.from({ length: 64 }, (_, index) => index);
    const snapshot: SteeringSnapshot = { format: SNAPSHOT_FORMAT, region: 'us-east-1', builtAtMs: NOW, titles, appliances: [appliance('a', NOW, all, 64), appliance('b', NOW, all, 64)] };
    expect(fleetFigures(snapshot, NOW).titlesHeld).toBe(64);
  });
});
