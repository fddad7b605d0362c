import { PlanCluster, planFills, PlannerOptions, PlanTitle } from '../lambda/planning/fill-plan';
import { ApplianceIndex, EgressLedger } from './appliances';
import { MinHeap } from './min-heap';
import { clusterDiskBytes, Workload } from './workload';

/**
 * What became of a request: `served` by an appliance of its cluster; sent to the `origin` because
 * the cluster did not hold the title; or `refused` to the origin because every appliance holding
 * it had spent its egress for the day.
 */
export type Outcome = 'served' | 'origin' | 'refused';

export interface Served {
  readonly outcome: Outcome;
  /** Bytes filled because of the request (a cache's miss). */
  readonly filledBytes: number;
}

const SERVED: Served = { outcome: 'served', filledBytes: 0 };
const ORIGIN: Served = { outcome: 'origin', filledBytes: 0 };
const REFUSED: Served = { outcome: 'refused', filledBytes: 0 };

/**
 * A placement policy under simulation. Each night `night` may fill (returning the bytes it wrote
 * to appliances to do so); each request then asks `serve` whether an appliance of its cluster holds
 * the title and has egress left (a miss may fill as well: that is what caches do).
 */
export interface Policy {
  readonly name: string;
  /** Before `day`'s requests; `requests` is the day's range, for the clairvoyant. Returns fill bytes. */
  night(day: number, start: number, end: number): number;
  serve(index: number): Served;
  /** Today's egress left, by server. */
  readonly egress: EgressLedger;
  /** The ledger's servers by number: appliance ids, or cluster ids for a policy that pools a cluster. */
  readonly servers: readonly string[];
}

/** The planner's placement: which appliances hold each title, per cluster. */
class PlacedHoldings {
  /** By fleet appliance number: the titles it holds. */
  private readonly onAppliance: Set<number>[];
  /** By cluster: title to the appliances holding it, in the title's rendezvous order. */
  readonly holders: Map<number, Int32Array>[];

  constructor(
    private readonly workload: Workload,
    private readonly appliances: ApplianceIndex,
  ) {
    this.onAppliance = Array.from({ length: appliances.size }, () => new Set<number>());
    this.holders = workload.clusters.map(() => new Map());
  }

  /**
   * Replaces a cluster's holdings with titles by appliance (in cluster order); returns the bytes
   * of every copy an appliance did not hold before. A second copy counts as a whole fill even
   * though a peer in the cluster could supply it.
   */
  replace(cluster: number, byAppliance: readonly (readonly number[])[]): number {
    let filled = 0;
    const first = this.appliances.firstOf[cluster];
    byAppliance.forEach((titles, position) => {
      const next = new Set(titles);
      for (const title of next) {
        if (!this.onAppliance[first + position].has(title)) {
          filled += this.workload.titles[title].bytes;
        }
      }
      this.onAppliance[first + position] = next;
    });
    const holders = new Map<number, Int32Array>();
    for (const titles of byAppliance) {
      for (const title of titles) {
        if (!holders.has(title)) {
          holders.set(title, this.appliances.ordered(cluster, title).filter((appliance) => this.onAppliance[appliance].has(title)));
        }
      }
    }
    this.holders[cluster] = holders;
    return filled;
  }
}

/**
 * The Nearstream planner, fed the demand the simulation has seen so far. A request goes to the
 * appliance holding its title with the most egress left today (the first in the title's
 * rendezvous order on a tie), as steering spreads players over a hot title's copies.
 */
export class PlannerPolicy implements Policy {
  readonly name = 'planner';
  readonly egress: EgressLedger;
  readonly servers: readonly string[];
  private readonly appliances: ApplianceIndex;
  private readonly holdings: PlacedHoldings;
  private readonly demand = new Map<string, Map<string, Map<number, number>>>();
  private readonly titleIndex: Map<string, number>;
  private readonly titles: PlanTitle[];
  private readonly clusters: PlanCluster[];
  private currentDay = 0;
  /** Days whose demand reached the planner: replayed before tonight and not lost. */
  private readonly observedDays = new Set<number>();
  private lastDay: number | undefined;

  /** `lostDemandDays`: days whose demand never reaches the planner (their requests are still served). */
  constructor(
    private readonly workload: Workload,
    private readonly options: Partial<PlannerOptions> = {},
    private readonly lostDemandDays: ReadonlySet<number> = new Set(),
  ) {
    this.appliances = new ApplianceIndex(workload);
    this.egress = new EgressLedger(this.appliances.egressBytesPerDay);
    this.servers = this.appliances.ids;
    this.holdings = new PlacedHoldings(workload, this.appliances);
    this.titleIndex = new Map(workload.titles.map((title, index) => [title.id, index]));
    this.titles = workload.titles.map((title) => ({ titleId: title.id, bytes: title.bytes, releaseDay: title.releaseDay, retireDay: title.retireDay, seriesId: title.seriesId, episode: title.episode }));
    this.clusters = workload.clusters.map((cluster) => ({
      id: cluster.id,
      appliances: cluster.appliances.map((appliance) => ({ id: appliance.id, capacityBytes: appliance.diskBytes })),
    }));
    for (const cluster of workload.clusters) {
      this.demand.set(cluster.id, new Map());
    }
  }

  night(day: number): number {
    if (this.lastDay !== undefined && !this.lostDemandDays.has(this.lastDay)) {
      this.observedDays.add(this.lastDay);
    }
    this.lastDay = day;
    this.currentDay = day;
    const plans = planFills({
      day,
      titles: this.titles,
      clusters: this.clusters,
      demand: this.demand,
      observedDays: new Map(this.workload.clusters.map((cluster) => [cluster.id, this.observedDays])),
      held: new Map(this.workload.clusters.map((cluster, index) => [cluster.id, new Set([...this.holdings.holders[index].keys()].map((title) => this.workload.titles[title].id))])),
      options: this.options,
    });
    return plans.reduce(
      (sum, plan, cluster) =>
        sum + this.holdings.replace(cluster, this.workload.clusters[cluster].appliances.map((appliance) => (plan.placements.get(appliance.id) ?? []).map((id) => this.titleIndex.get(id)!))),
      0,
    );
  }

  serve(index: number): Served {
    const { cluster, title, bytes } = this.workload.requests;
    if (!this.lostDemandDays.has(this.currentDay)) {
      this.recordDemand(cluster[index], title[index], bytes[index]);
    }
    const holders = this.holdings.holders[cluster[index]].get(title[index]);
    if (holders === undefined) {
      return ORIGIN;
    }
    let best = holders[0];
    for (let at = 1; at < holders.length; at++) {
      if (this.egress.leftOn(holders[at]) > this.egress.leftOn(best)) {
        best = holders[at];
      }
    }
    return this.egress.take(best, bytes[index]) ? SERVED : REFUSED;
  }

  private recordDemand(cluster: number, title: number, bytes: number): void {
    const byTitle = this.demand.get(this.workload.clusters[cluster].id)!;
    const id = this.workload.titles[title].id;
    let days = byTitle.get(id);
    if (!days) {
      days = new Map();
      byTitle.set(id, days);
    }
    days.set(this.currentDay, (days.get(this.currentDay) ?? 0) + bytes);
  }
}

/**
 * Belady's clairvoyant optimum for nightly placement: each night it knows exactly what the next day
 * will request and holds the titles that serve the most of it per stored byte. No real policy can
 * know tomorrow; this is the bound the others are measured against. It pools each cluster into one
 * server with the disk and the egress of all its appliances, so it never loses to where a title
 * sits or which appliance a hot title saturates.
 */
export class BeladyPolicy implements Policy {
  readonly name = 'belady';
  readonly egress: EgressLedger;
  readonly servers: readonly string[];
  private held: Set<number>[];
  private readonly capacities: number[];

  constructor(private readonly workload: Workload) {
    this.held = workload.clusters.map(() => new Set());
    this.capacities = workload.clusters.map(clusterDiskBytes);
    this.egress = new EgressLedger(Float64Array.from(workload.clusters, (cluster) => cluster.appliances.reduce((sum, appliance) => sum + appliance.egressBytesPerDay, 0)));
    this.servers = workload.clusters.map((cluster) => cluster.id);
  }

  night(_day: number, start: number, end: number): number {
    const { cluster, title, bytes } = this.workload.requests;
    const tomorrow = this.workload.clusters.map(() => new Map<number, number>());
    for (let index = start; index < end; index++) {
      const byTitle = tomorrow[cluster[index]];
      byTitle.set(title[index], (byTitle.get(title[index]) ?? 0) + bytes[index]);
    }
    let filled = 0;
    this.held = tomorrow.map((byTitle, clusterIndex) => {
      const ranked = [...byTitle.entries()].sort(
        ([a, servedA], [b, servedB]) => servedB / this.workload.titles[b].bytes - servedA / this.workload.titles[a].bytes || a - b,
      );
      let free = this.capacities[clusterIndex];
      const held = new Set<number>();
      for (const [titleIndex] of ranked) {
        const size = this.workload.titles[titleIndex].bytes;
        if (size <= free) {
          held.add(titleIndex);
          free -= size;
          filled += this.held[clusterIndex].has(titleIndex) ? 0 : size;
        }
      }
      return held;
    });
    return filled;
  }

  serve(index: number): Served {
    const { cluster, title, bytes } = this.workload.requests;
    if (!this.held[cluster[index]].has(title[index])) {
      return ORIGIN;
    }
    return this.egress.take(cluster[index], bytes[index]) ? SERVED : REFUSED;
  }
}

/**
 * What the caches share: each appliance caches the titles its cluster's rendezvous order routes to
 * it first, as consistent-hash caches do (one copy per cluster, however hot the title). A request
 * goes through its title's appliance if that has egress left today: a hit is served, a miss is
 * relayed from the origin (spending the appliance's egress, not counting as served) and filled.
 * A saturated appliance never sees the request: it goes to the origin, refused if it was a hit.
 */
abstract class ApplianceCaches implements Policy {
  abstract readonly name: string;
  readonly egress: EgressLedger;
  readonly servers: readonly string[];
  protected readonly appliances: ApplianceIndex;

  constructor(protected readonly workload: Workload) {
    this.appliances = new ApplianceIndex(workload);
    this.egress = new EgressLedger(this.appliances.egressBytesPerDay);
    this.servers = this.appliances.ids;
  }

  night(): number {
    return 0;
  }

  serve(index: number): Served {
    const { cluster, title, bytes } = this.workload.requests;
    const appliance = this.appliances.routed(cluster[index], title[index]);
    if (!this.egress.take(appliance, bytes[index])) {
      return this.holds(appliance, title[index]) ? REFUSED : ORIGIN;
    }
    return this.request(appliance, title[index], this.workload.titles[title[index]].bytes, this.appliances.diskBytes[appliance]);
  }

  protected abstract holds(appliance: number, title: number): boolean;
  /** A request the appliance saw: a hit, or a miss it fills if the title fits its disk at all. */
  protected abstract request(appliance: number, title: number, titleBytes: number, diskBytes: number): Served;
}

/** Least recently used per appliance, filling a whole title on a miss (a Map keeps insertion order: oldest first). */
export class LruPolicy extends ApplianceCaches {
  readonly name = 'lru';
  private readonly caches: { entries: Map<number, number>; used: number }[];

  constructor(workload: Workload) {
    super(workload);
    this.caches = Array.from({ length: this.appliances.size }, () => ({ entries: new Map(), used: 0 }));
  }

  protected holds(appliance: number, title: number): boolean {
    return this.caches[appliance].entries.has(title);
  }

  protected request(appliance: number, title: number, bytes: number, capacity: number): Served {
    const cache = this.caches[appliance];
    const size = cache.entries.get(title);
    if (size !== undefined) {
      cache.entries.delete(title);
      cache.entries.set(title, size);
      return SERVED;
    }
    if (bytes > capacity) {
      return ORIGIN;
    }
    for (const [victim, victimBytes] of cache.entries) {
      if (cache.used + bytes <= capacity) {
        break;
      }
      cache.entries.delete(victim);
      cache.used -= victimBytes;
    }
    cache.entries.set(title, bytes);
    cache.used += bytes;
    return { outcome: 'origin', filledBytes: bytes };
  }
}

/**
 * Least frequently used per appliance, filling on a miss, with frequencies kept across evictions
 * (perfect LFU) and ties broken by recency. A lazy min-heap finds the victim.
 */
export class LfuPolicy extends ApplianceCaches {
  readonly name = 'lfu';
  private readonly caches: { held: Set<number>; used: number; heap: MinHeap; counts: Map<number, number> }[];
  private clock = 0;

  constructor(workload: Workload) {
    super(workload);
    this.caches = Array.from({ length: this.appliances.size }, () => ({ held: new Set(), used: 0, heap: new MinHeap(), counts: new Map() }));
  }

  protected holds(appliance: number, title: number): boolean {
    return this.caches[appliance].held.has(title);
  }

  protected request(appliance: number, title: number, bytes: number, capacity: number): Served {
    const cache = this.caches[appliance];
    const count = (cache.counts.get(title) ?? 0) + 1;
    cache.counts.set(title, count);
    this.clock++;
    if (cache.held.has(title)) {
      cache.heap.push(count, this.clock, title);
      return SERVED;
    }
    if (bytes > capacity) {
      return ORIGIN;
    }
    while (cache.used + bytes > capacity) {
      const victim = cache.heap.pop()!;
      // Stale entries (an older count of a title since requested again, or already evicted) are skipped.
      if (cache.held.has(victim.title) && cache.counts.get(victim.title) === victim.count && victim.latest) {
        cache.held.delete(victim.title);
        cache.used -= this.workload.titles[victim.title].bytes;
      }
    }
    cache.held.add(title);
    cache.used += bytes;
    cache.heap.push(count, this.clock, title);
    return { outcome: 'origin', filledBytes: bytes };
  }
}
