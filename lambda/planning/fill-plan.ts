import { createHash } from 'node:crypto';
import { checkManifest, FillManifest, ManifestObject } from '../shared/fill-manifest';

/**
 * Nightly fill planning, pure: from each cluster's demand history, the release schedule, title
 * sizes and the fleet, decide what every appliance holds tomorrow. Open Connect style: content is
 * pushed before it is asked for, not cached on first request.
 *
 * 1. Predict tomorrow's demand per cluster and title: a decaying average of the daily demand since
 *    the title's release (so a title out for two days is judged on two days, not diluted over two
 *    weeks), blended with the title's demand across all clusters scaled to this cluster's volume
 *    (small clusters have noisy histories). A title releasing tomorrow has no history; it is
 *    predicted to do as well as the cluster's `releasePriorRank`-th title.
 * 2. Rank titles by predicted demand per stored byte and place them whole, densest first, until the
 *    cluster's capacity less headroom is used (a title that does not fit is skipped; smaller ones
 *    may still fit).
 * 3. Spread them over the cluster's appliances by rendezvous hashing (each title prefers a fixed
 *    order of appliances, so a change of fleet moves few titles). A title expected to take more than
 *    `hotShare` of one appliance's share of the cluster's demand gets a copy on more appliances.
 *
 * Same inputs, same plan: ties break on title id and every hash is SHA-256.
 */

/** A title as planning sees it: what placing it whole costs on one appliance. */
export interface PlanTitle {
  readonly titleId: string;
  /** Every object the title needs, summed. */
  readonly bytes: number;
  /** The first day the title may be played; titles releasing on the planned day are placed ahead. */
  readonly releaseDay: number;
}

export interface PlanAppliance {
  readonly id: string;
  readonly capacityBytes: number;
}

export interface PlanCluster {
  readonly id: string;
  readonly appliances: readonly PlanAppliance[];
}

/** One cluster's past demand: title id to (day to demand, in bytes requested or plays). */
export type ClusterDemand = ReadonlyMap<string, ReadonlyMap<number, number>>;

export interface PlannerOptions {
  /** Days of history looked at. */
  readonly historyDays: number;
  /** Weight of each older day relative to the next (0-1): 0.9 halves a day's weight in about 6.6 days. */
  readonly decay: number;
  /** Share of every appliance kept free. */
  readonly headroomShare: number;
  /** Weight of the all-cluster demand against the cluster's own (0 = own only). */
  readonly globalWeight: number;
  /** A new release is expected to do as well as the cluster's title of this rank. */
  readonly releasePriorRank: number;
  /** A title predicted above this share of one appliance's demand gets more copies. */
  readonly hotShare: number;
}

export const DEFAULT_PLANNER_OPTIONS: PlannerOptions = {
  historyDays: 14,
  decay: 0.9,
  headroomShare: 0.02,
  globalWeight: 0.3,
  releasePriorRank: 5,
  hotShare: 0.5,
};

export interface PlanInput {
  /** The day the plan serves (whole days; the same numbering as `releaseDay` and the demand). */
  readonly day: number;
  readonly titles: readonly PlanTitle[];
  readonly clusters: readonly PlanCluster[];
  /** Demand history by cluster id; a cluster without any is planned from the others'. */
  readonly demand: ReadonlyMap<string, ClusterDemand>;
  readonly options?: Partial<PlannerOptions>;
}

export interface ClusterPlan {
  readonly clusterId: string;
  /** Title ids each appliance holds, in placement order. */
  readonly placements: ReadonlyMap<string, readonly string[]>;
  /** Every title held somewhere in the cluster, in placement order. */
  readonly titles: readonly string[];
  /** Bytes placed on each appliance; never above its capacity less headroom. */
  readonly bytesPlaced: ReadonlyMap<string, number>;
}

/** Plans every cluster for `input.day`. Titles not yet released by that day are never placed. */
export function planFills(input: PlanInput): ClusterPlan[] {
  const options = { ...DEFAULT_PLANNER_OPTIONS, ...input.options };
  const playable = input.titles.filter((title) => title.releaseDay <= input.day && title.bytes > 0);
  const perCluster = new Map(input.clusters.map((cluster) => [cluster.id, predictDemand(input.demand.get(cluster.id), playable, input.day, options)]));
  const global = sumPredictions([...perCluster.values()]);
  const globalTotal = total(global);
  return input.clusters.map((cluster) => {
    const own = perCluster.get(cluster.id)!;
    const ownTotal = total(own);
    const scale = globalTotal > 0 ? (ownTotal > 0 ? ownTotal : globalTotal / input.clusters.length) / globalTotal : 0;
    const blended = new Map<string, number>();
    for (const title of playable) {
      const mine = own.get(title.titleId) ?? 0;
      const everyone = (global.get(title.titleId) ?? 0) * scale;
      blended.set(title.titleId, (1 - options.globalWeight) * mine + options.globalWeight * everyone);
    }
    withReleasePriors(blended, playable, input.day, options.releasePriorRank);
    return placeCluster(cluster, playable, blended, options);
  });
}

/** Predicted demand tomorrow per title: a decaying average over the days each title was out. */
function predictDemand(history: ClusterDemand | undefined, titles: readonly PlanTitle[], day: number, options: PlannerOptions): Map<string, number> {
  const predicted = new Map<string, number>();
  if (!history) {
    return predicted;
  }
  for (const title of titles) {
    const days = history.get(title.titleId);
    if (!days) {
      continue;
    }
    let weighted = 0;
    let weights = 0;
    let weight = 1;
    for (let past = day - 1; past >= Math.max(title.releaseDay, day - options.historyDays); past--) {
      weighted += (days.get(past) ?? 0) * weight;
      weights += weight;
      weight *= options.decay;
    }
    if (weights > 0 && weighted > 0) {
      predicted.set(title.titleId, weighted / weights);
    }
  }
  return predicted;
}

/** New releases have no history: expect them to do as well as the cluster's n-th title. */
function withReleasePriors(predicted: Map<string, number>, titles: readonly PlanTitle[], day: number, rank: number): void {
  const known = [...predicted.values()].filter((value) => value > 0).sort((a, b) => b - a);
  const prior = known.length === 0 ? 1 : known[Math.min(rank, known.length) - 1];
  for (const title of titles) {
    if (title.releaseDay === day) {
      predicted.set(title.titleId, Math.max(predicted.get(title.titleId) ?? 0, prior));
    }
  }
}

function placeCluster(cluster: PlanCluster, titles: readonly PlanTitle[], predicted: ReadonlyMap<string, number>, options: PlannerOptions): ClusterPlan {
  const free = new Map(cluster.appliances.map((appliance) => [appliance.id, Math.floor(appliance.capacityBytes * (1 - options.headroomShare))]));
  const placements = new Map<string, string[]>(cluster.appliances.map((appliance) => [appliance.id, []]));
  const bytesPlaced = new Map(cluster.appliances.map((appliance) => [appliance.id, 0]));
  const ranked = titles
    .filter((title) => (predicted.get(title.titleId) ?? 0) > 0)
    .map((title) => ({ title, demand: predicted.get(title.titleId)!, density: predicted.get(title.titleId)! / title.bytes }))
    .sort((a, b) => b.density - a.density || (a.title.titleId < b.title.titleId ? -1 : 1));
  const demandPerAppliance = ranked.reduce((sum, entry) => sum + entry.demand, 0) / Math.max(1, cluster.appliances.length);
  const placedTitles: string[] = [];

  for (const { title, demand } of ranked) {
    const wanted = Math.min(cluster.appliances.length, Math.max(1, Math.ceil(demand / (options.hotShare * demandPerAppliance))));
    let copies = 0;
    for (const applianceId of rendezvousOrder(title.titleId, cluster.appliances)) {
      if (copies === wanted) {
        break;
      }
      if (free.get(applianceId)! >= title.bytes) {
        free.set(applianceId, free.get(applianceId)! - title.bytes);
        bytesPlaced.set(applianceId, bytesPlaced.get(applianceId)! + title.bytes);
        placements.get(applianceId)!.push(title.titleId);
        copies++;
      }
    }
    if (copies > 0) {
      placedTitles.push(title.titleId);
    }
  }
  return { clusterId: cluster.id, placements, titles: placedTitles, bytesPlaced };
}

/** Appliances in the order a title prefers them: highest SHA-256 of (title, appliance) first. */
export function rendezvousOrder(titleId: string, appliances: readonly PlanAppliance[]): string[] {
  if (appliances.length === 1) {
    return [appliances[0].id];
  }
  return appliances
    .map((appliance) => ({ id: appliance.id, score: createHash('sha256').update(`${titleId}\0${appliance.id}`).digest().readUInt32BE(0) }))
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1))
    .map((entry) => entry.id);
}

function sumPredictions(maps: readonly ReadonlyMap<string, number>[]): Map<string, number> {
  const sum = new Map<string, number>();
  for (const map of maps) {
    for (const [titleId, value] of map) {
      sum.set(titleId, (sum.get(titleId) ?? 0) + value);
    }
  }
  return sum;
}

function total(map: ReadonlyMap<string, number>): number {
  let sum = 0;
  for (const value of map.values()) {
    sum += value;
  }
  return sum;
}

export interface ManifestTiming {
  readonly generation: number;
  readonly createdAt: string;
  readonly validUntil: string;
}

/**
 * The unsigned manifest of one cluster's plan: every object of every placed title, and which
 * appliance holds which title. `objectsOf` gives a title's objects (all of them: a title is whole).
 * Throws `ManifestRejectedError` for a manifest appliances would refuse (a bad key, a validity
 * too long), so none is ever signed.
 */
export function manifestOf(plan: ClusterPlan, objectsOf: (titleId: string) => readonly ManifestObject[], timing: ManifestTiming): Omit<FillManifest, 'format'> {
  const manifest = {
    clusterId: plan.clusterId,
    generation: timing.generation,
    createdAt: timing.createdAt,
    validUntil: timing.validUntil,
    objects: plan.titles.flatMap((titleId) => objectsOf(titleId)),
    placements: Object.fromEntries(plan.placements),
  };
  checkManifest(manifest);
  return manifest;
}
