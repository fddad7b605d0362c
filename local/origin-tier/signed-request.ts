import { createPublicKey, KeyObject, verify } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { queryPairs } from './request-parts';

/** The query parameters that carry a signature; the URL a policy must match leaves them out. */
const SIGNING_PARAMETERS = new Set(['Expires', 'Policy', 'Signature', 'Key-Pair-Id', 'Hash-Algorithm']);
const HASH_ALGORITHMS: Readonly<Record<string, string>> = { SHA1: 'RSA-SHA1', SHA256: 'RSA-SHA256' };

/** CloudFront's error codes for a refused signature. */
export type DenialCode = 'MissingKey' | 'InvalidKey' | 'MalformedPolicy' | 'AccessDenied';

export interface Denial {
  readonly code: DenialCode;
  readonly message: string;
}

/** What of a viewer's request CloudFront reads to check its signature. */
export interface SignedRequest {
  /** `http://<host>:<port>`, as the viewer addressed the distribution (its Host header). */
  readonly origin: string;
  /** The path as sent, still percent-encoded. */
  readonly path: string;
  /** The query string as sent, without `?`. */
  readonly rawQuery: string;
  /** The first value of each cookie. */
  readonly cookies: ReadonlyMap<string, string>;
  readonly viewerIp: string;
}

/** The distribution's trusted key group: public key by key pair id. */
export type TrustedKeys = ReadonlyMap<string, KeyObject>;

/** Reads a key group given as PEM public keys by key pair id; refuses one that is not a public key. */
export function trustedKeys(publicKeys: Readonly<Record<string, string>>): TrustedKeys {
  return new Map(
    Object.entries(publicKeys).map(([keyPairId, pem]) => {
      try {
        return [keyPairId, createPublicKey(pem)];
      } catch (error) {
        throw new Error(`publicKeys.${keyPairId} is not a PEM public key: ${(error as Error).message}`);
      }
    }),
  );
}

interface Credentials {
  readonly keyPairId?: string;
  readonly signature?: string;
  readonly policy?: string;
  readonly expires?: string;
  readonly hashAlgorithm?: string;
  /** Where they came from, for messages. */
  readonly carrier: 'query parameter' | 'cookie';
}

interface PolicyConditions {
  readonly resource?: string;
  readonly dateLessThan: number;
  readonly dateGreaterThan?: number;
  readonly sourceIp?: string;
}

/**
 * Why CloudFront would refuse the request's signature, or undefined when it would accept it: the
 * signature comes from the query string when it carries any signing parameter, else from the
 * cookies; it must verify under a trusted key over the policy (custom) or over the canned policy
 * CloudFront builds from the URL and `Expires`; the policy's Resource must match the URL without
 * the signing parameters, and its conditions must hold now.
 */
export function denialOf(request: SignedRequest, keys: TrustedKeys, nowEpochSeconds: number): Denial | undefined {
  const pairs = queryPairs(request.rawQuery);
  const remaining = pairs.filter(([name]) => !SIGNING_PARAMETERS.has(name));
  const url = `${request.origin}${request.path}${remaining.length > 0 ? `?${remaining.map(([name, value]) => `${name}=${value}`).join('&')}` : ''}`;
  const credentials = credentialsOf(pairs, request.cookies);

  if (!credentials.keyPairId) {
    return { code: 'MissingKey', message: 'Missing Key-Pair-Id query parameter or cookie value' };
  }
  const key = keys.get(credentials.keyPairId);
  if (!key) {
    return { code: 'InvalidKey', message: `Unknown Key: key pair id '${credentials.keyPairId}' is not in the trusted key group (${[...keys.keys()].join(', ')})` };
  }
  if (!credentials.signature) {
    return { code: 'AccessDenied', message: `Access denied: missing Signature ${credentials.carrier}` };
  }
  const algorithm = HASH_ALGORITHMS[credentials.hashAlgorithm ?? 'SHA1'];
  if (!algorithm) {
    return { code: 'AccessDenied', message: `Access denied: Hash-Algorithm '${credentials.hashAlgorithm}' is neither SHA1 nor SHA256` };
  }
  let policyText: string;
  if (credentials.policy !== undefined) {
    policyText = fromCloudFrontBase64(credentials.policy).toString('utf8');
  } else if (credentials.expires !== undefined) {
    if (!/^\d+$/.test(credentials.expires)) {
      return { code: 'MalformedPolicy', message: `Malformed Policy: Expires '${credentials.expires}' must be whole seconds since the epoch` };
    }
    policyText = JSON.stringify({ Statement: [{ Resource: url, Condition: { DateLessThan: { 'AWS:EpochTime': Number(credentials.expires) } } }] });
  } else {
    return { code: 'AccessDenied', message: `Access denied: missing Policy or Expires ${credentials.carrier}` };
  }
  if (!verify(algorithm, Buffer.from(policyText, 'utf8'), key, fromCloudFrontBase64(credentials.signature))) {
    return { code: 'AccessDenied', message: `Access denied: the Signature ${credentials.carrier} does not verify over the policy under key pair id '${credentials.keyPairId}'` };
  }
  const conditions = parsePolicy(policyText);
  if (typeof conditions === 'string') {
    return { code: 'MalformedPolicy', message: `Malformed Policy: ${conditions}` };
  }
  return conditionDenial(conditions, url, request.viewerIp, nowEpochSeconds);
}

function credentialsOf(pairs: readonly [string, string][], cookies: ReadonlyMap<string, string>): Credentials {
  const signing = new Map<string, string>();
  for (const [name, value] of pairs) {
    if (SIGNING_PARAMETERS.has(name) && !signing.has(name)) {
      signing.set(name, decodeQueryValue(value));
    }
  }
  if (signing.size > 0) {
    return {
      keyPairId: signing.get('Key-Pair-Id'),
      signature: signing.get('Signature'),
      policy: signing.get('Policy'),
      expires: signing.get('Expires'),
      hashAlgorithm: signing.get('Hash-Algorithm'),
      carrier: 'query parameter',
    };
  }
  return {
    keyPairId: cookies.get('CloudFront-Key-Pair-Id'),
    signature: cookies.get('CloudFront-Signature'),
    policy: cookies.get('CloudFront-Policy'),
    expires: cookies.get('CloudFront-Expires'),
    hashAlgorithm: cookies.get('CloudFront-Hash-Algorithm'),
    carrier: 'cookie',
  };
}

function conditionDenial(conditions: PolicyConditions, url: string, viewerIp: string, nowEpochSeconds: number): Denial | undefined {
  if (conditions.resource !== undefined && !wildcardMatches(conditions.resource, url)) {
    return { code: 'AccessDenied', message: `Access denied: the policy's Resource '${conditions.resource}' does not match '${url}'` };
  }
  if (nowEpochSeconds >= conditions.dateLessThan) {
    return { code: 'AccessDenied', message: `Access denied: the policy expired at ${isoOf(conditions.dateLessThan)} (DateLessThan)` };
  }
  if (conditions.dateGreaterThan !== undefined && nowEpochSeconds <= conditions.dateGreaterThan) {
    return { code: 'AccessDenied', message: `Access denied: the policy is not valid before ${isoOf(conditions.dateGreaterThan)} (DateGreaterThan)` };
  }
  if (conditions.sourceIp !== undefined && !inCidr(viewerIp, conditions.sourceIp)) {
    return { code: 'AccessDenied', message: `Access denied: viewer ${viewerIp} is outside the policy's IpAddress ${conditions.sourceIp}` };
  }
  return undefined;
}

/** The policy's one statement, or what is wrong with it. */
function parsePolicy(text: string): PolicyConditions | string {
  let policy: unknown;
  try {
    policy = JSON.parse(text);
  } catch {
    return 'the policy is not JSON';
  }
  const statements = (policy as { Statement?: unknown }).Statement;
  if (!Array.isArray(statements) || statements.length !== 1) {
    return 'Statement must be a list of exactly one statement';
  }
  const { Resource: resource, Condition: condition } = statements[0] as { Resource?: unknown; Condition?: Record<string, unknown> };
  if (resource !== undefined && typeof resource !== 'string') {
    return 'Statement[0].Resource must be a URL';
  }
  const dateLessThan = epochOf(condition?.DateLessThan);
  if (dateLessThan === undefined) {
    return 'Statement[0].Condition.DateLessThan.AWS:EpochTime must be whole seconds since the epoch';
  }
  const dateGreaterThan = epochOf(condition?.DateGreaterThan);
  if (condition?.DateGreaterThan !== undefined && dateGreaterThan === undefined) {
    return 'Statement[0].Condition.DateGreaterThan.AWS:EpochTime must be whole seconds since the epoch';
  }
  const sourceIp = (condition?.IpAddress as Record<string, unknown> | undefined)?.['AWS:SourceIp'];
  if (condition?.IpAddress !== undefined && (typeof sourceIp !== 'string' || !cidrParts(sourceIp))) {
    return 'Statement[0].Condition.IpAddress.AWS:SourceIp must be an address or CIDR block';
  }
  return { resource, dateLessThan, dateGreaterThan, sourceIp: sourceIp as string | undefined };
}

function epochOf(condition: unknown): number | undefined {
  const epoch = (condition as Record<string, unknown> | undefined)?.['AWS:EpochTime'];
  return Number.isInteger(epoch) ? (epoch as number) : undefined;
}

/** CloudFront's Resource wildcards: `*` any run of characters, `?` exactly one. */
function wildcardMatches(pattern: string, url: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\*?]/g, (character) => (character === '*' ? '.*' : character === '?' ? '.' : `\\${character}`));
  return new RegExp(`^${source}$`, 's').test(url);
}

function cidrParts(cidr: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address, prefixText, ...rest] = cidr.split('/');
  const version = isIP(address);
  const width = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? width : Number(prefixText);
  if (version === 0 || rest.length > 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > width) {
    return undefined;
  }
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

function inCidr(ip: string, cidr: string): boolean {
  const block = cidrParts(cidr)!;
  const range = new BlockList();
  range.addSubnet(block.address, block.prefix, block.family);
  const version = isIP(ip);
  return version !== 0 && range.check(ip, version === 4 ? 'ipv4' : 'ipv6');
}

/** CloudFront's URL-safe base64: `-` for `+`, `_` for `=`, `~` for `/`. */
function fromCloudFrontBase64(value: string): Buffer {
  return Buffer.from(value.replace(/-/g, '+').replace(/_/g, '=').replace(/~/g, '/'), 'base64');
}

function decodeQueryValue(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function isoOf(epochSeconds: number): string {
  const date = new Date(epochSeconds * 1000);
  return Number.isNaN(date.getTime()) ? `epoch second ${epochSeconds}` : date.toISOString();
}
