import { SILENT_AFTER_MS } from '../shared/metric-names';
import { SteeringSnapshot } from './snapshot';

/** What the region's dashboard shows of its own appliances, as of one snapshot. */
export interface FleetFigures {
  readonly appliancesRegistered: number;
  /** Registered appliances with no report in the last `SILENT_AFTER_MS` (or none ever). */
  readonly appliancesSilent: number;
  /** Dictionary titles held by at least one appliance. */
  readonly titlesHeld: number;
}

/**
 * The figures at `nowMs` of the appliances that report to the snapshot's region: one pass and an
 * OR of their holdings. The snapshot holds the other region's appliances too (the registry is a
 * global table), whose reports reach this replica only as fast as replication: counting them would
 * page this region for the other's outage.
 */
export function fleetFigures(snapshot: SteeringSnapshot, nowMs: number): FleetFigures {
  const words = Math.ceil(snapshot.titles.length / 32);
  const held = new Uint32Array(words);
  let registered = 0;
  let silent = 0;
  for (const appliance of snapshot.appliances) {
    if (appliance.region !== snapshot.region) {
      continue;
    }
    registered++;
    if (appliance.reportedAtMs === undefined || nowMs - appliance.reportedAtMs > SILENT_AFTER_MS) {
      silent++;
    }
    const { holdings } = appliance;
    for (let word = 0; word < Math.min(words, holdings.length); word++) {
      held[word] |= holdings[word];
    }
  }
  let titlesHeld = 0;
  for (const word of held) {
    titlesHeld += bitCount(word);
  }
  return { appliancesRegistered: registered, appliancesSilent: silent, titlesHeld };
}

function bitCount(word: number): number {
  let bits = word - ((word >>> 1) & 0x55555555);
  bits = (bits & 0x33333333) + ((bits >>> 2) & 0x33333333);
  return (((bits + (bits >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}
