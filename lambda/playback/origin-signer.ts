import { getSignedCookies, getSignedUrl } from '@aws-sdk/cloudfront-signer';
import { CodecManifests } from '../catalog/catalog';
import { tokenScope } from '../shared/url-token';

/** The last-resort source: the origin bucket through CloudFront, with signed access to one title. */
export interface OriginSource {
  readonly tier: 'origin';
  readonly hls: string;
  readonly dash: string;
  /** Cookies granting the title's whole directory, for the segments the manifests name. */
  readonly cookies: Record<string, string>;
}

export interface OriginSigner {
  sign(titleId: string, manifests: CodecManifests, expiresAtEpochSeconds: number): OriginSource;
}

export interface CloudFrontKey {
  /** The distribution's domain, e.g. `d111111abcdef8.cloudfront.net`. */
  readonly domainName: string;
  /** The CloudFront public key id in the distribution's trusted key group. */
  readonly keyPairId: string;
  readonly privateKeyPem: string;
}

/**
 * Signs with a custom policy over `titles/<titleId>/*`: the signed manifest URLs play directly,
 * and the same policy as cookies lets a player fetch the segments the manifests point to.
 */
export function cloudFrontSigner(key: CloudFrontKey): OriginSigner {
  return {
    sign(titleId, manifests, expiresAtEpochSeconds) {
      const policy = JSON.stringify({
        Statement: [
          {
            Resource: `https://${key.domainName}/${tokenScope(titleId)}*`,
            Condition: { DateLessThan: { 'AWS:EpochTime': expiresAtEpochSeconds } },
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
