import { REQUEST_LIMITS } from '../shared/control-table';
import { checkManifest, FillManifest, ManifestObject } from '../shared/fill-manifest';
import { hash32, RendezvousNodes } from '../shared/rendezvous';
import { daysWithDemand, Forecast, predictDemand } from './demand-forecast';
import { isEpisode, latestObservedDay, seriesOf, withBinges } from './series-demand';

/**
 * Nightly fill planning, pure: from each cluster's demand history, the release schedule, title
 * sizes and the fleet, decide what every appliance holds tomorrow. Open Connect style: content is
 * pushed before it is asked for, not cached on first request.
 *
 * 1. Predict tomorrow's demand per cluster and title: a decaying average of the daily demand since
 *    the title's release (so a title out for two days is judged on two days, not diluted over two
 *    weeks), over the days whose data arrived (a lost day is skipped, not read as zero), restarted
 *    on a day the history stops explaining (a taste shift, `demand-forecast.ts`); blended with the
 *    pooled demand of similar clusters scaled to this cluster's volume (small clusters have noisy
 *    or young histories and pool more; a cluster of another taste is not pooled). A title with no
 *    observed day since its release is predicted to do as well as the cluster's
 *    `releasePriorRank`-th title; an episode, from its series (`series-demand.ts`).
 * 2. Rank titles by predicted demand per stored byte, with a bonus for titles the cluster already
 *    holds (keeping costs no fill, and the tail is not re-picked every night), and place them
 *    whole, densest first, until the cluster's capacity less headroom is used (a title that does
 *    not fit is skipped; smaller ones may still fit).
 * 3. Spread them over the cluster's appliances by rendezvous hashing (each title prefers a fixed
 *    order of appliances, so a change of fleet moves few titles), the platform's one order
 *    (`shared/rendezvous.ts`): steering recomputes it to read the holdings in a snapshot, which
 *    are coded relative to it. A title expected to take more than `hotShare` of one appliance's
 *    share of the cluster's demand gets a copy on more appliances.
 *
 * Same inputs, same plan: ties break on title id, rendezvous hashing on appliance id, and no hash
 * depends on the process (FNV-1a and Murmur3's finalizer, not a seeded hash).
 */

/** A title as planning sees it: what placing it whole costs on one appliance. */
export interface PlanTitle {
  readonly titleId: string;
  /** Every object the title needs, summed. */
  readonly bytes: number;
  /** The first day the title may be played; titles releasing on the planned day are placed ahead. */
  readonly releaseDay: number;
  /**
   * The first day the title is no longer available (it leaves the catalog): never placed on or after it.
   * @default - never retired
   */
  readonly retireDay?: number;
  /**
   * The series the title is an episode of: episodes of a series are predicted from each other.
   * @default - not an episode
   */
  readonly seriesId?: string;
  /**
   * Its place in the series (1-based, across seasons: a new season's first episode follows the
   * last season's last). Ignored without `seriesId`.
   * @default - not an episode
   */
  readonly episode?: number;
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
  /**
   * Weight of each older day relative to the next (0-1): 0.92 halves a day's weight in about 8.3
   * days. A longer memory judges a title seldom played on more of its plays (a cache that counts
   * every request keeps such titles); a taste shift restarts the history rather than waiting for it
   * to fade (`tasteShiftShare`).
   */
  readonly decay: number;
  /**
   * A day whose share of demand the forecast does not explain rises more than this (0-1) above
   * the cluster's median day is a taste shift: the cluster's history restarts from it
   * (`demand-forecast.ts`). 1 never restarts it.
   */
  readonly tasteShiftShare: number;

  /** Share of every appliance kept free. */
  readonly headroomShare: number;
  /**
   * Weight of the pooled demand of similar clusters against a cluster's own, for a cluster of
   * average volume (0 = own only). A smaller cluster, whose history is noisier, pools more; a
   * bigger one less.
   */
  readonly poolWeight: number;
  /**
   * Cosine similarity of two clusters' predicted demand at or below which neither pools the
   * other's; above it a cluster counts in proportion to how far above (a cluster of another
   * language pulls no hits into this one).
   */
  readonly poolMinSimilarity: number;
  /** A new release is expected to do as well as the cluster's title of this rank. */
  readonly releasePriorRank: number;
  /** A title predicted above this share of one appliance's demand gets more copies. */
  readonly hotShare: number;
  /**
   * Bonus to the predicted demand of a title the cluster already holds (keeping it costs no
   * fill): 0.2 keeps a held title over a newcomer up to 20% denser. After a taste shift it is
   * divided by the share of a full history window the forecast rests on, until that grows back.
   */
  readonly holdBonus: number;
  /**
   * Share of the viewers of an episode on a day expected to watch the next episode the day after
   * (0-1): an episode new or not yet reached by its viewers is predicted this share of its
   * predecessor's latest observed demand.
   */
  readonly bingeShare: number;
}

export const DEFAULT_PLANNER_OPTIONS: PlannerOptions = {
  historyDays: 28,
  decay: 0.92,
  tasteShiftShare: 0.07,
  headroomShare: 0.02,
  poolWeight: 0.3,
  poolMinSimilarity: 0.5,
  releasePriorRank: 5,
  hotShare: 0.5,
  holdBonus: 0.2,
  bingeShare: 0.7,
};

export interface PlanInput {
  /** The day the plan serves (whole days; the same numbering as `releaseDay` and the demand). */
  readonly day: number;
  readonly titles: readonly PlanTitle[];
  readonly clusters: readonly PlanCluster[];
  /** Demand history by cluster id; a cluster without any is planned from the others'. */
  readonly demand: ReadonlyMap<string, ClusterDemand>;
  /**
   * The days whose demand data arrived, by cluster id. A day of the history window not listed is
   * missing (a lost export): it is left out of the averages, where a listed day with no demand for
   * a title counts as zero.
   * @default - the days on which the cluster has any demand: a day with none at all is missing data
   */
  readonly observedDays?: ReadonlyMap<string, ReadonlySet<number>>;
  /**
   * Title ids each cluster holds now (last night's plan). They win ties against titles that would
   * have to be filled, and are kept while room is left even with no demand.
   * @default - nothing is held
   */
  readonly held?: ReadonlyMap<string, ReadonlySet<string>>;
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

/** Plans every cluster for `input.day`. Titles not yet released or already retired by that day are never placed. */
export function planFills(input: PlanInput): ClusterPlan[] {
  const options = { ...DEFAULT_PLANNER_OPTIONS, ...input.options };
  const playable = input.titles.filter((title) => title.releaseDay <= input.day && input.day < (title.retireDay ?? Infinity) && title.bytes > 0);
  const observed = (clusterId: string) => {
    const days = input.observedDays?.get(clusterId) ?? daysWithDemand(input.demand.get(clusterId));
    return (past: number) => days.has(past);
  };
  const forecasts = new Map(input.clusters.map((cluster) => [cluster.id, predictDemand(input.demand.get(cluster.id), playable, input.day, observed(cluster.id), options)]));
  const pooled = pooledDemand(input.clusters.map((cluster) => forecasts.get(cluster.id)!), options);
  const series = seriesOf(playable);
  return input.clusters.map((cluster, index) => {
    const predicted = pooled[index];
    const { unobserved } = forecasts.get(cluster.id)!;
    const prior = releasePrior(predicted, options.releasePriorRank);
    withReleasePriors(predicted, playable, unobserved, prior);
    if (series.length > 0) {
      withBinges(predicted, series, input.demand.get(cluster.id), latestObservedDay(input.day, observed(cluster.id), options), unobserved, prior, options.bingeShare);
    }
    return placeCluster(cluster, playable, predicted, input.held?.get(cluster.id) ?? new Set(), holdBonusOf(forecasts.get(cluster.id)!, options), options);
  });
}

/**
 * Each cluster's prediction blended with the pooled prediction of the clusters like it: each other
 * cluster counts by its volume and by how similar its demand is (cosine above
 * `poolMinSimilarity`), scaled to this cluster's volume. The blend leans on the pool in inverse
 * proportion to the cluster's evidence (its volume times the share of a full history window it
 * has). A cluster with no history takes the pool of every cluster.
 */
function pooledDemand(forecasts: readonly Forecast[], options: PlannerOptions): Map<string, number>[] {
  const own = forecasts.map((forecast) => forecast.predicted);
  const totals = own.map(total);
  const norms = own.map((map) => Math.sqrt([...map.values()].reduce((sum, value) => sum + value * value, 0)));
  const known = totals.map((_, index) => index).filter((index) => totals[index] > 0);
  if (known.length === 0) {
    return own.map(() => new Map());
  }
  const meanTotal = known.reduce((sum, index) => sum + totals[index], 0) / known.length;
  return own.map((mine, index) => {
    const fresh = totals[index] === 0;
    const affinity = known.map((other) => (fresh ? 1 : other === index ? 1 : similarityWeight(cosine(mine, own[other], norms[index] * norms[other]), options.poolMinSimilarity)));
    const pooledTotal = known.reduce((sum, other, at) => sum + affinity[at] * totals[other], 0);
    const volume = fresh ? meanTotal : totals[index];
    // Evidence grows with volume and with days of history: a young or lossy history pools more.
    const relative = (options.poolWeight * meanTotal) / (volume * Math.max(forecasts[index].historyShare, 1e-3));
    const share = fresh ? 1 : relative / (relative + 1 - options.poolWeight);
    const blended = new Map<string, number>();
    for (const [at, other] of known.entries()) {
      if (affinity[at] === 0) {
        continue;
      }
      const scale = (share * affinity[at] * volume) / pooledTotal;
      for (const [titleId, value] of own[other]) {
        blended.set(titleId, (blended.get(titleId) ?? 0) + value * scale);
      }
    }
    for (const [titleId, value] of mine) {
      blended.set(titleId, (blended.get(titleId) ?? 0) + (1 - share) * value);
    }
    return blended;
  });
}

function cosine(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>, norms: number): number {
  if (norms === 0) {
    return 0;
  }
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let dot = 0;
  for (const [titleId, value] of small) {
    dot += value * (large.get(titleId) ?? 0);
  }
  return dot / norms;
}

/** 0 at or below `minimum`, rising linearly to 1 for identical demand. */
function similarityWeight(similarity: number, minimum: number): number {
  return minimum >= 1 ? 0 : Math.max(0, (similarity - minimum) / (1 - minimum));
}

/**
 * New releases have no history: expect them to do as well as the cluster's n-th title until a day
 * of theirs has been observed (a lost day of data does not make a premiere look unwatched).
 */
function withReleasePriors(predicted: Map<string, number>, titles: readonly PlanTitle[], unobserved: ReadonlySet<string>, prior: number): void {
  for (const title of titles) {
    if (unobserved.has(title.titleId) && !isEpisode(title)) {
      predicted.set(title.titleId, Math.max(predicted.get(title.titleId) ?? 0, prior));
    }
  }
}

/** The cluster's `rank`-th predicted demand: what a new release is expected to do. */
function releasePrior(predicted: ReadonlyMap<string, number>, rank: number): number {
  const known = [...predicted.values()].filter((value) => value > 0).sort((a, b) => b - a);
  return known.length === 0 ? 1 : known[Math.min(rank, known.length) - 1];
}

/** The least history share the hold bonus is divided by after a taste shift: at most 20 times the bonus. */
const MIN_HISTORY_SHARE = 0.05;

/**
 * The hold bonus for a cluster's plan. Right after a taste shift the forecast rests on a day or
 * two, whose noise would re-pick the tail every night while the new history builds up: until it
 * does, a held title is displaced only by a newcomer clearly denser, the bonus growing as the
 * share of a full history window the forecast rests on shrinks.
 */
function holdBonusOf(forecast: Forecast, options: PlannerOptions): number {
  return forecast.tasteShiftDays.length === 0 ? options.holdBonus : options.holdBonus / Math.max(forecast.historyShare, MIN_HISTORY_SHARE);
}

function placeCluster(
  cluster: PlanCluster,
  titles: readonly PlanTitle[],
  predicted: ReadonlyMap<string, number>,
  held: ReadonlySet<string>,
  holdBonus: number,
  options: PlannerOptions,
): ClusterPlan {
  const free = new Map(cluster.appliances.map((appliance) => [appliance.id, Math.floor(appliance.capacityBytes * (1 - options.headroomShare))]));
  const placements = new Map<string, string[]>(cluster.appliances.map((appliance) => [appliance.id, []]));
  const bytesPlaced = new Map(cluster.appliances.map((appliance) => [appliance.id, 0]));
  // A held title with no predicted demand still ranks (last): keeping it costs nothing while room is left.
  const ranked = titles
    .filter((title) => (predicted.get(title.titleId) ?? 0) > 0 || held.has(title.titleId))
    .map((title) => {
      const demand = predicted.get(title.titleId) ?? 0;
      return { title, demand, density: (demand * (held.has(title.titleId) ? 1 + holdBonus : 1)) / title.bytes };
    })
    .sort((a, b) => b.density - a.density || (a.title.titleId < b.title.titleId ? -1 : 1));
  const demandPerAppliance = ranked.reduce((sum, entry) => sum + entry.demand, 0) / Math.max(1, cluster.appliances.length);
  const placedTitles: string[] = [];
  const nodes = new RendezvousNodes(cluster.appliances.map((appliance) => appliance.id));
  const order = new Int32Array(nodes.size);

  for (const { title, demand } of ranked) {
    const wanted = Math.min(cluster.appliances.length, Math.max(1, Math.ceil(demand / (options.hotShare * demandPerAppliance))));
    let copies = 0;
    nodes.order(hash32(title.titleId), order);
    for (const position of order) {
      if (copies === wanted) {
        break;
      }
      const applianceId = cluster.appliances[position].id;
      if (free.get(applianceId)! >= title.bytes && placements.get(applianceId)!.length < REQUEST_LIMITS.placementTitles) {
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
