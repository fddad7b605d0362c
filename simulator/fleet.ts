import { Registration } from '../lambda/fleet/fleet-protocol';
import { DEFAULT_PLANNER_OPTIONS } from '../lambda/planning/fill-plan';
import { hash32, RendezvousNodes } from '../lambda/shared/rendezvous';
import { random } from './synthetic';

/**
 * A seeded synthetic fleet for benchmarks: ISP clusters of appliances in four regions, and what
 * each appliance holds, placed the way fill planning places content (`lambda/planning/fill-plan.ts`):
 * per cluster, titles by predicted demand per byte, densest first, whole, until each appliance's
 * disk less headroom is used; a title expected to take more than `hotShare` of one appliance's
 * share of the cluster's demand gets copies on more appliances; each title prefers its rendezvous
 * order of its cluster's appliances (`lambda/shared/rendezvous.ts`), the planner's own.
 */
export interface SyntheticFleetOptions {
  readonly appliances: number;
  readonly titles: number;
  readonly seed: number;
  /** The time health reports are dated against: every appliance reported in the 30 s before it. */
  readonly nowMs: number;
}

/** What an appliance registers with. */
export type SyntheticAppliance = Registration;

/** An appliance's latest health report. */
export interface SyntheticHealth {
  readonly reportedAtMs: number;
  readonly load: number;
  readonly errorRate: number;
}

export interface SyntheticFleet {
  readonly appliances: SyntheticAppliance[];
  /** By appliance (same order as `appliances`): the title ids it holds, in placement order. */
  readonly holdings: string[][];
  /** By appliance: its latest health report. */
  readonly health: SyntheticHealth[];
  /** The catalog, most popular first: `title-0` is the head of every region's Zipf curve. */
  readonly titleIds: string[];
  /** By title (same order as `titleIds`): its bytes, whole ladder. */
  readonly titleBytes: Float64Array;
}

export const SYNTHETIC_REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1', 'ap-southeast-1'] as const;

const MIN_CLUSTER_APPLIANCES = 4;
const MAX_CLUSTER_APPLIANCES = 20;
/** Cluster sizes are 4 + 17·u^1.83 (u uniform), floored: many small clusters, a few large, mean about 10. */
const CLUSTER_SIZE_SKEW = 1.83;
/** Catalog popularity by rank follows 1 / rank^0.9, as the steering benchmark's requests do. */
export const CATALOG_ZIPF = 0.9;
/** How much a region's taste differs from the global curve: the standard deviation of a log-popularity offset. */
const REGIONAL_TASTE_SIGMA = 0.5;
const MIN_TITLE_BYTES = 200e6;
const MAX_TITLE_BYTES = 40e9;
/** Log-normal sizes centred on the geometric mean of the bounds (2.8 GB), clamped to them. */
const MEDIAN_TITLE_BYTES = Math.sqrt(MIN_TITLE_BYTES * MAX_TITLE_BYTES);
const TITLE_BYTES_SIGMA = 1;
const MIN_DISK_BYTES = 50e12;
const MAX_DISK_BYTES = 250e12;
const EGRESS_GBPS = [10, 40, 100] as const;
/** Each cluster announces one /24 inside 10.0.0.0/8, so the fleet has room for this many. */
const MAX_CLUSTERS = 65_536;
/** Health as the steering benchmark has always drawn it, loads to six decimals as reports carry them. */
const REPORT_SPREAD_MS = 30_000;
const MAX_SYNTHETIC_LOAD = 0.95;
/** The share of appliances failing half their requests. */
const FAILING_SHARE = 0.02;

/** Generates the fleet; 20,000 appliances over 50,000 titles take a few seconds. */
export function syntheticFleet(options: SyntheticFleetOptions): SyntheticFleet {
  for (const name of ['appliances', 'titles'] as const) {
    if (!Number.isInteger(options[name]) || options[name] < 0) {
      throw new RangeError(`syntheticFleet: ${name} must be a whole number, not ${options[name]}`);
    }
  }
  const next = random(options.seed);
  const titleIds = Array.from({ length: options.titles }, (_, index) => `title-${index}`);
  const titleBytes = Float64Array.from({ length: options.titles }, () => Math.min(MAX_TITLE_BYTES, Math.max(MIN_TITLE_BYTES, Math.round(MEDIAN_TITLE_BYTES * Math.exp(TITLE_BYTES_SIGMA * gaussian(next))))));
  const regionalDemand = SYNTHETIC_REGIONS.map(() => Float64Array.from({ length: options.titles }, (_, index) => Math.exp(REGIONAL_TASTE_SIGMA * gaussian(next)) / Math.pow(index + 1, CATALOG_ZIPF)));
  const regionalRanking = regionalDemand.map((demand) => densestFirst(demand, titleBytes));
  const titleHashes = Uint32Array.from(titleIds, hash32);

  const sizes = clusterSizes(options.appliances, next);
  if (sizes.length > MAX_CLUSTERS) {
    throw new RangeError(`syntheticFleet: ${options.appliances} appliances make ${sizes.length} clusters, more than the ${MAX_CLUSTERS} that have a /24 of 10.0.0.0/8 each`);
  }
  const appliances: SyntheticAppliance[] = [];
  const holdings: string[][] = [];
  const health: SyntheticHealth[] = [];
  sizes.forEach((size, cluster) => {
    const region = cluster % SYNTHETIC_REGIONS.length;
    const prefixes = [`10.${cluster >> 8}.${cluster & 255}.0/24`, ...(cluster % 10 === 0 ? [`10.${cluster >> 8}.0.0/16`] : [])];
    const disks: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < size; i++) {
      const diskBytes = Math.round(MIN_DISK_BYTES + next() * (MAX_DISK_BYTES - MIN_DISK_BYTES));
      disks.push(diskBytes);
      ids.push(`oca-${cluster}-${i}`);
      appliances.push({
        applianceId: ids[i],
        clusterId: `isp-${cluster}`,
        region: SYNTHETIC_REGIONS[region],
        baseUrl: `https://oca-${cluster}-${i}.isp-${cluster}.example`,
        prefixes,
        capacity: { egressGbps: EGRESS_GBPS[Math.floor(next() * EGRESS_GBPS.length)], diskBytes },
      });
      health.push({
        reportedAtMs: options.nowMs - Math.floor(next() * REPORT_SPREAD_MS),
        load: Math.round(next() * MAX_SYNTHETIC_LOAD * 1e6) / 1e6,
        errorRate: next() < FAILING_SHARE ? 0.5 : 0.001,
      });
    }
    holdings.push(...placeCluster(new RendezvousNodes(ids), titleHashes, disks, regionalRanking[region], regionalDemand[region], titleBytes, titleIds));
  });
  return { appliances, holdings, health, titleIds, titleBytes };
}

/** Cluster sizes of 4 to 20 summing to `appliances` (a fleet of fewer than 4 is one cluster). */
function clusterSizes(appliances: number, next: () => number): number[] {
  const sizes: number[] = [];
  for (let left = appliances; left > 0; ) {
    let size = MIN_CLUSTER_APPLIANCES + Math.floor((MAX_CLUSTER_APPLIANCES - MIN_CLUSTER_APPLIANCES + 1) * Math.pow(next(), CLUSTER_SIZE_SKEW));
    if (left - size < MIN_CLUSTER_APPLIANCES) {
      // Too few would be left for a cluster of their own: take them all, or leave exactly enough.
      size = left <= MAX_CLUSTER_APPLIANCES ? left : left - MIN_CLUSTER_APPLIANCES;
    }
    sizes.push(size);
    left -= size;
  }
  return sizes;
}

/** Title indices by demand per byte, highest first, ties by index (the planner breaks them by id). */
function densestFirst(demand: Float64Array, bytes: Float64Array): Uint32Array {
  const density = demand.map((value, index) => value / bytes[index]);
  return Uint32Array.from({ length: demand.length }, (_, index) => index).sort((a, b) => density[b] - density[a] || a - b);
}

/**
 * One cluster's placement, as `placeCluster` in fill-plan does it: densest first, `wanted` copies
 * by the hot-title rule, each on the first appliances of the title's rendezvous order that still
 * have room. The order is only sorted when the title's first choice is full or more copies are
 * wanted: otherwise finding that first choice is enough. Returns the title ids each appliance
 * holds, in placement order.
 */
function placeCluster(nodes: RendezvousNodes, titleHashes: Uint32Array, disks: readonly number[], ranking: Uint32Array, demand: Float64Array, bytes: Float64Array, titleIds: readonly string[]): string[][] {
  const size = disks.length;
  const free = Float64Array.from(disks, (disk) => Math.floor(disk * (1 - DEFAULT_PLANNER_OPTIONS.headroomShare)));
  let total = 0;
  for (const title of ranking) {
    total += demand[title];
  }
  const hotDemand = DEFAULT_PLANNER_OPTIONS.hotShare * (total / size);
  // By ranking position: the one appliance holding it, NONE, or MANY (then listed in `copiesAt`).
  const holder = new Int32Array(ranking.length).fill(NONE);
  const copiesAt = new Map<number, number[]>();
  const counts = new Int32Array(size);
  const order = new Int32Array(size);
  let roomiest = Math.max(...free);
  for (let position = 0; position < ranking.length && roomiest >= MIN_TITLE_BYTES; position++) {
    const title = ranking[position];
    const titleBytes = bytes[title];
    if (titleBytes > roomiest) {
      continue;
    }
    const wanted = Math.min(size, Math.max(1, Math.ceil(demand[title] / hotDemand)));
    if (wanted === 1) {
      const first = nodes.first(titleHashes[title]);
      if (free[first] >= titleBytes) {
        free[first] -= titleBytes;
        holder[position] = first;
        counts[first]++;
        continue;
      }
    }
    nodes.order(titleHashes[title], order);
    const chosen: number[] = [];
    for (let at = 0; at < size && chosen.length < wanted; at++) {
      if (free[order[at]] >= titleBytes) {
        chosen.push(order[at]);
      }
    }
    for (const appliance of chosen) {
      free[appliance] -= titleBytes;
      counts[appliance]++;
    }
    if (chosen.length === 1) {
      holder[position] = chosen[0];
    } else if (chosen.length > 1) {
      holder[position] = MANY;
      copiesAt.set(position, chosen);
    }
    if (chosen.length < wanted) {
      // Some appliance in the title's order was full: the bound on the room left may have dropped.
      roomiest = Math.max(...free);
    }
  }
  // Sized up front: 10^8 pushes onto growing arrays is most of the work otherwise.
  const placed = Array.from(counts, (count) => new Array<string>(count));
  const filled = new Int32Array(size);
  for (let position = 0; position < ranking.length; position++) {
    const one = holder[position];
    if (one >= 0) {
      placed[one][filled[one]++] = titleIds[ranking[position]];
    } else if (one === MANY) {
      for (const appliance of copiesAt.get(position)!) {
        placed[appliance][filled[appliance]++] = titleIds[ranking[position]];
      }
    }
  }
  return placed;
}

const NONE = -1;
const MANY = -2;

function gaussian(next: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
}
