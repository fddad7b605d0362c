import { createHash } from 'node:crypto';
import { z } from 'zod';
import { TITLE_KEY_PREFIX } from '../encoding/ladder';
import { ManifestObject, objectKeyProblem } from './fill-manifest';

/**
 * A title's inventory: every object the encoding wrote under `titles/<id>/`, with its size and the
 * SHA-256 of its bytes, as fill manifests list them. The encoding workflow writes it once, as
 * `titles/<id>/inventory.json`, before the title becomes available, and records the document's own
 * size and digest in the catalog. Readers (the nightly planner, in either region's origin) verify a
 * copy against that record, so a missing, partial or stale copy (a replica still in flight) is
 * refused instead of trusted.
 */
export const INVENTORY_NAME = 'inventory.json';

export function inventoryKey(titleId: string): string {
  return `${TITLE_KEY_PREFIX}${titleId}/${INVENTORY_NAME}`;
}

/** What the catalog keeps about a title's inventory. */
export interface InventoryRecord {
  readonly key: string;
  /** Objects listed, and their total bytes. */
  readonly objects: number;
  readonly bytes: number;
  /** Lower-case hex SHA-256 of the inventory document. */
  readonly sha256: string;
}

/** An object as a listing shows it. */
export interface StoredObject {
  readonly key: string;
  readonly size: number;
}

/** An object as it was hashed. */
export interface ObjectDigest extends StoredObject {
  readonly sha256: string;
}

export class InventoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InventoryError';
  }
}

function sha256Hex(body: string | Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

const entriesSchema = (titleId: string) =>
  z
    .array(
      z.strictObject({
        key: z.string().startsWith(`${TITLE_KEY_PREFIX}${titleId}/`),
        size: z.number().int().nonnegative(),
        sha256: z.string().regex(/^[0-9a-f]{64}$/),
        titleId: z.literal(titleId),
      }),
    )
    .min(1);

/**
 * The inventory of `titleId` from what its prefix holds now and the digests taken of it. Every
 * listed object (the inventory itself aside) needs a digest taken at its current size; otherwise
 * the inventory would describe something else than what appliances fetch, and it is refused,
 * naming the first objects that lack one.
 */
export function assembleInventory(
  titleId: string,
  listed: readonly StoredObject[],
  digests: ReadonlyMap<string, ObjectDigest>,
): { readonly body: string; readonly record: InventoryRecord } {
  const key = inventoryKey(titleId);
  const objects = listed.filter((object) => object.key !== key).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  if (objects.length === 0) {
    throw new InventoryError(`title ${titleId} has no objects under ${TITLE_KEY_PREFIX}${titleId}/`);
  }
  const undigested = objects.filter((object) => digests.get(object.key)?.size !== object.size);
  if (undigested.length > 0) {
    const named = undigested.slice(0, 3).map((object) => object.key).join(', ');
    throw new InventoryError(
      `title ${titleId}: ${undigested.length} of ${objects.length} objects have no digest of their current size (${named}${undigested.length > 3 ? ', ...' : ''}); hash them first`,
    );
  }
  refuseUnservableKeys(titleId, objects);
  const entries: ManifestObject[] = objects.map((object) => ({ key: object.key, size: object.size, sha256: digests.get(object.key)!.sha256, titleId }));
  const body = JSON.stringify(entries);
  return {
    body,
    record: { key, objects: entries.length, bytes: entries.reduce((sum, entry) => sum + entry.size, 0), sha256: sha256Hex(body) },
  };
}

/**
 * Reads an inventory document, trusting it only if it is exactly the one the catalog recorded
 * (same digest) and describes `titleId`'s objects; anything else is an `InventoryError` saying why.
 */
export function parseInventory(titleId: string, body: Uint8Array, record: InventoryRecord): ManifestObject[] {
  const digest = sha256Hex(body);
  if (digest !== record.sha256) {
    throw new InventoryError(
      `${record.key} is not the inventory the catalog recorded (${body.length} bytes with SHA-256 ${digest.slice(0, 12)}..., expected ${record.sha256.slice(0, 12)}...): a partial or stale copy`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch (error) {
    throw new InventoryError(`${record.key} is not JSON: ${(error as Error).message}`);
  }
  const result = entriesSchema(titleId).safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new InventoryError(`${record.key} does not describe title ${titleId}: at ${issue.path.join('.') || 'the top'}, ${issue.message}`);
  }
  refuseUnservableKeys(titleId, result.data);
  if (result.data.length !== record.objects) {
    throw new InventoryError(`${record.key} lists ${result.data.length} objects; the catalog recorded ${record.objects}`);
  }
  return result.data;
}

/**
 * Every key must be one appliances can hold and serve (the fill manifest's rules): a title with one
 * that is not waits with the key and the reason named, instead of failing a region's whole plan.
 */
function refuseUnservableKeys(titleId: string, objects: readonly { readonly key: string }[]): void {
  for (const { key } of objects) {
    const problem = objectKeyProblem(key, titleId);
    if (problem !== undefined) {
      throw new InventoryError(`title ${titleId}: object key '${key}' ${problem}; appliances could not hold it`);
    }
  }
}
