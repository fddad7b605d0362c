import { createHmac, timingSafeEqual } from 'node:crypto';
import { REQUEST_LIMITS } from './control-table';
import { Keyring } from './url-token';

/**
 * The fill manifest, format v1: what one cluster's appliances must hold after tonight's fill. One
 * module for the planner that signs it and the appliance that verifies it.
 *
 *   {
 *     "format": "nearstream-fill-manifest/v1",
 *     "clusterId": "isp-a-nyc",
 *     "generation": 42,                        // increases with every plan; never goes back; below 2^53
 *     "createdAt": "2026-11-21T01:00:00.000Z",
 *     "validUntil": "2026-11-23T01:00:00.000Z", // an appliance refuses it after this; at most 7 days on
 *     "objects": [{ "key": "titles/t1/avc1/index.m3u8", "size": 812, "sha256": "<hex>", "titleId": "t1" }],
 *     "placements": { "oca-1": ["t1"], "oca-2": ["t1", "t2"] },   // optional
 *     "signature": { "algorithm": "HMAC-SHA256", "keyId": "k2", "value": "<base64url>" }
 *   }
 *
 * `placements` says which titles each appliance of the cluster holds (popular titles on several,
 * the rest spread by consistent hashing). Without it every appliance holds every object listed.
 * Every key is a file of its title below `titles/<titleId>/` (see `objectKeyProblem`); planners
 * check a manifest with `checkManifest` before signing it, by the rules appliances verify it with.
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

/**
 * The titles planning placed on one appliance, in placement order: its `placements` entry, or
 * without placements every title of the manifest in the order its objects list them. Holdings
 * reports are bits over this list, so the appliance and the control plane must agree on it.
 */
export function placementOrder(manifest: Pick<FillManifest, 'objects' | 'placements'>, applianceId: string): readonly string[] {
  if (manifest.placements !== undefined) {
    return Object.hasOwn(manifest.placements, applianceId) ? manifest.placements[applianceId] : [];
  }
  return [...new Set(manifest.objects.map((object) => object.titleId))];
}

/** Signs a manifest with the key ring's active key. */
export function signManifest(manifest: Omit<FillManifest, 'format'>, keyring: Keyring): SignedFillManifest {
  const body: FillManifest = { ...manifest, format: MANIFEST_FORMAT };
  const value = createHmac('sha256', manifestKey(keyring.keys.get(keyring.activeKeyId)!)).update(canonicalBody(body)).digest('base64url');
  return { ...body, signature: { algorithm: 'HMAC-SHA256', keyId: keyring.activeKeyId, value } };
}

/** S3's longest key, in UTF-8 bytes. */
export const MAX_OBJECT_KEY_BYTES = 1024;
/** The longest file name Linux file systems store, in bytes: one path segment of a key. */
export const MAX_KEY_SEGMENT_BYTES = 255;
/**
 * What the edge serves (appliance-image/nginx/token.js `RAW_PATH`, held to these by a test): a title
 * id of letters, digits, `_` and `-`, and file segments of those and `.`, not starting with a dot.
 */
export const SERVABLE_TITLE_ID = /^[A-Za-z0-9_-]+$/;
export const SERVABLE_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
/** The edge's longest request path (token.js `MAX_RAW_PATH`). */
export const EDGE_MAX_PATH = 1024;
/** Room for `/t/<the longest token>/` before the key inside the edge's path limit, with margin. */
export const MAX_SERVABLE_KEY_BYTES = 512;
/** S3's largest object. */
export const MAX_OBJECT_BYTES = 5 * 1024 ** 4;
/** The longest a manifest may stay valid after it was made: a node that misses a week of plans must hear again first. */
export const MAX_VALIDITY_MS = 7 * 86_400_000;
/** How far ahead of the verifying node's clock a manifest's `createdAt` may be. */
export const CLOCK_SKEW_MS = 15 * 60_000;
/** The largest manifest text an appliance reads: about a million and a half objects. */
export const MAX_MANIFEST_BYTES = 256 * 1024 * 1024;

const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Title, appliance and cluster ids alike. */
const ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;
/**
 * Never part of a key: control, format (bidi overrides, zero-width), private-use, unassigned and
 * surrogate code points, line and paragraph separators, every space but U+0020, and the backslash.
 * Each would make a key that prints like another, that a file system or the edge reads otherwise,
 * or that Node refuses as a path (NUL).
 */
const FORBIDDEN_IN_KEY = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}\\]|(?! )\p{Zs}/u;
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}]|(?! )\p{Zs}/gu;

/** A value as a reason quotes it: at most 200 characters, invisible ones escaped. */
export function quoted(value: string): string {
  const cut = value.length > 200 ? `${value.slice(0, 200)}...` : value;
  return `'${cut.replace(INVISIBLE, (c) => `\\u{${c.codePointAt(0)!.toString(16).toUpperCase()}}`)}'`;
}

/**
 * Why `key` cannot be an object of title `titleId`, or undefined when it can. A key is a path
 * below the appliance's cache that the edge serves for that title's tokens, so it must be under
 * `titles/<titleId>/`, relative, made of real file names (no empty, `.` or `..` segment, none
 * longer than 255 bytes or padded with spaces), in Unicode NFC (two spellings of one name would
 * be one file on some file systems), free of invisible characters, and within S3's 1,024 bytes.
 */
export function objectKeyProblem(key: string, titleId: string): string | undefined {
  if (key.startsWith('/') || /^[A-Za-z]:/.test(key)) {
    return 'is an absolute path';
  }
  const forbidden = FORBIDDEN_IN_KEY.exec(key);
  if (forbidden) {
    return forbidden[0] === '\\' ? 'contains a backslash' : `contains the invisible or control character U+${forbidden[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  const bytes = Buffer.byteLength(key);
  if (bytes > MAX_OBJECT_KEY_BYTES) {
    return `is ${bytes} bytes long; S3 keys are at most ${MAX_OBJECT_KEY_BYTES}`;
  }
  if (key.normalize('NFC') !== key) {
    return 'is not in Unicode normalization form C (NFC)';
  }
  const segments = key.split('/');
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    return "has an empty, '.' or '..' path segment";
  }
  const long = segments.find((segment) => Buffer.byteLength(segment) > MAX_KEY_SEGMENT_BYTES);
  if (long !== undefined) {
    return `has a path segment of ${Buffer.byteLength(long)} bytes; file names are at most ${MAX_KEY_SEGMENT_BYTES}`;
  }
  if (segments.some((segment) => segment !== segment.trim())) {
    return 'has a path segment with leading or trailing spaces';
  }
  if (segments.length < 3 || segments[0] !== 'titles' || segments[1] !== titleId) {
    return `is not under titles/${titleId}/, where the edge serves title '${titleId}'`;
  }
  if (!SERVABLE_TITLE_ID.test(titleId)) {
    return `names title ${quoted(titleId)}, which the edge would not serve: only letters, digits, '_' and '-'`;
  }
  const unservable = segments.slice(2).find((segment) => !SERVABLE_SEGMENT.test(segment));
  if (unservable !== undefined) {
    return `has a path segment ${quoted(unservable)} the edge would not serve: only letters, digits, '_', '-' and '.', not starting with '.'`;
  }
  if (bytes > MAX_SERVABLE_KEY_BYTES) {
    return `is ${bytes} bytes long; the edge serves keys of at most ${MAX_SERVABLE_KEY_BYTES}, so that /t/<token>/ and the key fit its ${EDGE_MAX_PATH}-character request path`;
  }
  return undefined;
}

/** Parses a manifest timestamp, which must be an exact ISO 8601 UTC instant. */
function instant(value: string, field: string): number {
  const ms = ISO_INSTANT.test(value) ? Date.parse(value) : Number.NaN;
  // Date.parse rolls 2026-02-30 over into March: a real instant prints back as itself.
  if (!Number.isFinite(ms) || new Date(ms).toISOString().slice(0, 19) !== value.slice(0, 19)) {
    throw new ManifestRejectedError(`${field} must be an ISO 8601 UTC instant like 2026-11-21T01:00:00.000Z (got ${quoted(value)})`);
  }
  return ms;
}

/** The types of every field, checked before the signature is computed over them. */
function checkShape<T extends Partial<FillManifest>>(manifest: T): asserts manifest is T & FillManifest {
  if (typeof manifest.clusterId !== 'string' || typeof manifest.createdAt !== 'string' || typeof manifest.validUntil !== 'string' || !Array.isArray(manifest.objects) || manifest.generation === undefined) {
    throw new ManifestRejectedError('clusterId, generation, createdAt, validUntil and objects are required');
  }
  if (!Number.isSafeInteger(manifest.generation) || manifest.generation < 1) {
    throw new ManifestRejectedError(`generation must be a whole number from 1 to ${Number.MAX_SAFE_INTEGER} (got ${String(manifest.generation)})`);
  }
  for (const [index, object] of manifest.objects.entries()) {
    if (
      typeof object !== 'object' ||
      object === null ||
      typeof object.key !== 'string' ||
      !Number.isSafeInteger(object.size) ||
      object.size < 0 ||
      object.size > MAX_OBJECT_BYTES ||
      typeof object.sha256 !== 'string' ||
      !SHA256_HEX.test(object.sha256) ||
      typeof object.titleId !== 'string' ||
      !ID.test(object.titleId)
    ) {
      throw new ManifestRejectedError(`objects[${index}] needs a key, a whole size from 0 to ${MAX_OBJECT_BYTES} bytes, a hex sha256 and a title id`);
    }
  }
  if (manifest.placements !== undefined) {
    const placements = manifest.placements as unknown;
    if (typeof placements !== 'object' || placements === null || Array.isArray(placements)) {
      throw new ManifestRejectedError('placements must map appliance ids to lists of title ids');
    }
    for (const [applianceId, titles] of Object.entries(placements)) {
      if (!ID.test(applianceId)) {
        throw new ManifestRejectedError(`placements: ${quoted(applianceId)} is not an appliance id`);
      }
      if (!Array.isArray(titles) || titles.some((title) => typeof title !== 'string' || !ID.test(title))) {
        throw new ManifestRejectedError(`placements.${applianceId} must be a list of title ids`);
      }
      checkPlacementLength(titles.length, `placements.${applianceId}`);
      if (new Set(titles).size !== titles.length) {
        throw new ManifestRejectedError(`placements.${applianceId} lists a title twice`);
      }
    }
  } else {
    checkPlacementLength(new Set(manifest.objects.map((object) => object.titleId)).size, 'the manifest (no placements: every appliance holds every title)');
  }
}

/** Holdings are one bit per placed title: a placement longer than the control plane tracks could never be reported. */
function checkPlacementLength(titles: number, where: string): void {
  if (titles > REQUEST_LIMITS.placementTitles) {
    throw new ManifestRejectedError(`${where} places ${titles} titles on one appliance; the most is ${REQUEST_LIMITS.placementTitles}`);
  }
}

/** What a manifest says, checked against itself: ids, timestamps, and keys that make one file each. */
function checkContent(manifest: FillManifest): { readonly createdAtMs: number; readonly validUntilMs: number } {
  if (!ID.test(manifest.clusterId)) {
    throw new ManifestRejectedError(`clusterId ${quoted(manifest.clusterId)} is not a cluster id`);
  }
  const createdAtMs = instant(manifest.createdAt, 'createdAt');
  const validUntilMs = instant(manifest.validUntil, 'validUntil');
  if (validUntilMs <= createdAtMs) {
    throw new ManifestRejectedError(`validUntil ${manifest.validUntil} is not after createdAt ${manifest.createdAt}`);
  }
  if (validUntilMs - createdAtMs > MAX_VALIDITY_MS) {
    throw new ManifestRejectedError(`it is valid for ${Math.round((validUntilMs - createdAtMs) / 3_600_000)} hours; the most is ${MAX_VALIDITY_MS / 3_600_000}`);
  }
  const keys = new Set<string>();
  for (const object of manifest.objects) {
    const problem = objectKeyProblem(object.key, object.titleId);
    if (problem) {
      throw new ManifestRejectedError(`object key ${quoted(object.key)} ${problem}`);
    }
    if (keys.has(object.key)) {
      throw new ManifestRejectedError(`object key ${quoted(object.key)} is listed twice`);
    }
    keys.add(object.key);
  }
  // A key that is another's directory could never be both a file and a directory on disk.
  for (const key of keys) {
    for (let slash = key.indexOf('/'); slash > 0; slash = key.indexOf('/', slash + 1)) {
      if (keys.has(key.slice(0, slash))) {
        throw new ManifestRejectedError(`object key ${quoted(key.slice(0, slash))} is also a directory of ${quoted(key)}`);
      }
    }
  }
  return { createdAtMs, validUntilMs };
}

/**
 * Checks an unsigned manifest by the rules appliances verify it with, so a planner never signs
 * one that every appliance would refuse. Throws `ManifestRejectedError` naming the reason.
 */
export function checkManifest(manifest: Omit<FillManifest, 'format'>): void {
  checkShape(manifest);
  checkContent(manifest as FillManifest);
}

export interface ManifestExpectations {
  readonly keyring: Keyring;
  /** The appliance's cluster: a manifest for another cluster is refused. */
  readonly clusterId: string;
  /** The generation last applied; an older one is refused (the same one may be resumed). */
  readonly currentGeneration?: number;
  /** When the applied generation was made: a newer generation made before it is refused. */
  readonly currentCreatedAt?: string;
  readonly nowMs: number;
  /** The most the cache may hold; a manifest placing more on this appliance is refused. */
  readonly diskBudgetBytes: number;
  /** The verifying appliance, whose placement the disk budget applies to. */
  readonly applianceId: string;
}

/**
 * Parses and verifies a manifest before anything is written. Every rejection is a
 * `ManifestRejectedError` naming the reason: malformed JSON or fields, a missing or bad signature,
 * another cluster, timestamps that are not instants, out of order, in the future or too far
 * apart, an expired or older generation, a key the edge would not serve as one file of its title
 * (see `objectKeyProblem`), a duplicate key or one that is another's directory, or more bytes
 * than the disk budget.
 */
export function verifyManifest(text: string, expect: ManifestExpectations): SignedFillManifest {
  if (text.length > MAX_MANIFEST_BYTES) {
    throw new ManifestRejectedError(`it is over ${MAX_MANIFEST_BYTES} bytes long`);
  }
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
  if (typeof manifest.signature !== 'object' || manifest.signature === null || typeof manifest.signature.value !== 'string' || typeof manifest.signature.keyId !== 'string') {
    throw new ManifestRejectedError('signature is missing');
  }
  if (manifest.signature.algorithm !== 'HMAC-SHA256') {
    throw new ManifestRejectedError(`signature algorithm must be HMAC-SHA256 (got ${String(manifest.signature.algorithm)})`);
  }
  checkShape(manifest);
  const ringKey = expect.keyring.keys.get(manifest.signature.keyId);
  if (!ringKey) {
    throw new ManifestRejectedError(`signature key id ${quoted(manifest.signature.keyId)} is not in the key ring`);
  }
  const expected = createHmac('sha256', manifestKey(ringKey)).update(canonicalBody(manifest)).digest();
  const presented = Buffer.from(manifest.signature.value, 'base64url');
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    throw new ManifestRejectedError('signature does not match');
  }
  if (manifest.clusterId !== expect.clusterId) {
    throw new ManifestRejectedError(`it is for cluster ${quoted(manifest.clusterId)}, not '${expect.clusterId}'`);
  }
  const { createdAtMs, validUntilMs } = checkContent(manifest);
  if (createdAtMs > expect.nowMs + CLOCK_SKEW_MS) {
    throw new ManifestRejectedError(`createdAt ${manifest.createdAt} is in the future (this node's clock says ${new Date(expect.nowMs).toISOString()})`);
  }
  if (!(validUntilMs > expect.nowMs)) {
    throw new ManifestRejectedError(`expired at ${manifest.validUntil}`);
  }
  // A lower generation made after the applied one is a planner whose numbering restarted (its
  // pointer item was restored or recreated): its plan is the newer, or the node would refuse plans forever.
  const restarted = expect.currentCreatedAt !== undefined && createdAtMs > Date.parse(expect.currentCreatedAt);
  if (expect.currentGeneration !== undefined && manifest.generation < expect.currentGeneration && !restarted) {
    throw new ManifestRejectedError(`generation ${manifest.generation} is older than the applied generation ${expect.currentGeneration}`);
  }
  if (expect.currentGeneration !== undefined && expect.currentCreatedAt !== undefined && manifest.generation > expect.currentGeneration && createdAtMs < Date.parse(expect.currentCreatedAt)) {
    throw new ManifestRejectedError(`generation ${manifest.generation} was created at ${manifest.createdAt}, before the applied generation ${expect.currentGeneration} (${expect.currentCreatedAt})`);
  }
  // A node the plan did not know of (new since it was made) keeps what it holds until the next plan.
  if (manifest.placements !== undefined && !Object.hasOwn(manifest.placements, expect.applianceId)) {
    throw new ManifestRejectedError(`it places nothing on '${expect.applianceId}', which the plan did not include`);
  }
  const total = objectsForAppliance(manifest, expect.applianceId).reduce((sum, object) => sum + object.size, 0);
  if (total > expect.diskBudgetBytes) {
    throw new ManifestRejectedError(`it places ${total} bytes on '${expect.applianceId}'; the disk budget is ${expect.diskBudgetBytes}`);
  }
  return manifest as SignedFillManifest;
}
