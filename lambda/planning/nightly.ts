import { CatalogTitle } from '../catalog/catalog';
import { ManifestPointer, RegisteredAppliance } from '../fleet/fleet-store';
import { FillManifest, manifestPrefix, ManifestObject, signManifest } from '../shared/fill-manifest';
import { Keyring } from '../shared/url-token';
import { utcDay } from '../telemetry/telemetry';
import { logger } from '../shared/powertools';
import { ClusterDemand, ClusterPlan, manifestOf, planFills, PlanCluster, PlanTitle } from './fill-plan';

const DAY_MS = 86_400_000;
const STALE_AFTER_MS = 36 * 3_600_000;
const PLAN_LEAD_MS = 2 * 3_600_000;
/** Longest one inventory read may take, so a slow request cannot spend the night's budget. */
const INVENTORY_REQUEST_TIMEOUT_MS = 30_000;
/** Inventories read at once. */
const INVENTORY_READS_IN_FLIGHT = 8;

/**
 * Kept free on every appliance: the agent refuses a manifest above its `diskCeilingBytes`, which
 * installs set at 90-95% of the disk an appliance registers.
 */
export const PLANNING_HEADROOM_SHARE = 0.1;

/** What the nightly run reads and writes; the handler binds these to DynamoDB, S3 and Secrets Manager. */
export interface NightlyDependencies {
  readonly loadFleet: () => Promise<readonly RegisteredAppliance[]>;
  readonly availableTitles: () => Promise<readonly CatalogTitle[]>;
  /** Starts per title in a cluster on one UTC day (`YYYY-MM-DD`). */
  readonly clusterStarts: (day: string, clusterId: string) => Promise<readonly { titleId: string; starts: number }[]>;
  /**
   * A title's objects with sizes and digests, from the inventory the encoding workflow wrote (never
   * from the objects themselves); gives up when `signal` aborts.
   */
  readonly titleObjects: (title: CatalogTitle, signal: AbortSignal) => Promise<readonly ManifestObject[]>;
  readonly currentPointer: (clusterId: string) => Promise<ManifestPointer | undefined>;
  /** The text of a manifest this planner wrote (the cluster's current one, to know what it holds). */
  readonly readManifest: (key: string) => Promise<string>;
  readonly putManifest: (key: string, body: string) => Promise<void>;
  /**
   * Stores the titles placed on one appliance in a generation, in placement order, until
   * `validUntilMs` (and a grace after): appliances report holdings as bits over this list.
   */
  readonly putPlacement: (applianceId: string, generation: number, titles: readonly string[], validUntilMs: number) => Promise<void>;
  readonly announce: (pointer: ManifestPointer) => Promise<void>;
  readonly keyring: () => Promise<Keyring>;
  /** The region whose clusters this run plans, and its origin bucket. */
  readonly region: string;
  readonly originBucket: string;
  readonly nowMs: number;
  readonly historyDays: number;
  readonly validForHours: number;
  /**
   * Wall-clock instant (epoch ms) after which no inventory read starts or goes on: the time after
   * it is kept for planning, signing and writing the manifests of what was read.
   */
  readonly inventoryDeadlineMs: number;
  /** The wall clock `inventoryDeadlineMs` is measured on. */
  readonly clock: () => number;
}

export interface PlannedCluster {
  readonly clusterId: string;
  readonly generation: number;
  readonly key: string;
  readonly titles: number;
  readonly objects: number;
}

/**
 * What each cluster holds: the titles of its current manifest, which its appliances filled last
 * night. Keeping them costs no fill, so the planner favours them. A manifest that cannot be read
 * or parsed only costs that cluster the bonus tonight.
 */
async function heldTitles(pointers: ReadonlyMap<string, ManifestPointer | undefined>, deps: NightlyDependencies): Promise<Map<string, ReadonlySet<string>>> {
  const held = new Map<string, ReadonlySet<string>>();
  for (const [clusterId, pointer] of pointers) {
    if (!pointer) {
      continue;
    }
    try {
      const manifest = JSON.parse(await deps.readManifest(pointer.key)) as { objects?: { titleId?: unknown }[] };
      held.set(clusterId, new Set((manifest.objects ?? []).map((object) => object.titleId).filter((id): id is string => typeof id === 'string')));
    } catch (error) {
      logger.warn('current manifest unreadable; planning without what the cluster holds', { clusterId, key: pointer.key, error: error as Error });
    }
  }
  return held;
}

/** The title's series for the planner; a malformed series (catalog items are read back unchecked) is left out, not fatal. */
function episodeOf(title: CatalogTitle): Pick<PlanTitle, 'seriesId' | 'episode'> {
  const { series } = title;
  return series !== undefined && typeof series.id === 'string' && series.id !== '' && Number.isInteger(series.episode) && series.episode >= 1
    ? { seriesId: series.id, episode: series.episode }
    : {};
}

function dayIndex(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

/**
 * Tonight's run for one region: plans the day that is starting (its fill windows follow) for every
 * cluster homed in the region, from the last `historyDays` of starts, writes each cluster's signed
 * manifest under its prefix and each appliance's placement, and only then announces it, so an
 * appliance never sees a pointer to a manifest (or reports holdings against a placement) that is not there.
 */
export async function planRegion(deps: NightlyDependencies): Promise<PlannedCluster[]> {
  // The day whose fill window follows this run (it runs an hour or so before the window opens).
  const today = dayIndex(deps.nowMs + PLAN_LEAD_MS);
  // Appliances gone quiet for a day (terminated instances, retired nodes) get no placements.
  const alive = (appliance: RegisteredAppliance) =>
    Math.max(appliance.reportedAtMs ?? 0, Date.parse(appliance.registeredAt) || 0) >= deps.nowMs - STALE_AFTER_MS;
  const appliances = (await deps.loadFleet()).filter((appliance) => appliance.region === deps.region && appliance.capacity && alive(appliance));
  const clusters = clustersOf(appliances);
  if (clusters.length === 0) {
    return [];
  }
  const catalog = await deps.availableTitles();
  const titles: PlanTitle[] = catalog.map((title) => ({
    titleId: title.titleId,
    bytes: title.renditions.reduce((sum, rendition) => sum + rendition.bytes, 0),
    releaseDay: dayIndex(Date.parse(title.availableFrom)),
    ...episodeOf(title),
  }));
  // A play streams one rendition: demand in bytes is starts times an average rendition.
  const bytesPerPlay = new Map(catalog.map((title, index) => [title.titleId, titles[index].bytes / Math.max(1, title.renditions.length)]));
  const demand = new Map<string, ClusterDemand>();
  for (const cluster of clusters) {
    const byTitle = new Map<string, Map<number, number>>();
    for (let day = today - deps.historyDays; day < today; day++) {
      for (const { titleId, starts } of await deps.clusterStarts(utcDay(day * DAY_MS), cluster.id)) {
        const perPlay = bytesPerPlay.get(titleId);
        if (perPlay === undefined) {
          continue;
        }
        const days = byTitle.get(titleId) ?? new Map<number, number>();
        days.set(day, starts * perPlay);
        byTitle.set(titleId, days);
      }
    }
    demand.set(cluster.id, byTitle);
  }

  const pointers = new Map(await Promise.all(clusters.map(async (cluster) => [cluster.id, await deps.currentPointer(cluster.id)] as const)));
  const held = await heldTitles(pointers, deps);
  // The window the demand was read over is the planner's: a day it did not read is not zero demand.
  const plans = planFills({ day: today, titles, clusters, demand, held, options: { headroomShare: PLANNING_HEADROOM_SHARE, historyDays: deps.historyDays } });
  const keyring = await deps.keyring();
  const objectsByTitle = await objectsOfPlacedTitles(plans, new Map(catalog.map((title) => [title.titleId, title])), deps);
  const createdAt = new Date(deps.nowMs).toISOString();
  const validUntil = new Date(deps.nowMs + deps.validForHours * 3_600_000).toISOString();
  const planned: PlannedCluster[] = [];
  const capacityOf = new Map(clusters.flatMap((cluster) => cluster.appliances.map((appliance) => [appliance.id, appliance.capacityBytes * (1 - PLANNING_HEADROOM_SHARE)] as const)));
  for (const plan of plans.map((whole) => fitToObjects(withoutMissing(whole, objectsByTitle), objectsByTitle, capacityOf))) {
    const generation = (pointers.get(plan.clusterId)?.generation ?? 0) + 1;
    const manifest: Omit<FillManifest, 'format'> = manifestOf(plan, (titleId) => objectsByTitle.get(titleId)!, { generation, createdAt, validUntil });
    const key = `${manifestPrefix(plan.clusterId)}${String(generation).padStart(8, '0')}.json`;
    await deps.putManifest(key, JSON.stringify(signManifest(manifest, keyring)));
    // Placements before the pointer: a node that reads the pointer can report holdings at once.
    await Promise.all([...plan.placements].map(([applianceId, placed]) => deps.putPlacement(applianceId, generation, placed, Date.parse(validUntil))));
    await deps.announce({ clusterId: plan.clusterId, generation, bucket: deps.originBucket, key, createdAt });
    planned.push({ clusterId: plan.clusterId, generation, key, titles: plan.titles.length, objects: manifest.objects.length });
  }
  return planned;
}

/** Clusters from their registered appliances, each appliance's capacity its registered disk. */
function clustersOf(appliances: readonly RegisteredAppliance[]): PlanCluster[] {
  const clusters = new Map<string, { id: string; capacityBytes: number }[]>();
  for (const appliance of [...appliances].sort((a, b) => (a.applianceId < b.applianceId ? -1 : 1))) {
    const members = clusters.get(appliance.clusterId) ?? [];
    members.push({ id: appliance.applianceId, capacityBytes: appliance.capacity!.diskBytes });
    clusters.set(appliance.clusterId, members);
  }
  return [...clusters.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, members]) => ({ id, appliances: members }));
}

/**
 * Each placed title's objects, from its inventory. The deadline is checked before each title and
 * bounds each read, so the run always goes on to write manifests. A title whose inventory is
 * missing, not the one the catalog recorded, or not read in time is left out of tonight's
 * manifests (and logged by name) rather than failing them all; it is planned again tomorrow.
 */
async function objectsOfPlacedTitles(
  plans: readonly ClusterPlan[],
  catalog: ReadonlyMap<string, CatalogTitle>,
  deps: Pick<NightlyDependencies, 'titleObjects' | 'inventoryDeadlineMs' | 'clock'>,
): Promise<Map<string, readonly ManifestObject[]>> {
  const placed = [...new Set(plans.flatMap((plan) => plan.titles))].sort();
  const objects = new Map<string, readonly ManifestObject[]>();
  const unread: string[] = [];
  let next = 0;
  const reader = async () => {
    while (next < placed.length) {
      const titleId = placed[next++];
      const remainingMs = deps.inventoryDeadlineMs - deps.clock();
      if (remainingMs <= 0) {
        unread.push(titleId);
        continue;
      }
      const timeoutMs = Math.min(remainingMs, INVENTORY_REQUEST_TIMEOUT_MS);
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        objects.set(titleId, await deps.titleObjects(catalog.get(titleId)!, signal));
      } catch (error) {
        const reason = signal.aborted ? `its inventory was not read within ${timeoutMs} ms` : (error as Error).message;
        logger.warn('title left out of tonight\'s plan', { titleId, reason });
      }
    }
  };
  await Promise.all(Array.from({ length: INVENTORY_READS_IN_FLIGHT }, reader));
  if (unread.length > 0) {
    logger.warn('inventory time budget spent; these titles wait for the next plan', { titles: unread.sort() });
  }
  return objects;
}

/**
 * The plan trimmed to what its objects really weigh: titles were sized from the catalog's rendition
 * bytes, which leave out audio and playlists. An appliance over its budget drops its last-placed
 * (least dense) titles until it fits, so the agent never refuses the manifest for its size.
 */
export function fitToObjects(
  plan: ClusterPlan,
  objects: ReadonlyMap<string, readonly ManifestObject[]>,
  capacityOf: ReadonlyMap<string, number>,
): ClusterPlan {
  const weight = (titleId: string) => (objects.get(titleId) ?? []).reduce((sum, object) => sum + object.size, 0);
  const placements = new Map<string, readonly string[]>();
  const bytesPlaced = new Map<string, number>();
  for (const [applianceId, titles] of plan.placements) {
    const kept = [...titles];
    let bytes = kept.reduce((sum, titleId) => sum + weight(titleId), 0);
    while (bytes > (capacityOf.get(applianceId) ?? 0) && kept.length > 0) {
      bytes -= weight(kept.pop()!);
    }
    placements.set(applianceId, kept);
    bytesPlaced.set(applianceId, bytes);
  }
  const held = new Set([...placements.values()].flat());
  return { ...plan, placements, bytesPlaced, titles: plan.titles.filter((titleId) => held.has(titleId)) };
}

/** The plan without the titles that have no objects to list. */
function withoutMissing(plan: ClusterPlan, objects: ReadonlyMap<string, readonly ManifestObject[]>): ClusterPlan {
  const keep = (titleId: string) => objects.has(titleId);
  return {
    ...plan,
    titles: plan.titles.filter(keep),
    placements: new Map([...plan.placements].map(([applianceId, titles]) => [applianceId, titles.filter(keep)])),
  };
}
