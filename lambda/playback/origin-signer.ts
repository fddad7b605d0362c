import { getSignedCookies, getSignedUrl } from '@aws-sdk/cloudfront-signer';
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

export interface CloudFrontKey {
  /** The distribution's domain, e.g. `d111111abcdef8.cloudfront.net`. */
  readonly domainName: string;
  /** The CloudFront public key id in the distribution's trusted key group. */
  readonly keyPairId: string;
  readonly privateKeyPem: string;
}

/**
 * Signs with a custom policy over the scope's directory (or `titles/<titleId>/*`): the signed
 * manifest URLs play directly, and the same policy as cookies lets a player fetch the segments the
 * manifests point to.
 */
export function cloudFrontSigner(key: CloudFrontKey): OriginSigner {
  return {
    sign(titleId, manifests, expiresAtEpochSeconds, scope) {
      if (scope && !scope.directory.startsWith(tokenScope(titleId))) {
        throw new Error(`origin scope '${scope.directory}' lies outside ${tokenScope(titleId)}`);
      }
      const policy = JSON.stringify({
        Statement: [
          {
            Resource: `https://${key.domainName}/${scope?.directory ?? tokenScope(titleId)}*`,
            Condition: {
              DateLessThan: { 'AWS:EpochTime': expiresAtEpochSeconds },
              ...(scope ? { DateGreaterThan: { 'AWS:EpochTime': scope.maxHeight } } : {}),
            },
          },
        ],
      });
      const signed = (path: string) =>
        getSignedUrl({ url: `https://${key.domainName}/${path}`, keyPairId: key.keyPairId, privateKey: key.privateKeyPem, policy });
      const cookies = getSignedCookies({ keyPairId: key.keyPairId, privateKey: key.privateKeyPem, policy });
      return {
        tier: 'origin',
        hls: signed(manifests.hls),
        dash: signed(manifests.dash),
        cookies: Object.fromEntries(Object.entries(cookies).filter((entry): entry is [string, string] => typeof entry[1] === 'string')),
      };
    },
  };
}

/** Where the signing secret comes from; a `SecretCache`, so a play does not pay a round trip. */
export interface SecretSource {
  get(secretId: string): Promise<string>;
}

/**
 * A signer with the key pair the signing secret names now. The key pair id and the private key
 * come from the same read, and the cache underneath expires, so a rotation reaches every play
 * function in both regions within the cache's age, while the old key is still trusted.
 */
export function activeKeySigner(secrets: SecretSource, secretId: string, domainName: string): () => Promise<OriginSigner> {
  return async () => {
    const { keyPairId, privateKeyPem } = parseOriginSigningKey(await secrets.get(secretId));
    return cloudFrontSigner({ domainName, keyPairId, privateKeyPem });
  };
}
