import { createHmac, timingSafeEqual } from 'node:crypto';
import { Keyring } from './url-token';

/**
 * The fill manifest, format v1: what one cluster's appliances must hold after tonight's fill. One
 * module for the planner that signs it and the appliance that verifies it.
 *
 *   {
 *     "format": "nearstream-fill-manifest/v1",
 *     "clusterId": "isp-a-nyc",
 *     "generation": 42,                        // increases with every plan; never goes back
 *     "createdAt": "2026-11-21T01:00:00.000Z",
 *     "validUntil": "2026-11-23T01:00:00.000Z", // an appliance refuses it after this
 *     "objects": [{ "key": "titles/t1/avc1/index.m3u8", "size": 812, "sha256": "<hex>", "titleId": "t1" }],
 *     "placements": { "oca-1": ["t1"], "oca-2": ["t1", "t2"] },   // optional
 *     "signature": { "algorithm": "HMAC-SHA256", "keyId": "k2", "value": "<base64url>" }
 *   }
 *
 * `placements` says which titles each appliance of the cluster holds (popular titles on several,
 * the rest spread by consistent hashing). Without it every appliance holds every object listed.
 *
 * The signature is HMAC-SHA256 over the canonical body (every field but `signature`, serialized
 * in the order above), keyed by a key derived from the replicated URL-signing key ring with the
 * label `nearstream-fill-manifest/v1`, so a manifest MAC can never pass as a URL token.
 */
export const MANIFEST_FORMAT = 'nearstream-fill-manifest/v1';

/**
 * Where a cluster's manifests live in its region's origin bucket. The prefix is what an appliance's
 * IAM policy is scoped to, so a node can read its own cluster's plans and no other's.
 */
export function manifestPrefix(clusterId: string): string {
  return `manifests/${clusterId}/`;
}

export interface ManifestObject {
  /** Key in the origin bucket, and path below the appliance's cache directory. */
  readonly key: string;
  readonly size: number;
  /** Lower-case hex SHA-256 of the object's bytes. */
  readonly sha256: string;
  readonly titleId: string;
}

export interface FillManifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly clusterId: string;
  readonly generation: number;
  readonly createdAt: string;
  readonly validUntil: string;
  readonly objects: readonly ManifestObject[];
  /** Titles by appliance id; absent, every appliance holds everything. */
  readonly placements?: Readonly<Record<string, readonly string[]>>;
}

export interface SignedFillManifest extends FillManifest {
  readonly signature: { readonly algorithm: 'HMAC-SHA256'; readonly keyId: string; readonly value: string };
}

export class ManifestRejectedError extends Error {
  constructor(readonly reason: string) {
    super(`fill manifest rejected: ${reason}`);
    this.name = 'ManifestRejectedError';
  }
}

function manifestKey(ringKey: Buffer): Buffer {
  return createHmac('sha256', ringKey).update(MANIFEST_FORMAT).digest();
}

function canonicalBody(manifest: FillManifest): string {
  return JSON.stringify({
    format: manifest.format,
    clusterId: manifest.clusterId,
    generation: manifest.generation,
    createdAt: manifest.createdAt,
    validUntil: manifest.validUntil,
    objects: manifest.objects.map((o) => ({ key: o.key, size: o.size, sha256: o.sha256, titleId: o.titleId })),
    ...(manifest.placements === undefined
      ? {}
      : { placements: Object.fromEntries(Object.keys(manifest.placements).sort().map((id) => [id, [...manifest.placements![id]]])) }),
  });
}

/** The objects one appliance must hold: its placed titles' objects, or all of them without placements. */
export function objectsForAppliance(manifest: Pick<FillManifest, 'objects' | 'placements'>, applianceId: string): readonly ManifestObject[] {
  if (manifest.placements === undefined) {
    return manifest.objects;
  }
  const titles = new Set(Object.hasOwn(manifest.placements, applianceId) ? manifest.placements[applianceId] : []);
  return manifest.objects.filter((object) => titles.has(object.titleId));
}

/** Signs a manifest with the key ring's active key. */
export function signManifest(manifest: Omit<FillManifest, 'format'>, keyring: Keyring): SignedFillManifest {
  const body: FillManifest = { ...manifest, format: MANIFEST_FORMAT };
  const value = createHmac('sha256', manifestKey(keyring.keys.get(keyring.activeKeyId)!)).update(canonicalBody(body)).digest('base64url');
  return { ...body, signature: { algorithm: 'HMAC-SHA256', keyId: keyring.activeKeyId, value } };
}

export interface ManifestExpectations {
  readonly keyring: Keyring;
  /** The appliance's cluster: a manifest for another cluster is refused. */
  readonly clusterId: string;
  /** The generation last applied; an older one is refused (the same one may be resumed). */
  readonly currentGeneration?: number;
  readonly nowMs: number;
  /** The most the cache may hold; a manifest placing more on this appliance is refused. */
  readonly diskBudgetBytes: number;
  /** The verifying appliance, whose placement the disk budget applies to. */
  readonly applianceId: string;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
const TITLE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/**
 * Parses and verifies a manifest before anything is written. Every rejection is a
 * `ManifestRejectedError` naming the reason: malformed JSON or fields, a missing or bad signature,
 * another cluster, an expired or older generation, an absolute path or `..`, a duplicate key, or
 * more bytes than the disk budget.
 */
export function verifyManifest(text: string, expect: ManifestExpectations): SignedFillManifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ManifestRejectedError(`malformed JSON (${(error as Error).message})`);
  }
  const manifest = parsed as Partial<SignedFillManifest>;
  if (typeof parsed !== 'object' || parsed === null || manifest.format !== MANIFEST_FORMAT) {
    throw new ManifestRejectedError(`format must be ${MANIFEST_FORMAT}`);
  }
  if (!manifest.signature || typeof manifest.signature.value !== 'string' || typeof manifest.signature.keyId !== 'string') {
    throw new ManifestRejectedError('signature is missing');
  }
  if (manifest.signature.algorithm !== 'HMAC-SHA256') {
    throw new ManifestRejectedError(`signature algorithm must be HMAC-SHA256 (got ${String(manifest.signature.algorithm)})`);
  }
  if (typeof manifest.clusterId !== 'string' || !Number.isInteger(manifest.generation) || typeof manifest.createdAt !== 'string' || typeof manifest.validUntil !== 'string' || !Array.isArray(manifest.objects)) {
    throw new ManifestRejectedError('clusterId, generation, createdAt, validUntil and objects are required');
  }
  const ringKey = expect.keyring.keys.get(manifest.signature.keyId);
  if (!ringKey) {
    throw new ManifestRejectedError(`signature key id '${manifest.signature.keyId}' is not in the key ring`);
  }
  for (const [index, object] of manifest.objects.entries()) {
    if (typeof object !== 'object' || object === null || typeof object.key !== 'string' || !Number.isInteger(object.size) || object.size < 0 || typeof object.sha256 !== 'string' || !SHA256_HEX.test(object.sha256) || typeof object.titleId !== 'string' || !TITLE_ID.test(object.titleId)) {
      throw new ManifestRejectedError(`objects[${index}] needs a key, a whole non-negative size, a hex sha256 and a title id`);
    }
  }
  const expected = createHmac('sha256', manifestKey(ringKey)).update(canonicalBody(manifest as FillManifest)).digest();
  const presented = Buffer.from(manifest.signature.value, 'base64url');
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    throw new ManifestRejectedError('signature does not match');
  }
  if (manifest.clusterId !== expect.clusterId) {
    throw new ManifestRejectedError(`it is for cluster '${manifest.clusterId}', not '${expect.clusterId}'`);
  }
  const validUntil = Date.parse(manifest.validUntil);
  if (!(validUntil > expect.nowMs)) {
    throw new ManifestRejectedError(`expired at ${manifest.validUntil}`);
  }
  if (expect.currentGeneration !== undefined && manifest.generation! < expect.currentGeneration) {
    throw new ManifestRejectedError(`generation ${manifest.generation} is older than the applied generation ${expect.currentGeneration}`);
  }
  if (manifest.placements !== undefined) {
    const placements = manifest.placements as unknown;
    if (typeof placements !== 'object' || placements === null || Array.isArray(placements)) {
      throw new ManifestRejectedError('placements must map appliance ids to lists of title ids');
    }
    for (const [applianceId, titles] of Object.entries(placements)) {
      if (!Array.isArray(titles) || titles.some((title) => typeof title !== 'string' || !TITLE_ID.test(title))) {
        throw new ManifestRejectedError(`placements.${applianceId} must be a list of title ids`);
      }
    }
    // A node the plan did not know of (new since it was made) keeps what it holds until the next plan.
    if (!Object.hasOwn(placements, expect.applianceId)) {
      throw new ManifestRejectedError(`it places nothing on '${expect.applianceId}', which the plan did not include`);
    }
  }
  const keys = new Set<string>();
  for (const object of manifest.objects) {
    if (object.key.startsWith('/') || /^[A-Za-z]:/.test(object.key)) {
      throw new ManifestRejectedError(`object key '${object.key}' is an absolute path`);
    }
    if (object.key.split(/[/\\]/).some((segment: string) => segment === '..' || segment === '.' || segment === '')) {
      throw new ManifestRejectedError(`object key '${object.key}' has an empty, '.' or '..' path segment`);
    }
    if (keys.has(object.key)) {
      throw new ManifestRejectedError(`object key '${object.key}' is listed twice`);
    }
    keys.add(object.key);
  }
  const total = objectsForAppliance(manifest as FillManifest, expect.applianceId).reduce((sum, object) => sum + object.size, 0);
  if (total > expect.diskBudgetBytes) {
    throw new ManifestRejectedError(`it places ${total} bytes on '${expect.applianceId}'; the disk budget is ${expect.diskBudgetBytes}`);
  }
  return manifest as SignedFillManifest;
}
