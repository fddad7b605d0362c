import { ManifestObject, objectsForAppliance, SignedFillManifest } from '../../../lambda/shared/fill-manifest';
import { HeldObject } from './state';

export interface FillPlan {
  /** Listed objects not held verified with the listed digest, largest-title-first order kept. */
  readonly downloads: readonly ManifestObject[];
  /** Held objects the manifest no longer lists: removed only once the downloads all verified. */
  readonly evictions: readonly string[];
  readonly downloadBytes: number;
}

/** What tonight's fill must do to make this appliance's cache match its share of the manifest. */
export function planFill(manifest: SignedFillManifest, applianceId: string, held: Readonly<Record<string, HeldObject>>): FillPlan {
  const mine = objectsForAppliance(manifest, applianceId);
  const listed = new Set(mine.map((object) => object.key));
  const downloads = mine.filter((object) => {
    const have = held[object.key];
    return !have || have.sha256 !== object.sha256 || have.size !== object.size;
  });
  return {
    downloads,
    evictions: Object.keys(held).filter((key) => !listed.has(key)),
    downloadBytes: downloads.reduce((sum, object) => sum + object.size, 0),
  };
}

/** Titles held complete: every object the manifest places here for them is held and verified. */
export function titlesHeld(manifest: SignedFillManifest | undefined, applianceId: string, held: Readonly<Record<string, HeldObject>>): string[] {
  if (!manifest) {
    return [];
  }
  const complete = new Map<string, boolean>();
  for (const object of objectsForAppliance(manifest, applianceId)) {
    const have = held[object.key];
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
