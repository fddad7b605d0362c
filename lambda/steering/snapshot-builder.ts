import { heldPositions } from '../fleet/fleet-protocol';
import { ApplianceHealth, ApplianceRegistration, FleetStore } from '../fleet/fleet-store';
import { inParallel } from '../shared/in-parallel';
import { ID_PATTERN } from '../shared/request-fields';
import { SNAPSHOT_FORMAT, SnapshotAppliance, SteeringSnapshot } from './snapshot';

/** A registered appliance that never reported is kept this long: long enough to report, not long enough to pile up. */
const NEVER_REPORTED_MS = 3_600_000;
/** A placement found missing is asked for again after this long. */
const PLACEMENT_RETRY_MS = 60_000;
/** Problems remembered (each logged once) before the memory starts over. */
const MAX_WARNED = 10_000;

/** What a registration needs to be steered to; undefined when it has it. */
function registrationProblem(registration: ApplianceRegistration): string | undefined {
  if (!ID_PATTERN.test(registration.clusterId ?? '')) {
    return 'clusterId is not an id';
  }
  if (typeof registration.baseUrl !== 'string' || !URL.canParse(registration.baseUrl)) {
    return 'baseUrl is not a URL';
  }
  if (typeof registration.region !== 'string' || !Array.isArray(registration.prefixes)) {
    return 'region or prefixes missing';
  }
  return undefined;
}

/** What the builder reads of the registry. */
export type FleetSource = Pick<FleetStore, 'readHealth' | 'getRegistrations' | 'getHoldings' | 'getPlacement'>;

export interface SnapshotBuilderOptions {
  /**
   * An appliance silent (and not registered again) for this long leaves the snapshot: it cannot
   * be healthy, and a retired node should not weigh on every play function.
   * @default one day
   */
  readonly dropAfterMs?: number;
  /**
   * Placements kept decoded in memory, counted in titles: a node's holdings change through a fill
   * many times against the same placement.
   * @default 20 million (80 MB)
   */
  readonly placementCacheTitles?: number;
  /**
   * Every this many builds, a dictionary of which more than a quarter no appliance holds (retired
   * titles, replaced plans) is rebuilt from the held titles, so play functions do not carry them.
   * @default 360 (an hour at one build every 10 s)
   */
  readonly compactEveryBuilds?: number;
  /** Told once per appliance and generation whose placement is not stored (its holdings count as nothing). */
  readonly warn?: (message: string, details: Record<string, unknown>) => void;
}

/** What one build read, for its log line and the fleet benchmark. */
export interface BuildStats {
  readonly appliances: number;
  readonly titles: number;
  readonly registrationsRead: number;
  readonly holdingsRead: number;
  readonly placementsRead: number;
}

interface Entry {
  clusterId: string;
  region: string;
  baseUrl: string;
  prefixes: readonly string[];
  registrationVersion: number;
  holdingsDigest?: string;
  /** Bits over the builder's dictionary; words past its end are zero. */
  bits: Uint32Array;
}

/**
 * Builds a region's steering snapshot from the fleet registry, incrementally: each build reads
 * every health item (under 1 KB each), but a registration only when its version changed and
 * holdings only when their digest changed, decoding them against the appliance's placement (read
 * once per generation and kept). A builder started cold is seeded from the last snapshot it wrote,
 * so a new container does not read the whole fleet's holdings again.
 */
export class SnapshotBuilder {
  private titles: string[] = [];
  private readonly titleIndex = new Map<string, number>();
  private readonly entries = new Map<string, Entry>();
  private readonly placements = new Map<string, Int32Array>();
  private readonly retryPlacementAtMs = new Map<string, number>();
  private placementTitles = 0;
  private readonly warned = new Set<string>();
  private hasState = false;
  private readonly dropAfterMs: number;
  private readonly placementCacheTitles: number;
  private readonly compactEveryBuilds: number;
  private builds = 0;

  constructor(
    private readonly source: FleetSource,
    private readonly region: string,
    private readonly options: SnapshotBuilderOptions = {},
  ) {
    this.dropAfterMs = options.dropAfterMs ?? 86_400_000;
    this.placementCacheTitles = options.placementCacheTitles ?? 20_000_000;
    this.compactEveryBuilds = options.compactEveryBuilds ?? 360;
  }

  /** True once the builder has started from a snapshot or built one. */
  get seeded(): boolean {
    return this.hasState;
  }

  /** Starts from a snapshot this builder (or its predecessor) wrote. */
  seed(previous: SteeringSnapshot): void {
    this.hasState = true;
    this.titles = [...previous.titles];
    this.titleIndex.clear();
    this.titles.forEach((titleId, index) => this.titleIndex.set(titleId, index));
    this.entries.clear();
    for (const appliance of previous.appliances) {
      this.entries.set(appliance.applianceId, {
        clusterId: appliance.clusterId,
        region: appliance.region,
        baseUrl: appliance.baseUrl,
        prefixes: appliance.prefixes,
        registrationVersion: appliance.registrationVersion,
        holdingsDigest: appliance.holdingsDigest,
        bits: appliance.holdings,
      });
    }
  }

  async build(nowMs: number): Promise<{ snapshot: SteeringSnapshot; stats: BuildStats }> {
    this.hasState = true;
    // An appliance stays while it reports; one that registered and never reported, for an hour.
    const health = (await this.source.readHealth()).filter((item) =>
      item.reportedAtMs !== undefined ? item.reportedAtMs >= nowMs - this.dropAfterMs : (item.registrationVersion ?? 0) >= nowMs - NEVER_REPORTED_MS,
    );
    const live = new Set(health.map((item) => item.applianceId));
    for (const applianceId of this.entries.keys()) {
      if (!live.has(applianceId)) {
        this.entries.delete(applianceId);
      }
    }
    const registrationsRead = await this.readRegistrations(health);
    const { holdingsRead, placementsRead } = await this.readHoldings(health.filter((item) => this.entries.has(item.applianceId)), nowMs);
    if (++this.builds % this.compactEveryBuilds === 0) {
      this.compactIfSparse();
    }

    const words = Math.ceil(this.titles.length / 32);
    const appliances: SnapshotAppliance[] = [];
    for (const item of health) {
      const entry = this.entries.get(item.applianceId);
      if (!entry) {
        continue;
      }
      appliances.push({
        applianceId: item.applianceId,
        clusterId: entry.clusterId,
        region: entry.region,
        baseUrl: entry.baseUrl,
        prefixes: entry.prefixes,
        reportedAtMs: item.reportedAtMs,
        load: item.load,
        errorRate: item.errorRate,
        registrationVersion: entry.registrationVersion,
        holdingsDigest: entry.holdingsDigest,
        holdings: (entry.bits = sized(entry.bits, words)),
      });
    }
    appliances.sort((a, b) => compare(a.clusterId, b.clusterId) || compare(a.applianceId, b.applianceId));
    // A copy: the builder's dictionary grows after this build, the snapshot must not.
    const snapshot: SteeringSnapshot = { format: SNAPSHOT_FORMAT, region: this.region, builtAtMs: nowMs, titles: this.titles.slice(), appliances };
    return { snapshot, stats: { appliances: appliances.length, titles: this.titles.length, registrationsRead, holdingsRead, placementsRead } };
  }

  private async readRegistrations(health: readonly ApplianceHealth[]): Promise<number> {
    const changed = health.filter((item) => this.entries.get(item.applianceId)?.registrationVersion !== item.registrationVersion).map((item) => item.applianceId);
    if (changed.length === 0) {
      return 0;
    }
    const registrations = await this.source.getRegistrations(changed).catch((error: Error) => {
      // Appliances already known keep their last registration; new ones wait for the next build.
      this.options.warn?.('registrations could not be read', { appliances: changed.length, reason: error.message });
      return [];
    });
    for (const registration of registrations) {
      const problem = registrationProblem(registration);
      if (problem) {
        this.warnOnce(`registration#${registration.applianceId}#${registration.registrationVersion}`, 'registration left out of the snapshot', { applianceId: registration.applianceId, problem });
        continue;
      }
      const known = this.entries.get(registration.applianceId);
      this.entries.set(registration.applianceId, {
        clusterId: registration.clusterId,
        region: registration.region,
        baseUrl: registration.baseUrl,
        prefixes: registration.prefixes,
        registrationVersion: registration.registrationVersion,
        holdingsDigest: known?.holdingsDigest,
        bits: known?.bits ?? new Uint32Array(0),
      });
    }
    return changed.length;
  }

  private async readHoldings(health: readonly ApplianceHealth[], nowMs: number): Promise<{ holdingsRead: number; placementsRead: number }> {
    const changed: string[] = [];
    for (const item of health) {
      const entry = this.entries.get(item.applianceId)!;
      if (item.holdings === undefined) {
        entry.holdingsDigest = undefined;
        entry.bits = new Uint32Array(0);
      } else if (item.holdings.digest !== entry.holdingsDigest) {
        const waiting =
          entry.holdingsDigest === `${item.holdings.digest}:no-placement` && nowMs < (this.retryPlacementAtMs.get(`${item.applianceId}#${item.holdings.generation}`) ?? 0);
        if (!waiting) {
          changed.push(item.applianceId);
        }
      }
    }
    let placementsRead = 0;
    const stored = changed.length === 0 ? [] : await this.source.getHoldings(changed).catch((error: Error) => {
      // Unread holdings keep what the snapshot had; the next build reads them again.
      this.options.warn?.('holdings could not be read; appliances keep their last holdings', { appliances: changed.length, reason: error.message });
      return [];
    });
    await inParallel(stored, 16, async (holdings) => {
      const entry = this.entries.get(holdings.applianceId)!;
      const cacheKey = `${holdings.applianceId}#${holdings.generation}`;
      // A placement found missing is asked for again only after a while, not on every build.
      const missingDigest = `${holdings.digest}:no-placement`;
      let placement = this.placements.get(cacheKey);
      if (!placement) {
        let titles: string[] | undefined;
        try {
          titles = await this.source.getPlacement(holdings.applianceId, holdings.generation);
          placementsRead++;
        } catch (error) {
          // One unreadable placement keeps that appliance as it was; the build goes on.
          this.warnOnce(`unreadable#${cacheKey}`, 'placement could not be read; the appliance keeps its last holdings', { applianceId: holdings.applianceId, generation: holdings.generation, reason: (error as Error).message });
          return;
        }
        if (!titles) {
          this.warnOnce(cacheKey, 'holdings refer to a placement that is not stored; counted as holding nothing', { applianceId: holdings.applianceId, generation: holdings.generation });
          this.retryPlacementAtMs.set(cacheKey, nowMs + PLACEMENT_RETRY_MS);
          entry.bits = new Uint32Array(0);
          // A digest of its own: what the snapshot says of this appliance changed.
          entry.holdingsDigest = missingDigest;
          return;
        }
        // A title id no appliance could hold (planning never writes one) keeps its position and is never steered to.
        placement = Int32Array.from(titles, (titleId) => (ID_PATTERN.test(titleId) ? this.indexOf(titleId) : -1));
        this.remember(cacheKey, placement);
      }
      const bits = new Uint32Array(Math.ceil(this.titles.length / 32));
      for (const position of heldPositions(holdings, placement.length)) {
        const bit = placement[position];
        if (bit >= 0) {
          bits[bit >>> 5] |= 1 << (bit & 31);
        }
      }
      entry.bits = bits;
      entry.holdingsDigest = holdings.digest;
    });
    return { holdingsRead: stored.length, placementsRead };
  }

  /** Drops titles no appliance holds from the dictionary when they are more than a quarter of it. */
  private compactIfSparse(): void {
    const held = new Uint32Array(Math.ceil(this.titles.length / 32));
    for (const entry of this.entries.values()) {
      for (let word = 0; word < entry.bits.length; word++) {
        held[word] |= entry.bits[word];
      }
    }
    let heldCount = 0;
    const newIndex = new Int32Array(this.titles.length).fill(-1);
    this.titles.forEach((_, title) => {
      if ((held[title >>> 5] >>> (title & 31)) & 1) {
        newIndex[title] = heldCount++;
      }
    });
    if (heldCount >= this.titles.length * 0.75) {
      return;
    }
    const titles = this.titles.filter((_, title) => newIndex[title] >= 0);
    const words = Math.ceil(titles.length / 32);
    for (const entry of this.entries.values()) {
      const bits = new Uint32Array(words);
      for (let word = 0; word < entry.bits.length; word++) {
        for (let rest = entry.bits[word]; rest !== 0; rest &= rest - 1) {
          const bit = newIndex[word * 32 + 31 - Math.clz32(rest & -rest)];
          bits[bit >>> 5] |= 1 << (bit & 31);
        }
      }
      entry.bits = bits;
    }
    this.titles = titles;
    this.titleIndex.clear();
    titles.forEach((titleId, index) => this.titleIndex.set(titleId, index));
    // Decoded placements point into the old dictionary.
    this.placements.clear();
    this.placementTitles = 0;
  }

  private indexOf(titleId: string): number {
    let index = this.titleIndex.get(titleId);
    if (index === undefined) {
      index = this.titles.length;
      this.titles.push(titleId);
      this.titleIndex.set(titleId, index);
    }
    return index;
  }

  /** Keeps a decoded placement, dropping the oldest while over the budget. */
  /** Logs a problem once per key; the keys kept are bounded, so a hostile appliance cannot grow them. */
  private warnOnce(key: string, message: string, details: Record<string, unknown>): void {
    if (this.warned.has(key)) {
      return;
    }
    if (this.warned.size >= MAX_WARNED) {
      this.warned.clear();
      this.retryPlacementAtMs.clear();
    }
    this.warned.add(key);
    this.options.warn?.(message, details);
  }

  private remember(cacheKey: string, placement: Int32Array): void {
    this.placements.set(cacheKey, placement);
    this.placementTitles += placement.length;
    for (const [key, value] of this.placements) {
      if (this.placementTitles <= this.placementCacheTitles) {
        break;
      }
      this.placements.delete(key);
      this.placementTitles -= value.length;
    }
  }
}

/** `bits` as exactly `words` words: zero-padded, never cut (set bits are always inside the dictionary). */
function sized(bits: Uint32Array, words: number): Uint32Array {
  if (bits.length === words) {
    return bits;
  }
  const resized = new Uint32Array(words);
  resized.set(bits.subarray(0, words));
  return resized;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
