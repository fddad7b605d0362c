import { createVerify } from 'node:crypto';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { getSignedCookies, getSignedUrl } from '@aws-sdk/cloudfront-signer';
import { mockClient } from 'aws-sdk-client-mock';
import { activeKeySigner, checkOriginBaseUrl, cloudFrontSigner, OriginSource } from '../../../lambda/playback/origin-signer';
import { formatOriginSigningKey } from '../../../lambda/shared/origin-signing-key';
import { SecretCache } from '../../../lambda/shared/secret-cache';
import { cloudFrontKeyPair } from '../../support/fixtures';

const secretsMock = mockClient(SecretsManagerClient);
const SECRET = 'nearstream/dev/origin-signing-key';
const DOMAIN = 'd111111abcdef8.cloudfront.net';
const MANIFESTS = { hls: 'titles/movie-1/avc1/index.m3u8', dash: 'titles/movie-1/avc1/index.mpd' };

const fromCloudFrontBase64 = (text: string) => Buffer.from(text.replace(/-/g, '+').replace(/_/g, '=').replace(/~/g, '/'), 'base64');

/** The key pair id a signed URL names, and whether its signature verifies with the public key. */
function signedWith(url: string, publicKeyPem: string): { keyPairId: string | null; verifies: boolean } {
  const query = new URL(url).searchParams;
  const verifies = createVerify('RSA-SHA1')
    .update(fromCloudFrontBase64(query.get('Policy')!))
    .verify(publicKeyPem, fromCloudFrontBase64(query.get('Signature')!));
  return { keyPairId: query.get('Key-Pair-Id'), verifies };
}

describe('the play function\'s origin signer', () => {
  const one = cloudFrontKeyPair();
  const two = cloudFrontKeyPair();
  const generationOne = formatOriginSigningKey({ keyPairId: 'K1AAAAAAAAAAAA', generation: 1, privateKeyPem: one.privateKeyPem });
  const generationTwo = formatOriginSigningKey({ keyPairId: 'K2BBBBBBBBBBBB', generation: 2, privateKeyPem: two.privateKeyPem });

  beforeEach(() => {
    secretsMock.reset();
  });

  it('signs URLs and cookies with the key pair id and private key the signing secret holds together', async () => {
    secretsMock.on(GetSecretValueCommand, { SecretId: SECRET }).resolves({ SecretString: generationOne });
    const signer = activeKeySigner(new SecretCache(new SecretsManagerClient({ region: 'us-west-2' })), SECRET, DOMAIN);

    const source = (await signer()).sign('movie-1', MANIFESTS, 1_900_000_000);

    expect(signedWith(source.hls, one.publicKeyPem)).toEqual({ keyPairId: 'K1AAAAAAAAAAAA', verifies: true });
    expect(signedWith(source.dash, one.publicKeyPem)).toEqual({ keyPairId: 'K1AAAAAAAAAAAA', verifies: true });
    expect(source.cookies['CloudFront-Key-Pair-Id']).toBe('K1AAAAAAAAAAAA');
  });

  it('keeps the cached (still trusted) key until the cache expires, then signs with the newly active one', async () => {
    let nowMs = 0;
    secretsMock.on(GetSecretValueCommand).resolvesOnce({ SecretString: generationOne }).resolves({ SecretString: generationTwo });
    const signer = activeKeySigner(new SecretCache(new SecretsManagerClient({ region: 'us-west-2' }), 5 * 60_000, () => nowMs), SECRET, DOMAIN);
    await signer();

    nowMs = 4 * 60_000;
    const cached = (await signer()).sign('movie-1', MANIFESTS, 1_900_000_000);
    nowMs = 5 * 60_000;
    const refreshed = (await signer()).sign('movie-1', MANIFESTS, 1_900_000_000);

    expect(signedWith(cached.hls, one.publicKeyPem)).toEqual({ keyPairId: 'K1AAAAAAAAAAAA', verifies: true });
    expect(signedWith(refreshed.hls, two.publicKeyPem)).toEqual({ keyPairId: 'K2BBBBBBBBBBBB', verifies: true });
    expect(refreshed.cookies['CloudFront-Key-Pair-Id']).toBe('K2BBBBBBBBBBBB');
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  /** What `@aws-sdk/cloudfront-signer` makes of the policy a source carries, for its URLs and cookies. */
  function oracle(source: OriginSource, baseUrl: string, manifests: typeof MANIFESTS, keyPairId: string, privateKeyPem: string) {
    const policy = fromCloudFrontBase64(new URL(source.hls).searchParams.get('Policy')!).toString('utf8');
    return {
      hls: getSignedUrl({ url: `${baseUrl}/${manifests.hls}`, keyPairId, privateKey: privateKeyPem, policy }),
      dash: getSignedUrl({ url: `${baseUrl}/${manifests.dash}`, keyPairId, privateKey: privateKeyPem, policy }),
      cookies: getSignedCookies({ keyPairId, privateKey: privateKeyPem, policy }),
    };
  }

  it.each([
    ['over the title, uncapped', undefined],
    ['over one codec directory, capped at a height', { directory: 'titles/movie-1/avc1/', maxHeight: 720 }],
  ])('signs the policy once %s: its URLs and cookies are exactly what @aws-sdk/cloudfront-signer makes of that policy and key', (_label, scope) => {
    const signer = cloudFrontSigner({ domainName: DOMAIN, keyPairId: 'K1AAAAAAAAAAAA', privateKeyPem: one.privateKeyPem });

    const source = signer.sign('movie-1', MANIFESTS, 1_900_000_000, scope);

    const { tier, ...signed } = source;
    expect(tier).toBe('origin');
    expect(signed).toEqual(oracle(source, `https://${DOMAIN}`, MANIFESTS, 'K1AAAAAAAAAAAA', one.privateKeyPem));
    expect(signedWith(source.hls, one.publicKeyPem)).toEqual({ keyPairId: 'K1AAAAAAAAAAAA', verifies: true });
    expect(JSON.parse(fromCloudFrontBase64(source.cookies['CloudFront-Policy']).toString()).Statement[0].Resource).toBe(
      `https://${DOMAIN}/${scope?.directory ?? 'titles/movie-1/'}*`,
    );
  });

  it('gives plays needing the same policy the same signature, and a different expiry its own', () => {
    const signer = cloudFrontSigner({ domainName: DOMAIN, keyPairId: 'K1AAAAAAAAAAAA', privateKeyPem: one.privateKeyPem });

    const [first, again, later] = [1_900_000_000, 1_900_000_000, 1_900_000_001].map((expiresAt) => signer.sign('movie-1', MANIFESTS, expiresAt));

    expect(again).toEqual(first);
    expect(later.cookies['CloudFront-Signature']).not.toBe(first.cookies['CloudFront-Signature']);
    expect(signedWith(later.dash, one.publicKeyPem).verifies).toBe(true);
  });

  it('signs under a base URL such as a local CloudFront stand-in\'s: the policy resource and the URLs start with it', () => {
    const baseUrl = 'http://127.0.0.1:4523';
    const signer = cloudFrontSigner({ baseUrl, keyPairId: 'K1AAAAAAAAAAAA', privateKeyPem: one.privateKeyPem });

    const source = signer.sign('movie-1', MANIFESTS, 1_900_000_000, { directory: 'titles/movie-1/avc1/', maxHeight: 1080 });

    const { tier: _tier, ...signed } = source;
    expect(signed).toEqual(oracle(source, baseUrl, MANIFESTS, 'K1AAAAAAAAAAAA', one.privateKeyPem));
    expect(source.hls.startsWith(`${baseUrl}/titles/movie-1/avc1/index.m3u8?Policy=`)).toBe(true);
    expect(JSON.parse(fromCloudFrontBase64(source.cookies['CloudFront-Policy']).toString()).Statement[0].Resource).toBe(`${baseUrl}/titles/movie-1/avc1/*`);
  });

  it.each(['http://127.0.0.1:4523/', 'http://127.0.0.1:4523/origin', 'http://127.0.0.1:4523?x=1', 'ftp://127.0.0.1', '127.0.0.1:4523', ''])(
    'refuses the base URL %j, naming where it came from',
    (value) => {
      expect(() => checkOriginBaseUrl(value, 'Environment variable ORIGIN_BASE_URL')).toThrow(
        `Environment variable ORIGIN_BASE_URL must be an http(s) URL with no path, query or trailing slash, such as http://127.0.0.1:4523 (got '${value}')`,
      );
    },
  );

  it('parses the private key once while the secret stays the same, and takes a changed secret at the next play', async () => {
    let secret = generationOne;
    const signer = activeKeySigner({ get: async () => secret }, SECRET, { baseUrl: 'https://media.example.com' });

    const first = await signer();
    const same = await signer();
    secret = generationTwo;
    const rotated = await signer();

    expect(same).toBe(first);
    expect(rotated).not.toBe(first);
    expect(signedWith(rotated.sign('movie-1', MANIFESTS, 1_900_000_000).hls, two.publicKeyPem)).toEqual({ keyPairId: 'K2BBBBBBBBBBBB', verifies: true });
  });
});
