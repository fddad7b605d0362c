import { createPrivateKey, createSign, KeyObject } from 'node:crypto';
import { CodecManifests } from '../catalog/catalog';
import { parseOriginSigningKey } from '../shared/origin-signing-key';
import { tokenScope } from '../shared/url-token';

/** The last-resort source: the origin bucket through CloudFront, with signed access to one title. */
export interface OriginSource {
  readonly tier: 'origin';
  readonly hls: string;
  readonly dash: string;
  /** Cookies granting the policy's directory, for the segments the manifests name. */
  readonly cookies: Record<string, string>;
}

/** What an origin-tier policy opens: one codec directory of a title, up to a height. */
export interface OriginScope {
  /** The directory, below the title's, e.g. `titles/<titleId>/avc1/`. */
  readonly directory: string;
  /**
   * The tallest rendition the session may fetch. The policy carries it as its start time
   * (`DateGreaterThan`, seconds after the epoch: always past), where the distribution's CloudFront
   * Function (`lambda/edge/rendition-guard.js`) reads it, under CloudFront's own signature check.
   */
  readonly maxHeight: number;
}

export interface OriginSigner {
  /** @param scope what the policy opens; without one, the title's whole directory, uncapped. */
  sign(titleId: string, manifests: CodecManifests, expiresAtEpochSeconds: number, scope?: OriginScope): OriginSource;
}

/**
 * Where the distribution answers: its domain (deployed, reached over https), or a whole base URL
 * such as a local CloudFront stand-in's `http://127.0.0.1:4523`. Policies and URLs start with it.
 */
export type OriginLocation = { readonly domainName: string } | { readonly baseUrl: string };

export type CloudFrontKey = OriginLocation & {
  /** The CloudFront public key id in the distribution's trusted key group. */
  readonly keyPairId: string;
  readonly privateKeyPem: string;
};

/**
 * Checks an origin base URL: http or https, a host, and nothing after it (no path, query or
 * trailing slash), since policy resources and URLs are built by appending `/<key>` to it.
 * @param name what holds the value, for the error, e.g. `Environment variable ORIGIN_BASE_URL`
 */
export function checkOriginBaseUrl(value: string, name: string): string {
  const origin = bareOrigin(value);
  if (origin === undefined) {
    throw new Error(`${name} must be an http(s) URL with no path, query or trailing slash, such as http://127.0.0.1:4523 (got '${value}')`);
  }
  return origin;
}

function bareOrigin(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  const bare =
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    !url.username &&
    !url.password &&
    url.pathname === '/' &&
    !url.search &&
    !url.hash &&
    !/[/?#]$/.test(value);
  return bare ? url.origin : undefined;
}

/**
 * Policies whose signatures a signer keeps. Plays of one title, codec and height within the same
 * second share a policy (its expiry counts in whole seconds), and an RSA signature is deterministic.
 */
const SIGNATURES_KEPT = 256;

/**
 * Signs with a custom policy over the scope's directory (or `titles/<titleId>/*`): the signed
 * manifest URLs play directly, and the same policy as cookies lets a player fetch the segments the
 * manifests point to. A custom policy's signature covers the policy alone, so one RSA signature
 * serves both URLs and the cookies, and plays that need the same policy share its signature; the
 * private key is parsed once, here.
 */
export function cloudFrontSigner(key: CloudFrontKey): OriginSigner {
  const baseUrl = 'baseUrl' in key ? checkOriginBaseUrl(key.baseUrl, 'baseUrl') : `https://${key.domainName}`;
  const privateKey = createPrivateKey(key.privateKeyPem);
  const keyPairId = encodeURIComponent(key.keyPairId);
  const signatures = new Map<string, { policy: string; signature: string }>();
  return {
    sign(titleId, manifests, expiresAtEpochSeconds, scope) {
      if (scope && !scope.directory.startsWith(tokenScope(titleId))) {
        throw new Error(`origin scope '${scope.directory}' lies outside ${tokenScope(titleId)}`);
      }
      const policy = JSON.stringify({
        Statement: [
          {
            Resource: `${baseUrl}/${scope?.directory ?? tokenScope(titleId)}*`,
            Condition: {
              DateLessThan: { 'AWS:EpochTime': expiresAtEpochSeconds },
              ...(scope ? { DateGreaterThan: { 'AWS:EpochTime': scope.maxHeight } } : {}),
            },
          },
        ],
      });
      let signed = signatures.get(policy);
      if (!signed) {
        signed = signPolicy(policy, privateKey);
        signatures.set(policy, signed);
        if (signatures.size > SIGNATURES_KEPT) {
          signatures.delete(signatures.keys().next().value!);
        }
      }
      const query = `Policy=${signed.policy}&Key-Pair-Id=${keyPairId}&Signature=${signed.signature}`;
      const url = (path: string) => `${baseUrl}/${path.split('/').map(encodeURIComponent).join('/')}?${query}`;
      return {
        tier: 'origin',
        hls: url(manifests.hls),
        dash: url(manifests.dash),
        cookies: {
          'CloudFront-Key-Pair-Id': key.keyPairId,
          'CloudFront-Signature': signed.signature,
          'CloudFront-Policy': signed.policy,
        },
      };
    },
  };
}

/** A custom policy and its signature, as CloudFront reads them: RSA-SHA1, in CloudFront's base64. */
function signPolicy(policy: string, privateKey: KeyObject): { policy: string; signature: string } {
  return {
    policy: cloudFrontBase64(Buffer.from(policy, 'utf8')),
    signature: cloudFrontBase64(createSign('RSA-SHA1').update(policy, 'utf8').sign(privateKey)),
  };
}

/** CloudFront's URL-safe base64: `+` becomes `-`, `=` becomes `_` and `/` becomes `~`. */
function cloudFrontBase64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/[+=/]/g, (char) => (char === '+' ? '-' : char === '=' ? '_' : '~'));
}

/** Where the signing secret comes from; a `SecretCache`, so a play does not pay a round trip. */
export interface SecretSource {
  get(secretId: string): Promise<string>;
}

/**
 * A signer with the key pair the signing secret names now. The key pair id and the private key
 * come from the same read, and the cache underneath expires, so a rotation reaches every play
 * function in both regions within the cache's age, while the old key is still trusted. The signer
 * (and its parsed key) is kept for as long as the secret's value stays the same.
 * @param origin where the distribution answers; a string is its domain name
 */
export function activeKeySigner(secrets: SecretSource, secretId: string, origin: OriginLocation | string): () => Promise<OriginSigner> {
  const location: OriginLocation = typeof origin === 'string' ? { domainName: origin } : origin;
  let current: { secret: string; signer: OriginSigner } | undefined;
  return async () => {
    const secret = await secrets.get(secretId);
    if (current?.secret !== secret) {
      current = { secret, signer: cloudFrontSigner({ ...location, ...parseOriginSigningKey(secret) }) };
    }
    return current.signer;
  };
}
