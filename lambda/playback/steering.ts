import { parseIp, parsePrefix, PrefixMatch, PrefixTable } from './ip-prefix';

/** One appliance as steering sees it: registration plus its latest health and inventory report. */
export interface ApplianceView {
  readonly applianceId: string;
  readonly clusterId: string;
  readonly region: string;
  /** Where players reach it, e.g. `https://oca-1.isp.example:443`. */
  readonly baseUrl: string;
  /** Client prefixes its cluster serves, as the ISP announces them. */
  readonly prefixes: readonly string[];
  /** When its last report arrived; never reported means never healthy. */
  readonly reportedAtMs?: number;
  /** Share of its serving capacity in use, 0 to 1. */
  readonly load?: number;
  /** Share of requests it failed recently, 0 to 1. */
  readonly errorRate?: number;
  /** Titles it holds complete and verified. */
  readonly titles: readonly string[];
}

export interface SteeringPolicy {
  /** A report older than this makes an appliance unhealthy. */
  readonly maxReportAgeMs: number;
  /** Above this error rate an appliance is unhealthy. */
  readonly maxErrorRate: number;
  /** At or above this load an appliance is unhealthy and never chosen. */
  readonly maxLoad: number;
  /** At or above this load an appliance spills over: it ranks after every appliance below it. */
  readonly spilloverLoad: number;
  /** How many appliances a decision names at most. */
  readonly maxChoices: number;
}

export const DEFAULT_STEERING_POLICY: SteeringPolicy = {
  maxReportAgeMs: 90_000,
  maxErrorRate: 0.05,
  maxLoad: 0.97,
  spilloverLoad: 0.8,
  maxChoices: 3,
};

export interface SteeringRequest {
  /** The player's address; without one, steering goes straight to the region's clusters. */
  readonly clientIp?: string;
  /** The control-plane region answering, whose clusters are the fallback. */
  readonly region: string;
  readonly titleId: string;
  /** Spreads equal candidates across appliances; the session id, so a session stays put. */
  readonly sessionKey: string;
}

export interface SteeringRoute {
  readonly choices: SteeringChoice[];
  /** The client's own cluster by address, if any cluster announces a prefix covering it. */
  readonly homeClusterId?: string;
}

export interface SteeringChoice {
  readonly appliance: ApplianceView;
  /** `prefix`: its cluster announced the player's address; `region`: same region only. */
  readonly matchedBy: 'prefix' | 'region';
  readonly spillover: boolean;
}

interface IndexedAppliance {
  readonly view: ApplianceView;
  readonly hash: number;
  /** Bit i set: holds the title with index i. */
  readonly holdings: Uint32Array;
}

interface Cluster {
  readonly clusterId: string;
  readonly hash: number;
  readonly appliances: IndexedAppliance[];
}

/**
 * The fleet indexed for steering: client prefixes in a longest-prefix-match table, clusters by
 * region, and each appliance's holdings as a bitset over the titles the fleet holds. Built once per
 * fleet snapshot; each decision then touches only the matched clusters.
 */
export class FleetIndex {
  private readonly titleIndex = new Map<string, number>();
  private readonly clusters = new Map<string, Cluster>();
  private readonly clustersByRegion = new Map<string, Cluster[]>();
  private readonly prefixes = new PrefixTable<Cluster>();

  private constructor(
    private readonly policy: SteeringPolicy,
    readonly applianceCount: number,
  ) {}

  static build(appliances: readonly ApplianceView[], policy: SteeringPolicy = DEFAULT_STEERING_POLICY): FleetIndex {
    const index = new FleetIndex(policy, appliances.length);
    for (const appliance of appliances) {
      for (const titleId of appliance.titles) {
        if (!index.titleIndex.has(titleId)) {
          index.titleIndex.set(titleId, index.titleIndex.size);
        }
      }
    }
    const words = Math.ceil(index.titleIndex.size / 32);
    const announced = new Set<string>();
    for (const view of appliances) {
      const cluster = index.clusterOf(view);
      const holdings = new Uint32Array(words);
      for (const titleId of view.titles) {
        const bit = index.titleIndex.get(titleId)!;
        holdings[bit >>> 5] |= 1 << (bit & 31);
      }
      cluster.appliances.push({ view, hash: hash32(view.applianceId), holdings });
      for (const text of view.prefixes) {
        const prefix = parsePrefix(text);
        const key = `${cluster.clusterId}|${text}`;
        if (typeof prefix !== 'string' && !announced.has(key)) {
          announced.add(key);
          index.prefixes.add(prefix, cluster);
        }
      }
    }
    return index;
  }

  private clusterOf(view: ApplianceView): Cluster {
    let cluster = this.clusters.get(view.clusterId);
    if (!cluster) {
      cluster = { clusterId: view.clusterId, hash: hash32(view.clusterId), appliances: [] };
      this.clusters.set(view.clusterId, cluster);
      const inRegion = this.clustersByRegion.get(view.region) ?? [];
      inRegion.push(cluster);
      this.clustersByRegion.set(view.region, inRegion);
    }
    return cluster;
  }

  /**
   * Ranks appliances for one play: clusters that announced the player's address, most specific
   * prefix first, then the region's other clusters; within them only healthy appliances holding
   * the title, ordered by rendezvous hashing on the session so equal appliances share load.
   * Appliances at or above the spillover load come after all others. Empty: use the origin tier.
   */
  steer(request: SteeringRequest, nowMs: number): SteeringChoice[] {
    return this.choose(request, this.prefixMatches(request.clientIp), nowMs);
  }

  /**
   * `steer`, plus the client's home cluster: the one announcing the longest prefix that covers its
   * address (the lowest id on a tie), whether or not it holds the title. Demand is counted there,
   * so fill planning learns what a place wants, not only what it already had. The address is
   * matched once for both.
   */
  route(request: SteeringRequest, nowMs: number): SteeringRoute {
    const matches = this.prefixMatches(request.clientIp);
    const longest = matches.filter((match) => match.prefixLength === matches[0].prefixLength);
    return {
      choices: this.choose(request, matches, nowMs),
      homeClusterId: longest.map((match) => match.value.clusterId).sort()[0],
    };
  }

  private prefixMatches(clientIp: string | undefined): PrefixMatch<Cluster>[] {
    const ip = clientIp === undefined ? undefined : parseIp(clientIp);
    return ip ? this.prefixes.matches(ip) : [];
  }

  private choose(request: SteeringRequest, matches: readonly PrefixMatch<Cluster>[], nowMs: number): SteeringChoice[] {
    const bit = this.titleIndex.get(request.titleId);
    if (bit === undefined) {
      return [];
    }
    const sessionHash = hash32(request.sessionKey);
    const preferred: SteeringChoice[] = [];
    const spillover: SteeringChoice[] = [];
    const visited = new Set<Cluster>();
    const enough = () => preferred.length >= this.policy.maxChoices;

    for (let i = 0; i < matches.length && !enough(); ) {
      let end = i;
      while (end < matches.length && matches[end].prefixLength === matches[i].prefixLength) {
        end++;
      }
      const sameLength = matches.slice(i, end).map((match) => match.value);
      for (const cluster of byScore(sameLength, sessionHash)) {
        if (!visited.has(cluster)) {
          visited.add(cluster);
          this.collect(cluster, bit, sessionHash, nowMs, 'prefix', preferred, spillover);
        }
      }
      i = end;
    }
    if (!enough()) {
      const regional = (this.clustersByRegion.get(request.region) ?? []).filter((cluster) => !visited.has(cluster));
      for (const cluster of byScore(regional, sessionHash)) {
        if (enough()) {
          break;
        }
        this.collect(cluster, bit, sessionHash, nowMs, 'region', preferred, spillover);
      }
    }
    return preferred.concat(spillover).slice(0, this.policy.maxChoices);
  }

  private collect(
    cluster: Cluster,
    bit: number,
    sessionHash: number,
    nowMs: number,
    matchedBy: SteeringChoice['matchedBy'],
    preferred: SteeringChoice[],
    spillover: SteeringChoice[],
  ): void {
    const word = bit >>> 5;
    const mask = 1 << (bit & 31);
    const eligible: IndexedAppliance[] = [];
    for (const appliance of cluster.appliances) {
      if ((appliance.holdings[word] & mask) !== 0 && this.isHealthy(appliance.view, nowMs)) {
        eligible.push(appliance);
      }
    }
    for (const appliance of byScore(eligible, sessionHash)) {
      const over = (appliance.view.load ?? 0) >= this.policy.spilloverLoad;
      (over ? spillover : preferred).push({ appliance: appliance.view, matchedBy, spillover: over });
    }
  }

  private isHealthy(view: ApplianceView, nowMs: number): boolean {
    return (
      view.reportedAtMs !== undefined &&
      nowMs - view.reportedAtMs <= this.policy.maxReportAgeMs &&
      (view.errorRate ?? 0) <= this.policy.maxErrorRate &&
      (view.load ?? 0) < this.policy.maxLoad
    );
  }
}

/** Highest rendezvous score first: a stable, per-session order that spreads load evenly. */
function byScore<T extends { hash: number }>(items: readonly T[], keyHash: number): T[] {
  if (items.length < 2) {
    return items.slice();
  }
  return items
    .map((item) => ({ item, score: mix32(keyHash, item.hash) }))
    .sort((a, b) => b.score - a.score)
    .map((entry) => entry.item);
}

/** FNV-1a, 32 bits. */
export function hash32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Murmur3's finalizer over two hashes: the rendezvous score of a key on a node. */
function mix32(a: number, b: number): number {
  let h = (a ^ Math.imul(b, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
