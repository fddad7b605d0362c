import { PlanCluster, planFills, PlannerOptions, PlanTitle } from '../lambda/planning/fill-plan';
import { Workload } from './workload';

/**
 * A placement policy under simulation. Each night `night` may fill (returning the bytes it pulled
 * from the origin to do so); each request then asks `serve` whether its cluster holds the title
 * (a miss may fill as well: that is what caches do).
 */
export interface Policy {
  readonly name: string;
  /** Before `day`'s requests; `requests` is the day's range, for the clairvoyant. Returns fill bytes. */
  night(day: number, start: number, end: number): number;
  /** Whether the request is served locally, and the bytes filled because of it. */
  serve(index: number): { hit: boolean; filledBytes: number };
}

/** What a nightly placement holds, per cluster, and the fill it costs to get there. */
class NightlyHoldings {
  readonly held: Set<number>[];

  constructor(private readonly workload: Workload) {
    this.held = workload.clusters.map(() => new Set<number>());
  }

  /** Replaces a cluster's holdings; returns the bytes of titles it did not hold before. */
  replace(cluster: number, titles: Iterable<number>): number {
    const next = new Set(titles);
    let filled = 0;
    for (const title of next) {
      if (!this.held[cluster].has(title)) {
        filled += this.workload.titles[title].bytes;
      }
    }
    this.held[cluster] = next;
    return filled;
  }
}

/** The Nearstream planner, fed the demand the simulation has seen so far. */
export class PlannerPolicy implements Policy {
  readonly name = 'planner';
  private readonly holdings: NightlyHoldings;
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
    this.holdings = new NightlyHoldings(workload);
    this.titleIndex = new Map(workload.titles.map((title, index) => [title.id, index]));
    this.titles = workload.titles.map((title) => ({ titleId: title.id, bytes: title.bytes, releaseDay: title.releaseDay, retireDay: title.retireDay }));
    // One appliance per cluster: the simulated fleet gives capacity per cluster.
    this.clusters = workload.clusters.map((cluster) => ({ id: cluster.id, appliances: [{ id: `${cluster.id}-1`, capacityBytes: cluster.capacityBytes }] }));
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
      held: new Map(this.workload.clusters.map((cluster, index) => [cluster.id, new Set([...this.holdings.held[index]].map((title) => this.workload.titles[title].id))])),
      options: this.options,
    });
    return plans.reduce((sum, plan, cluster) => sum + this.holdings.replace(cluster, plan.titles.map((id) => this.titleIndex.get(id)!)), 0);
  }

  serve(index: number): { hit: boolean; filledBytes: number } {
    const { cluster, title, bytes } = this.workload.requests;
    const hit = { hit: this.holdings.held[cluster[index]].has(title[index]), filledBytes: 0 };
    if (this.lostDemandDays.has(this.currentDay)) {
      return hit;
    }
    const byTitle = this.demand.get(this.workload.clusters[cluster[index]].id)!;
    const id = this.workload.titles[title[index]].id;
    let days = byTitle.get(id);
    if (!days) {
      days = new Map();
      byTitle.set(id, days);
    }
    days.set(this.currentDay, (days.get(this.currentDay) ?? 0) + bytes[index]);
    return hit;
  }
}

/**
 * Belady's clairvoyant optimum for nightly placement: each night it knows exactly what the next day
 * will request and holds the titles that serve the most of it per stored byte. No real policy can
 * know tomorrow; this is the bound the others are measured against.
 */
export class BeladyPolicy implements Policy {
  readonly name = 'belady';
  private readonly holdings: NightlyHoldings;

  constructor(private readonly workload: Workload) {
    this.holdings = new NightlyHoldings(workload);
  }

  night(_day: number, start: number, end: number): number {
    const { cluster, title, bytes } = this.workload.requests;
    const tomorrow = this.workload.clusters.map(() => new Map<number, number>());
    for (let index = start; index < end; index++) {
      const byTitle = tomorrow[cluster[index]];
      byTitle.set(title[index], (byTitle.get(title[index]) ?? 0) + bytes[index]);
    }
    let filled = 0;
    tomorrow.forEach((byTitle, clusterIndex) => {
      const ranked = [...byTitle.entries()].sort(
        ([a, servedA], [b, servedB]) => servedB / this.workload.titles[b].bytes - servedA / this.workload.titles[a].bytes || a - b,
      );
      let free = this.workload.clusters[clusterIndex].capacityBytes;
      const held: number[] = [];
      for (const [titleIndex] of ranked) {
        const size = this.workload.titles[titleIndex].bytes;
        if (size <= free) {
          held.push(titleIndex);
          free -= size;
        }
      }
      filled += this.holdings.replace(clusterIndex, held);
    });
    return filled;
  }

  serve(index: number): { hit: boolean; filledBytes: number } {
    return { hit: this.holdings.held[this.workload.requests.cluster[index]].has(this.workload.requests.title[index]), filledBytes: 0 };
  }
}

/** A miss on a title larger than the whole cache: served from the origin, nothing filled. */
const MISS_TOO_BIG = { hit: false, filledBytes: 0 } as const;

/** The request's cluster and title, the title's size and the cluster's capacity. */
function requestAt(workload: Workload, index: number) {
  const clusterIndex = workload.requests.cluster[index];
  const title = workload.requests.title[index];
  return { clusterIndex, title, bytes: workload.titles[title].bytes, capacity: workload.clusters[clusterIndex].capacityBytes };
}

/** Least recently used, filling a whole title on a miss (a Map keeps insertion order: oldest first). */
export class LruPolicy implements Policy {
  readonly name = 'lru';
  private readonly caches: { entries: Map<number, number>; used: number }[];

  constructor(private readonly workload: Workload) {
    this.caches = workload.clusters.map(() => ({ entries: new Map(), used: 0 }));
  }

  night(): number {
    return 0;
  }

  serve(index: number): { hit: boolean; filledBytes: number } {
    const { clusterIndex, title, bytes, capacity } = requestAt(this.workload, index);
    const cache = this.caches[clusterIndex];
    const size = cache.entries.get(title);
    if (size !== undefined) {
      cache.entries.delete(title);
      cache.entries.set(title, size);
      return { hit: true, filledBytes: 0 };
    }
    if (bytes > capacity) {
      return MISS_TOO_BIG;
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
    return { hit: false, filledBytes: bytes };
  }
}

/**
 * Least frequently used, filling on a miss, with frequencies kept across evictions (perfect LFU)
 * and ties broken by recency. A lazy min-heap finds the victim.
 */
export class LfuPolicy implements Policy {
  readonly name = 'lfu';
  private readonly caches: { held: Set<number>; used: number; heap: MinHeap }[];
  private readonly counts: Map<number, number>[];
  private clock = 0;

  constructor(private readonly workload: Workload) {
    this.caches = workload.clusters.map(() => ({ held: new Set(), used: 0, heap: new MinHeap() }));
    this.counts = workload.clusters.map(() => new Map());
  }

  night(): number {
    return 0;
  }

  serve(index: number): { hit: boolean; filledBytes: number } {
    const { clusterIndex, title, bytes, capacity } = requestAt(this.workload, index);
    const cache = this.caches[clusterIndex];
    const counts = this.counts[clusterIndex];
    const count = (counts.get(title) ?? 0) + 1;
    counts.set(title, count);
    this.clock++;
    if (cache.held.has(title)) {
      cache.heap.push(count, this.clock, title);
      return { hit: true, filledBytes: 0 };
    }
    if (bytes > capacity) {
      return MISS_TOO_BIG;
    }
    while (cache.used + bytes > capacity) {
      const victim = cache.heap.pop()!;
      // Stale entries (an older count of a title since requested again, or already evicted) are skipped.
      if (cache.held.has(victim.title) && counts.get(victim.title) === victim.count && victim.latest) {
        cache.held.delete(victim.title);
        cache.used -= this.workload.titles[victim.title].bytes;
      }
    }
    cache.held.add(title);
    cache.used += bytes;
    cache.heap.push(count, this.clock, title);
    return { hit: false, filledBytes: bytes };
  }
}

/** A binary min-heap of (count, time, title); an entry is `latest` if no newer one for its title was pushed. */
class MinHeap {
  private readonly counts: number[] = [];
  private readonly times: number[] = [];
  private readonly titles: number[] = [];
  private readonly newest = new Map<number, number>();

  push(count: number, time: number, title: number): void {
    this.newest.set(title, time);
    this.counts.push(count);
    this.times.push(time);
    this.titles.push(title);
    let child = this.counts.length - 1;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (!this.less(child, parent)) {
        break;
      }
      this.swap(child, parent);
      child = parent;
    }
  }

  pop(): { count: number; title: number; latest: boolean } | undefined {
    if (this.counts.length === 0) {
      return undefined;
    }
    const top = { count: this.counts[0], title: this.titles[0], latest: this.newest.get(this.titles[0]) === this.times[0] };
    const last = this.counts.length - 1;
    this.swap(0, last);
    this.counts.pop();
    this.times.pop();
    this.titles.pop();
    let parent = 0;
    for (;;) {
      const left = parent * 2 + 1;
      const right = left + 1;
      let smallest = parent;
      if (left < this.counts.length && this.less(left, smallest)) {
        smallest = left;
      }
      if (right < this.counts.length && this.less(right, smallest)) {
        smallest = right;
      }
      if (smallest === parent) {
        break;
      }
      this.swap(parent, smallest);
      parent = smallest;
    }
    return top;
  }

  private less(a: number, b: number): boolean {
    return this.counts[a] < this.counts[b] || (this.counts[a] === this.counts[b] && this.times[a] < this.times[b]);
  }

  private swap(a: number, b: number): void {
    [this.counts[a], this.counts[b]] = [this.counts[b], this.counts[a]];
    [this.times[a], this.times[b]] = [this.times[b], this.times[a]];
    [this.titles[a], this.titles[b]] = [this.titles[b], this.titles[a]];
  }
}
