import { getSignedCookies, getSignedUrl } from '@aws-sdk/cloudfront-signer';
import { denialOf, SignedRequest, trustedKeys } from '../../local/origin-tier/local-cloudfront';
import { cloudFrontKeyPair } from '../support/fixtures';

const BASE = 'http://127.0.0.1:8080';
const KEY_PAIR_ID = 'K2JCJMDEHXQW5F';
const keyPair = cloudFrontKeyPair();
const keys = trustedKeys({ [KEY_PAIR_ID]: keyPair.publicKeyPem });
const NOW = 1_900_000_000;

const customPolicy = (resource: string, condition: Record<string, unknown> = {}) =>
  JSON.stringify({ Statement: [{ Resource: resource, Condition: { DateLessThan: { 'AWS:EpochTime': NOW + 3600 }, ...condition } }] });
const signed = (url: string, policy: string, algorithm?: 'SHA256') =>
  getSignedUrl({ url, keyPairId: KEY_PAIR_ID, privateKey: keyPair.privateKeyPem, policy, algorithm });
const requestFor = (url: string, cookies = new Map<string, string>(), viewerIp = '127.0.0.1'): SignedRequest => {
  const parsed = new URL(url);
  return { origin: parsed.origin, path: parsed.pathname, rawQuery: parsed.search.slice(1), cookies, viewerIp };
};
const denial = (request: SignedRequest) => denialOf(request, keys, NOW);

describe('the local CloudFront stand-in\'s signature check', () => {
  it('matches Resource wildcards as CloudFront does: * for any run of characters, ? for exactly one', () => {
    const policy = customPolicy(`${BASE}/titles/movie-?/avc1/*`);

    expect(denial(requestFor(signed(`${BASE}/titles/movie-1/avc1/index.m3u8`, policy)))).toBeUndefined();
    expect(denial(requestFor(signed(`${BASE}/titles/movie-1/avc1/sub/dir/index.mpd`, policy)))).toBeUndefined();
    expect(denial(requestFor(signed(`${BASE}/titles/movie-10/avc1/index.m3u8`, policy)))).toMatchObject({ code: 'AccessDenied', message: expect.stringMatching(/does not match/) });
  });

  it('matches the URL with its own query parameters and without the signing ones', () => {
    const canned = getSignedUrl({
      url: `${BASE}/titles/movie-1/avc1/index.m3u8?session=abc`,
      keyPairId: KEY_PAIR_ID,
      privateKey: keyPair.privateKeyPem,
      dateLessThan: new Date((NOW + 60) * 1000).toISOString(),
    });

    expect(denial(requestFor(canned))).toBeUndefined();
    expect(denial(requestFor(canned.replace('session=abc', 'session=xyz')))).toMatchObject({ code: 'AccessDenied', message: expect.stringMatching(/does not verify/) });
  });

  it('holds a policy to DateGreaterThan: refused until then', () => {
    const policy = customPolicy(`${BASE}/*`, { DateGreaterThan: { 'AWS:EpochTime': NOW + 60 } });

    expect(denial(requestFor(signed(`${BASE}/a.m3u8`, policy)))).toMatchObject({ code: 'AccessDenied', message: expect.stringMatching(/not valid before .* \(DateGreaterThan\)/) });
  });

  it('holds a policy to its IpAddress block', () => {
    const url = signed(`${BASE}/a.m3u8`, customPolicy(`${BASE}/*`, { IpAddress: { 'AWS:SourceIp': '10.0.0.0/8' } }));

    expect(denial(requestFor(url, new Map(), '10.1.2.3'))).toBeUndefined();
    expect(denial(requestFor(url, new Map(), '192.168.1.1'))).toMatchObject({ code: 'AccessDenied', message: expect.stringMatching(/192\.168\.1\.1 is outside .* 10\.0\.0\.0\/8/) });
  });

  it('verifies a SHA-256 signature when Hash-Algorithm asks for it', () => {
    const url = signed(`${BASE}/a.m3u8`, customPolicy(`${BASE}/*`), 'SHA256');

    expect(url).toContain('Hash-Algorithm=SHA256');
    expect(denial(requestFor(url))).toBeUndefined();
    expect(denial(requestFor(url.replace('Hash-Algorithm=SHA256', 'Hash-Algorithm=SHA1')))).toMatchObject({ code: 'AccessDenied' });
  });

  it('refuses a correctly signed policy it cannot read as MalformedPolicy, naming the field', () => {
    const twoStatements = JSON.stringify({ Statement: [{ Resource: `${BASE}/*` }, { Resource: `${BASE}/*` }] });
    const textDate = JSON.stringify({ Statement: [{ Resource: `${BASE}/*`, Condition: { DateLessThan: { 'AWS:EpochTime': '1900003600' } } }] });

    expect(denial(requestFor(signed(`${BASE}/a.m3u8`, twoStatements)))).toMatchObject({ code: 'MalformedPolicy', message: expect.stringMatching(/Statement must be a list of exactly one/) });
    expect(denial(requestFor(signed(`${BASE}/a.m3u8`, textDate)))).toMatchObject({ code: 'MalformedPolicy', message: expect.stringMatching(/Condition\.DateLessThan\.AWS:EpochTime/) });
  });

  it('reads the signature from the query string when it carries one, and from the cookies otherwise', () => {
    const policy = customPolicy(`${BASE}/*`);
    const cookies = new Map(Object.entries(getSignedCookies({ keyPairId: KEY_PAIR_ID, privateKey: keyPair.privateKeyPem, policy })).map(([name, value]) => [name, String(value)]));
    const broken = `${signed(`${BASE}/a.m3u8`, policy).replace(/Signature=[^&]+/, 'Signature=AAAA')}`;

    expect(denial(requestFor(`${BASE}/a.m3u8`, cookies))).toBeUndefined();
    expect(denial(requestFor(broken, cookies))).toMatchObject({ code: 'AccessDenied', message: expect.stringMatching(/Signature query parameter/) });
  });

  it('refuses a trusted key that is not a PEM public key, naming its key pair id', () => {
    expect(() => trustedKeys({ KBROKEN: 'not a key' })).toThrow(/publicKeys\.KBROKEN is not a PEM public key/);
  });
});
