import { ManifestObject, objectsForAppliance, SignedFillManifest } from '../../../lambda/shared/fill-manifest';
import { HeldObject } from './state';

export interface FillPlan {
  /** Listed objects not held verified with the listed digest, largest-title-first order kept. */
  readonly downloads: readonly ManifestObject[];
  /** Held objects the manifest no longer lists: removed only once the downloads all verified. */
  readonly evictions: readonly string[];
  /**
   * Evictions that must go before the downloads: a held file where a download needs a directory
   * (`titles/t/a` held, `titles/t/a/b` listed) or inside where a download's file goes.
   */
  readonly inTheWay: readonly string[];
  readonly downloadBytes: number;
}

/** Each directory above a key, nearest the root first: `titles`, `titles/t1`, `titles/t1/avc1`. */
function directoriesOf(key: string): string[] {
  const directories: string[] = [];
  for (let slash = key.indexOf('/'); slash > 0; slash = key.indexOf('/', slash + 1)) {
    directories.push(key.slice(0, slash));
  }
  return directories;
}

/** What tonight's fill must do to make this appliance's cache match its share of the manifest. */
export function planFill(manifest: SignedFillManifest, applianceId: string, held: ReadonlyMap<string, HeldObject>): FillPlan {
  const mine = objectsForAppliance(manifest, applianceId);
  const listed = new Set(mine.map((object) => object.key));
  const downloads = mine.filter((object) => {
    const have = held.get(object.key);
    return !have || have.sha256 !== object.sha256 || have.size !== object.size;
  });
  const evictions = [...held.keys()].filter((key) => !listed.has(key));
  const downloadKeys = new Set(downloads.map((object) => object.key));
  const inTheWay = new Set<string>();
  for (const object of downloads) {
    for (const directory of directoriesOf(object.key)) {
      if (held.has(directory)) {
        inTheWay.add(directory);
      }
    }
  }
  for (const key of evictions) {
    if (directoriesOf(key).some((directory) => downloadKeys.has(directory))) {
      inTheWay.add(key);
    }
  }
  return {
    downloads,
    evictions,
    inTheWay: [...inTheWay],
    downloadBytes: downloads.reduce((sum, object) => sum + object.size, 0),
  };
}

/** Titles held complete: every object the manifest places here for them is held and verified. */
export function titlesHeld(manifest: SignedFillManifest | undefined, applianceId: string, held: ReadonlyMap<string, HeldObject>): string[] {
  if (!manifest) {
    return [];
  }
  const complete = new Map<string, boolean>();
  for (const object of objectsForAppliance(manifest, applianceId)) {
    const have = held.get(object.key);
    const ok = have !== undefined && have.sha256 === object.sha256 && have.size === object.size;
    complete.set(object.titleId, (complete.get(object.titleId) ?? true) && ok);
  }
  return [...complete.entries()].filter(([, ok]) => ok).map(([titleId]) => titleId).sort();
}

/**
 * When the fill window that contains `nowMs` ends, or undefined when `nowMs` is outside it.
 * Windows are whole UTC hours and may wrap past midnight (22 to 6).
 */
export function fillWindowEnd(nowMs: number, startHourUtc: number, endHourUtc: number): number | undefined {
  const now = new Date(nowMs);
  const hour = now.getUTCHours();
  const inside = startHourUtc <= endHourUtc ? hour >= startHourUtc && hour < endHourUtc : hour >= startHourUtc || hour < endHourUtc;
  if (!inside || startHourUtc === endHourUtc) {
    return undefined;
  }
  const end = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), endHourUtc);
  return end > nowMs ? end : end + 24 * 3600 * 1000;
}
