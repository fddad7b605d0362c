import { hash32, rendezvousScore, RendezvousNodes } from '../shared/rendezvous';
import { ClusterHoldings } from '../steering/holder-codes';
import { CodedCluster, codedClusters, SnapshotAppliance, SnapshotFormatError, SteeringSnapshot } from '../steering/snapshot';
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
  readonly appliance: SteeredAppliance;
  /** `prefix`: its cluster announced the player's address; `region`: same region only. */
  readonly matchedBy: 'prefix' | 'region';
  readonly spillover: boolean;
}

/** An appliance as a steering decision names it: what it is and its health, not what it holds. */
export type SteeredAppliance = Omit<ApplianceView, 'titles'>;

interface IndexedAppliance {
  /** Replaced (never changed) when newer health arrives. */
  view: SteeredAppliance;
  readonly hash: number;
}

interface Cluster {
  readonly clusterId: string;
  readonly hash: number;
  /** In snapshot order. */
  readonly appliances: IndexedAppliance[];
  /** Rendezvous hashing over `appliances`, which the holder codes are relative to. */
  readonly nodes: RendezvousNodes;
  readonly holdings: ClusterHoldings;
  /** The decision that last visited it: a stamp, where a set per decision would allocate. */
  visitedBy: number;
}

/** Sort keys pack a 32-bit score above a position of this many bits (exact in a double up to 2^53). */
const POSITION_BITS = 20;
const POSITIONS = 2 ** POSITION_BITS;

/**
 * The fleet indexed for steering: client prefixes in a longest-prefix-match table, clusters by
 * region, and each cluster's holdings as a holder code per title of the snapshot's dictionary
 * (`steering/holder-codes.ts`), relative to the title's rendezvous order over the cluster's
 * appliances. Built once per fleet snapshot, straight from its decoded codes; each decision then
 * touches only the clusters its address matched, and the region's only when those give too few
 * choices, and computes the holders only of the clusters it visits whose code says they hold the
 * title.
 */
export class FleetIndex {
  private readonly titleIndex = new Map<string, number>();
  private readonly clusters = new Map<string, Cluster>();
  private readonly clustersByRegion = new Map<string, Cluster[]>();
  private readonly prefixes = new PrefixTable<Cluster>();
  /** Every appliance in snapshot order: where health figures are applied. */
  private readonly inOrder: IndexedAppliance[] = [];
  private decisions = 0;
  /** One ranking per nesting level: clusters, then one cluster's appliances. */
  private readonly clusterRanking = new ScoreRanking();
  private readonly applianceRanking = new ScoreRanking();
  /** Scratch for one cluster: its holders' positions, and which of its appliances hold the title. */
  private holderPositions = new Int32Array(32);
  private holds = new Uint8Array(32);

  private constructor(
    private readonly policy: SteeringPolicy,
    readonly applianceCount: number,
  ) {}

  /** How many titles the index knows (the snapshot's dictionary, held or not). */
  get titleCount(): number {
    return this.titleIndex.size;
  }

  /** Indexes appliances as the registry describes them, through an in-memory snapshot. */
  static build(appliances: readonly ApplianceView[], policy: SteeringPolicy = DEFAULT_STEERING_POLICY): FleetIndex {
    const titles: string[] = [];
    const titleIndex = new Map<string, number>();
    for (const appliance of appliances) {
      for (const titleId of appliance.titles) {
        if (!titleIndex.has(titleId)) {
          titleIndex.set(titleId, titles.length);
          titles.push(titleId);
        }
      }
    }
    const words = Math.ceil(titles.length / 32);
    const bits = new Uint32Array(appliances.length * words);
    const snapshotAppliances = appliances.map((view, i): SnapshotAppliance => {
      const holdings = bits.subarray(i * words, (i + 1) * words);
      for (const titleId of view.titles) {
        const bit = titleIndex.get(titleId)!;
        holdings[bit >>> 5] |= 1 << (bit & 31);
      }
      return { ...view, registrationVersion: 0, holdings };
    });
    return FleetIndex.fromSnapshot({ titles, appliances: snapshotAppliances }, policy);
  }

  /** Indexes a snapshot: a decoded one's holder codes as they are (shared, not copied); another's coded from its bitsets. */
  static fromSnapshot(snapshot: Pick<SteeringSnapshot, 'titles' | 'appliances'>, policy: SteeringPolicy = DEFAULT_STEERING_POLICY): FleetIndex {
    const index = new FleetIndex(policy, snapshot.appliances.length);
    snapshot.titles.forEach((titleId, bit) => index.titleIndex.set(titleId, bit));
    for (const coded of codedClusters(snapshot)) {
      index.addCluster(snapshot.appliances[coded.members[0]].region, coded);
    }
    const announced = new Set<string>();
    for (const appliance of snapshot.appliances) {
      const cluster = index.clusters.get(appliance.clusterId)!;
      const indexed = { view: steeredView(appliance), hash: hash32(appliance.applianceId) };
      cluster.appliances.push(indexed);
      index.inOrder.push(indexed);
      for (const text of appliance.prefixes) {
        const key = `${cluster.clusterId}|${text}`;
        if (!announced.has(key)) {
          announced.add(key);
          const prefix = parsePrefix(text);
          if (typeof prefix !== 'string') {
            index.prefixes.add(prefix, cluster);
          }
        }
      }
    }
    return index;
  }

  /**
   * Takes every appliance's latest report, load and error rate, in snapshot order (a health object
   * read after the holdings it goes with); what each holds does not change.
   */
  updateHealth(health: { readonly reportedAtMs: readonly (number | null)[]; readonly load: readonly (number | null)[]; readonly errorRate: readonly (number | null)[] }): void {
    if (health.reportedAtMs.length !== this.inOrder.length) {
      throw new SnapshotFormatError(`health: figures for ${health.reportedAtMs.length} appliances, the holdings have ${this.inOrder.length}`);
    }
    this.inOrder.forEach((appliance, i) => {
      const { reportedAtMs: _reported, load: _load, errorRate: _errors, ...view } = appliance.view;
      appliance.view = {
        ...view,
        ...(health.reportedAtMs[i] === null ? {} : { reportedAtMs: health.reportedAtMs[i]! }),
        ...(health.load[i] === null ? {} : { load: health.load[i]! }),
        ...(health.errorRate[i] === null ? {} : { errorRate: health.errorRate[i]! }),
      };
    });
  }

  private addCluster(region: string, coded: CodedCluster): void {
    const cluster: Cluster = { clusterId: coded.clusterId, hash: hash32(coded.clusterId), appliances: [], nodes: coded.nodes, holdings: coded.holdings, visitedBy: 0 };
    this.clusters.set(coded.clusterId, cluster);
    const inRegion = this.clustersByRegion.get(region) ?? [];
    inRegion.push(cluster);
    this.clustersByRegion.set(region, inRegion);
    if (coded.members.length > this.holds.length) {
      this.holderPositions = new Int32Array(coded.members.length);
      this.holds = new Uint8Array(coded.members.length);
    }
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
    const decision: Decision = {
      stamp: ++this.decisions,
      title: bit,
      titleHash: hash32(request.titleId),
      sessionHash: hash32(request.sessionKey),
      nowMs,
      matchedBy: 'prefix',
      preferred: [],
      spillover: [],
    };
    for (let i = 0; i < matches.length && decision.preferred.length < this.policy.maxChoices; ) {
      let end = i;
      while (end < matches.length && matches[end].prefixLength === matches[i].prefixLength) {
        end++;
      }
      this.visitInScoreOrder(matches.slice(i, end).map((match) => match.value), decision);
      i = end;
    }
    if (decision.preferred.length < this.policy.maxChoices) {
      decision.matchedBy = 'region';
      this.visitInScoreOrder(this.clustersByRegion.get(request.region) ?? [], decision);
    }
    return decision.preferred.length >= this.policy.maxChoices ? decision.preferred : decision.preferred.concat(decision.spillover).slice(0, this.policy.maxChoices);
  }

  /** Collects from the clusters not yet visited, highest rendezvous score first, until there are enough choices. */
  private visitInScoreOrder(clusters: readonly Cluster[], decision: Decision): void {
    if (clusters.length === 1) {
      this.visit(clusters[0], decision);
      return;
    }
    const keys = this.clusterRanking.rank(clusters, decision.sessionHash);
    for (let k = keys.length - 1; k >= 0 && decision.preferred.length < this.policy.maxChoices; k--) {
      this.visit(clusters[positionOf(keys[k])], decision);
    }
  }

  private visit(cluster: Cluster, decision: Decision): void {
    if (cluster.visitedBy === decision.stamp) {
      return;
    }
    cluster.visitedBy = decision.stamp;
    const { holderPositions, holds } = this;
    const count = cluster.holdings.holders(decision.title, decision.titleHash, cluster.nodes, holderPositions);
    if (count === 0) {
      return;
    }
    // Eligible in snapshot order, as ranking breaks ties by position.
    const eligible: IndexedAppliance[] = [];
    if (count === 1) {
      const appliance = cluster.appliances[holderPositions[0]];
      if (this.isHealthy(appliance.view, decision.nowMs)) {
        eligible.push(appliance);
      }
    } else {
      for (let i = 0; i < count; i++) {
        holds[holderPositions[i]] = 1;
      }
      cluster.appliances.forEach((appliance, position) => {
        if (holds[position] === 1) {
          holds[position] = 0;
          if (this.isHealthy(appliance.view, decision.nowMs)) {
            eligible.push(appliance);
          }
        }
      });
    }
    if (eligible.length === 0) {
      return;
    }
    const keys = this.applianceRanking.rank(eligible, decision.sessionHash);
    for (let k = keys.length - 1; k >= 0; k--) {
      const view = eligible[positionOf(keys[k])].view;
      const over = (view.load ?? 0) >= this.policy.spilloverLoad;
      const list = over ? decision.spillover : decision.preferred;
      // Only the first maxChoices of either list can ever be shown.
      if (list.length < this.policy.maxChoices) {
        list.push({ appliance: view, matchedBy: decision.matchedBy, spillover: over });
      }
    }
  }

  private isHealthy(view: SteeredAppliance, nowMs: number): boolean {
    return (
      view.reportedAtMs !== undefined &&
      nowMs - view.reportedAtMs <= this.policy.maxReportAgeMs &&
      (view.errorRate ?? 0) <= this.policy.maxErrorRate &&
      (view.load ?? 0) < this.policy.maxLoad
    );
  }
}

/** One decision in progress. */
interface Decision {
  readonly stamp: number;
  /** The title's index in the dictionary, and its `hash32`. */
  readonly title: number;
  readonly titleHash: number;
  readonly sessionHash: number;
  readonly nowMs: number;
  matchedBy: SteeringChoice['matchedBy'];
  readonly preferred: SteeringChoice[];
  readonly spillover: SteeringChoice[];
}

/**
 * Orders items by rendezvous score in a reused array rather than one per decision: one sort key per item, its
 * score above its position, sorted ascending in a reused array. Read from the end, the highest
 * score comes first and, on a tie, the earlier item (the order a stable sort by score gives).
 */
class ScoreRanking {
  private keys = new Float64Array(32);

  rank(items: readonly { hash: number }[], keyHash: number): Float64Array {
    if (items.length > POSITIONS) {
      throw new RangeError(`steering ranks at most ${POSITIONS} clusters, or appliances of one cluster, at once; not ${items.length}`);
    }
    if (items.length > this.keys.length) {
      this.keys = new Float64Array(Math.max(items.length, 2 * this.keys.length));
    }
    for (let i = 0; i < items.length; i++) {
      this.keys[i] = rendezvousScore(keyHash, items[i].hash) * POSITIONS + (POSITIONS - 1 - i);
    }
    return this.keys.subarray(0, items.length).sort();
  }
}

function positionOf(key: number): number {
  return POSITIONS - 1 - (key % POSITIONS);
}

function steeredView(appliance: SteeredAppliance): SteeredAppliance {
  return {
    applianceId: appliance.applianceId,
    clusterId: appliance.clusterId,
    region: appliance.region,
    baseUrl: appliance.baseUrl,
    prefixes: appliance.prefixes,
    reportedAtMs: appliance.reportedAtMs,
    load: appliance.load,
    errorRate: appliance.errorRate,
  };
}

/** Re-exported for the callers that hashed with steering before rendezvous hashing had a home of its own. */
export { hash32 } from '../shared/rendezvous';
