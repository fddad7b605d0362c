import { createVerify } from 'node:crypto';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { activeKeySigner } from '../../../lambda/playback/origin-signer';
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
});
