import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The segment-URL token, format v1: one module for the control plane that signs and the appliance
 * that verifies. A token is six dot-separated fields plus the signature:
 *
 *   v1.<keyId>.<expiresAt>.<applianceId>.<titleId>.<maxHeight>.<signature>
 *
 * `signature` is base64url(HMAC-SHA256(key[keyId], canonical)), where canonical is the lines
 * `nearstream-url-token/v1`, keyId, expiresAt (epoch seconds), applianceId, the path scope
 * `titles/<titleId>/`, and maxHeight. The token rides in the path (`/t/<token>/titles/<id>/...`)
 * so that the relative segment URIs of HLS and DASH manifests inherit it.
 */
export const TOKEN_VERSION = 'v1';

/**
 * The longest a token may live: the control plane will not sign a token expiring further ahead,
 * and every verifier (the appliances' edge, `verifyToken`) refuses one, even correctly signed, so a
 * leaked signing path or a misconfigured session length cannot mint long-lived URLs.
 */
export const MAX_TOKEN_LIFETIME_SECONDS = 24 * 60 * 60;

/** How far a verifier's clock may lag the signer's before a token at the lifetime cap is refused. */
export const TOKEN_CLOCK_SKEW_SECONDS = 5 * 60;

/**
 * A token whose `maxHeight` is at least this opens every rendition, so the edge skips the height
 * check: 8K is above every rung of every ladder. Only operators' checks sign one; the play path
 * caps at the plan's height, which is lower.
 */
export const UNCAPPED_MAX_HEIGHT = 4320;

/** Ids inside a token: no dots, no slashes, nothing that needs escaping in a URL. */
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const SIGNATURE = /^[A-Za-z0-9_-]{43}$/;

export interface TokenClaims {
  readonly keyId: string;
  readonly expiresAt: number;
  readonly applianceId: string;
  readonly titleId: string;
  /** The tallest rendition the session may fetch, in pixels. */
  readonly maxHeight: number;
}

/** Signing keys by id, and the one new tokens are signed with. Old keys verify until removed. */
export interface Keyring {
  readonly activeKeyId: string;
  readonly keys: ReadonlyMap<string, Buffer>;
}

export type TokenRejection =
  | 'malformed'
  | 'unknown-key'
  | 'bad-signature'
  | 'expired'
  | 'wrong-appliance'
  | 'wrong-title'
  | 'lifetime-too-long';

export type TokenVerdict =
  | { readonly valid: true; readonly claims: TokenClaims }
  | { readonly valid: false; readonly rejection: TokenRejection; readonly status: 403 | 410; readonly message: string };

/**
 * Reads the URL-signing secret: `{"activeKeyId": "k2", "k1": "<key>", "k2": "<key>"}`. Every
 * field but `activeKeyId` is a key; rotating adds a key, switches `activeKeyId`, and later drops
 * the old key once no live token uses it.
 */
export function parseKeyring(secretJson: string): Keyring {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretJson);
  } catch {
    throw new Error('URL-signing secret is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('URL-signing secret must be a JSON object of key ids to keys');
  }
  const { activeKeyId, ...rest } = parsed as Record<string, unknown>;
  const keys = new Map<string, Buffer>();
  for (const [keyId, key] of Object.entries(rest)) {
    if (!ID.test(keyId)) {
      throw new Error(`URL-signing secret: key id '${keyId}' must be 1-64 letters, digits, '-' or '_'`);
    }
    if (typeof key !== 'string' || key.length < 32) {
      throw new Error(`URL-signing secret: key '${keyId}' must be a string of at least 32 characters`);
    }
    keys.set(keyId, Buffer.from(key, 'utf8'));
  }
  if (typeof activeKeyId !== 'string' || !keys.has(activeKeyId)) {
    throw new Error(`URL-signing secret: activeKeyId '${String(activeKeyId)}' must name one of its keys`);
  }
  return { activeKeyId, keys };
}

function canonical(claims: TokenClaims): string {
  return [
    `nearstream-url-token/${TOKEN_VERSION}`,
    claims.keyId,
    String(claims.expiresAt),
    claims.applianceId,
    tokenScope(claims.titleId),
    String(claims.maxHeight),
  ].join('\n');
}

function mac(key: Buffer, claims: TokenClaims): Buffer {
  return createHmac('sha256', key).update(canonical(claims)).digest();
}

/** The directory a token opens: `titles/<titleId>/`. */
export function tokenScope(titleId: string): string {
  return `titles/${titleId}/`;
}

/**
 * Signs a token for one appliance and title with the keyring's active key. A token expiring more
 * than `MAX_TOKEN_LIFETIME_SECONDS` after `nowEpochSeconds` is refused rather than shortened, so a
 * session length above the cap fails loudly instead of ending sessions early.
 */
export function signToken(keyring: Keyring, claims: Omit<TokenClaims, 'keyId'>, nowEpochSeconds: number): string {
  for (const [field, value] of [['applianceId', claims.applianceId], ['titleId', claims.titleId]] as const) {
    if (!ID.test(value)) {
      throw new Error(`cannot sign a token: ${field} '${value}' must be 1-64 letters, digits, '-' or '_'`);
    }
  }
  if (!Number.isInteger(claims.expiresAt) || !Number.isInteger(claims.maxHeight) || claims.maxHeight <= 0) {
    throw new Error('cannot sign a token: expiresAt and maxHeight must be whole numbers');
  }
  if (claims.expiresAt - nowEpochSeconds > MAX_TOKEN_LIFETIME_SECONDS) {
    throw new Error(
      `cannot sign a token: expiresAt ${claims.expiresAt} is ${claims.expiresAt - nowEpochSeconds} s away; tokens live at most MAX_TOKEN_LIFETIME_SECONDS (${MAX_TOKEN_LIFETIME_SECONDS} s)`,
    );
  }
  const full: TokenClaims = { ...claims, keyId: keyring.activeKeyId };
  const signature = mac(keyring.keys.get(keyring.activeKeyId)!, full).toString('base64url');
  return [TOKEN_VERSION, full.keyId, full.expiresAt, full.applianceId, full.titleId, full.maxHeight, signature].join('.');
}

/** The path a player fetches from an appliance: `/t/<token>/titles/<titleId>/<rest>`. */
export function tokenizedPath(token: string, titleId: string, rest: string): string {
  return `/t/${token}/${tokenScope(titleId)}${rest}`;
}

export interface VerifyContext {
  readonly keyring: Keyring;
  /** The appliance doing the verifying: a token for any other appliance is refused. */
  readonly applianceId: string;
  /** The requested path below the token, e.g. `titles/abc/avc1/720p/seg-1.m4s`. */
  readonly requestedPath: string;
  readonly nowEpochSeconds: number;
}

const reject = (rejection: TokenRejection, message: string, status: 403 | 410 = 403): TokenVerdict => ({
  valid: false,
  rejection,
  status,
  message,
});

/**
 * Checks a token for a request. The signature is checked first, in constant time, so that nothing
 * about the claims is revealed for a forged token; then expiry (410), lifetime, appliance and path
 * scope. The rendition height is the edge's to check: only it has the title's manifests.
 */
export function verifyToken(token: string, context: VerifyContext): TokenVerdict {
  const fields = token.split('.');
  if (fields.length !== 7 || fields[0] !== TOKEN_VERSION) {
    return reject('malformed', `token must be ${TOKEN_VERSION} with 7 dot-separated fields`);
  }
  const [, keyId, expiresAtText, applianceId, titleId, maxHeightText, signature] = fields;
  if (![keyId, applianceId, titleId].every((id) => ID.test(id)) || !/^\d{1,12}$/.test(expiresAtText) || !/^\d{1,5}$/.test(maxHeightText) || !SIGNATURE.test(signature)) {
    return reject('malformed', 'token has a field of the wrong form');
  }
  const key = context.keyring.keys.get(keyId);
  if (!key) {
    return reject('unknown-key', `token key id '${keyId}' is not in the keyring`);
  }
  const claims: TokenClaims = {
    keyId,
    expiresAt: Number(expiresAtText),
    applianceId,
    titleId,
    maxHeight: Number(maxHeightText),
  };
  const expected = mac(key, claims);
  const presented = Buffer.from(signature, 'base64url');
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    return reject('bad-signature', 'token signature does not match');
  }
  if (claims.expiresAt <= context.nowEpochSeconds) {
    return reject('expired', `token expired at ${claims.expiresAt}`, 410);
  }
  if (claims.expiresAt - context.nowEpochSeconds > MAX_TOKEN_LIFETIME_SECONDS + TOKEN_CLOCK_SKEW_SECONDS) {
    return reject('lifetime-too-long', `token expires more than ${MAX_TOKEN_LIFETIME_SECONDS} s from now`);
  }
  if (claims.applianceId !== context.applianceId) {
    return reject('wrong-appliance', `token is for appliance '${claims.applianceId}'`);
  }
  const scope = tokenScope(claims.titleId);
  if (!context.requestedPath.startsWith(scope) || context.requestedPath.split('/').includes('..')) {
    return reject('wrong-title', `token opens only ${scope}`);
  }
  return { valid: true, claims };
}
