import { ManifestObject } from '../../../lambda/shared/fill-manifest';
import type { FileIdentity } from './no-follow';
import { HeldObject } from './state';

/** A file whose bytes decide whether it is held: hashed, then held as `expected` if they match. */
export interface FileToHash {
  readonly key: string;
  readonly expected: Pick<HeldObject, 'size' | 'sha256' | 'titleId'>;
  /** `verify`: recorded, but the file was replaced since; `adopt`: listed, but never recorded. */
  readonly why: 'verify' | 'adopt';
}

export interface Reconciliation {
  /** Recorded objects whose files are as recorded (a version-1 record takes the identity found). */
  readonly held: Map<string, HeldObject>;
  readonly toHash: readonly FileToHash[];
  /** Files nothing accounts for, or recorded at another size: removed, so the edge never serves them. */
  readonly toRemove: readonly string[];
  /** Recorded objects whose file is missing or of another size. */
  readonly lost: readonly string[];
}

/**
 * What the cache holds, from what the state records and what the disk has: an object is held only
 * when its file is there at the recorded size, and as the recorded file (same inode and change
 * time) or hashed again to the recorded digest. Files no record accounts for are
 * adopted when the manifest lists them at their size and their bytes hash right, and removed
 * otherwise; without a manifest (it was refused) they are left alone and not held.
 */
export function reconcile(
  recorded: ReadonlyMap<string, HeldObject>,
  onDisk: ReadonlyMap<string, FileIdentity>,
  listed: ReadonlyMap<string, ManifestObject> | undefined,
): Reconciliation {
  const held = new Map<string, HeldObject>();
  const toHash: FileToHash[] = [];
  const toRemove: string[] = [];
  const lost: string[] = [];
  for (const [key, record] of recorded) {
    const file = onDisk.get(key);
    if (file === undefined) {
      lost.push(key);
    } else if (file.size !== record.size) {
      lost.push(key);
      toRemove.push(key);
    } else if (record.ino === undefined) {
      held.set(key, { ...record, ino: file.ino, ctimeMs: file.ctimeMs });
    } else if (record.ino === file.ino && record.ctimeMs === file.ctimeMs) {
      held.set(key, record);
    } else {
      toHash.push({ key, expected: { size: record.size, sha256: record.sha256, titleId: record.titleId }, why: 'verify' });
    }
  }
  for (const [key, file] of onDisk) {
    if (recorded.has(key)) {
      continue;
    }
    const wanted = listed?.get(key);
    if (wanted !== undefined && wanted.size === file.size) {
      toHash.push({ key, expected: { size: wanted.size, sha256: wanted.sha256, titleId: wanted.titleId }, why: 'adopt' });
    } else if (listed !== undefined) {
      toRemove.push(key);
    }
  }
  return { held, toHash, toRemove, lost };
}

/** What reconciling the state with the cache found and did. */
export interface ReconcileSummary {
  readonly held: number;
  /** Recorded objects whose file was missing, of another size, or replaced with other bytes. */
  readonly lost: number;
  /** Files found unrecorded whose bytes are what the manifest lists: held without a download. */
  readonly adopted: number;
  /** Files removed: unaccounted for, of another size, or hashing wrong. */
  readonly removed: number;
  /** Symbolic links and other non-files under the cache's titles, left alone and not followed. */
  readonly refused: readonly string[];
}
