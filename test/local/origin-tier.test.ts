import * as http from 'node:http';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedCookies, getSignedUrl } from '@aws-sdk/cloudfront-signer';
import { LocalCloudFront, s3ObjectFetcher } from '../../local/origin-tier/local-cloudfront';
import { cloudFrontKeyPair } from '../support/fixtures';
import { S3Server } from '../support/s3-server';

const BUCKET = 'origin';
const KEY_PAIR_ID = 'K2JCJMDEHXQW5F';
const keyPair = cloudFrontKeyPair();
const MANIFEST = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720\nindex_avc1_720p.m3u8\n';
const SEGMENT = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 251));
const DIRECTORY = 'titles/movie-1/avc1/';

describe('the local CloudFront stand-in for the origin tier', () => {
  let s3: S3Server;
  let client: S3Client;
  let cloudFront: LocalCloudFront;

  beforeAll(async () => {
    s3 = await S3Server.start([BUCKET, 'uploads']);
    await s3.put('uploads', 'private/source.mp4', 'the unencoded source upload');
    client = s3.client();
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${DIRECTORY}index.m3u8`, Body: MANIFEST, ContentType: 'application/x-mpegURL' }));
    await s3.put(BUCKET, `${DIRECTORY}index.mpd`, '<MPD/>');
    await s3.put(BUCKET, `${DIRECTORY}index_avc1_720p_000000001.cmfv`, SEGMENT);
    await s3.put(BUCKET, `${DIRECTORY}index_avc1_1080p_000000001.cmfv`, SEGMENT);
    await s3.put(BUCKET, 'titles/movie-2/avc1/index.m3u8', MANIFEST);
    cloudFront = await LocalCloudFront.start({ publicKeys: { [KEY_PAIR_ID]: keyPair.publicKeyPem }, fetchObject: s3ObjectFetcher(client, BUCKET) });
  });

  afterAll(async () => {
    await cloudFront?.stop();
    client?.destroy();
    await s3?.stop();
  });

  /** The policy the play handler signs: one codec directory, the height cap as DateGreaterThan. */
  const policy = (directory = DIRECTORY, { expires = Math.floor(Date.now() / 1000) + 3600, maxHeight = 720 } = {}) =>
    JSON.stringify({
      Statement: [{ Resource: `${cloudFront.url}/${directory}*`, Condition: { DateLessThan: { 'AWS:EpochTime': expires }, DateGreaterThan: { 'AWS:EpochTime': maxHeight } } }],
    });
  const signedUrl = (key: string, signedPolicy = policy(), keyPairId = KEY_PAIR_ID) =>
    getSignedUrl({ url: `${cloudFront.url}/${key}`, keyPairId, privateKey: keyPair.privateKeyPem, policy: signedPolicy });
  const cookieHeader = (cookies: object) =>
    Object.entries(cookies)
      .map(([name, value]) => `${name}=${String(value)}`)
      .join('; ');
  const signedCookies = (signedPolicy = policy()) => cookieHeader(getSignedCookies({ keyPairId: KEY_PAIR_ID, privateKey: keyPair.privateKeyPem, policy: signedPolicy }));
  const withCookies = (key: string, cookie: string, headers: Record<string, string> = {}) => fetch(`${cloudFront.url}/${key}`, { headers: { cookie, ...headers } });
  const errorOf = async (response: Response) => {
    const body = await response.text();
    return { status: response.status, code: /<Code>(.*)<\/Code>/.exec(body)?.[1], message: /<Message>(.*)<\/Message>/.exec(body)?.[1] };
  };

  it('serves a signed manifest URL with the object\'s bytes, its own Content-Type and length, as a cache miss', async () => {
    const response = await fetch(signedUrl(`${DIRECTORY}index.m3u8`));

    expect(response.status).toBe(200);
    expect(await response.text()).toBe(MANIFEST);
    expect(response.headers.get('content-type')).toBe('application/x-mpegURL');
    expect(response.headers.get('content-length')).toBe(String(Buffer.byteLength(MANIFEST)));
    expect(response.headers.get('x-cache')).toBe('Miss from local-cloudfront');
  });

  it('gives an object stored without a Content-Type the one its extension implies', async () => {
    const response = await fetch(signedUrl(`${DIRECTORY}index.mpd`));

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/dash+xml');
  });

  it('serves a segment to the signed cookies, and a single byte range of it as 206', async () => {
    const cookies = signedCookies();
    const segment = `${DIRECTORY}index_avc1_720p_000000001.cmfv`;

    const whole = await withCookies(segment, cookies);
    expect(whole.status).toBe(200);
    expect(Buffer.from(await whole.arrayBuffer())).toEqual(SEGMENT);
    expect(whole.headers.get('accept-ranges')).toBe('bytes');

    const middle = await withCookies(segment, cookies, { range: 'bytes=100-199' });
    expect(middle.status).toBe(206);
    expect(middle.headers.get('content-range')).toBe('bytes 100-199/4096');
    expect(middle.headers.get('content-length')).toBe('100');
    expect(Buffer.from(await middle.arrayBuffer())).toEqual(SEGMENT.subarray(100, 200));

    const tail = await withCookies(segment, cookies, { range: 'bytes=-10' });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer())).toEqual(SEGMENT.subarray(4086));
  });

  it('answers a range past the end with 416 and the object\'s size', async () => {
    const response = await withCookies(`${DIRECTORY}index_avc1_720p_000000001.cmfv`, signedCookies(), { range: 'bytes=5000-' });

    expect(response.status).toBe(416);
    expect(response.headers.get('content-range')).toBe('bytes */4096');
    expect(await errorOf(response)).toMatchObject({ code: 'InvalidRange' });
  });

  it('answers HEAD with the headers GET would have, and no body', async () => {
    const response = await fetch(signedUrl(`${DIRECTORY}index_avc1_720p_000000001.cmfv`), { method: 'HEAD' });

    expect(response.status).toBe(200);
    expect(response.headers.get('content-length')).toBe('4096');
    expect(response.headers.get('content-type')).toBe('video/mp4');
    expect(await response.text()).toBe('');
  });

  it('accepts a canned-policy URL and canned-policy cookies (Expires) for exactly the URL they were signed for', async () => {
    const url = `${cloudFront.url}/${DIRECTORY}index.m3u8`;
    const dateLessThan = new Date(Date.now() + 3_600_000).toISOString();
    const canned = getSignedUrl({ url, keyPairId: KEY_PAIR_ID, privateKey: keyPair.privateKeyPem, dateLessThan });
    const cookies = cookieHeader(getSignedCookies({ url, keyPairId: KEY_PAIR_ID, privateKey: keyPair.privateKeyPem, dateLessThan }));

    expect((await fetch(canned)).status).toBe(200);
    expect((await withCookies(`${DIRECTORY}index.m3u8`, cookies)).status).toBe(200);
    expect(await errorOf(await fetch(canned.replace('index.m3u8', 'index.mpd')))).toMatchObject({ status: 403, code: 'AccessDenied' });
  });

  describe('refuses with 403 and CloudFront\'s error naming why', () => {
    const manifest = `${DIRECTORY}index.m3u8`;
    const cases: [string, () => Promise<Response>, string, RegExp][] = [
      [
        'a tampered signature',
        () => fetch(signedUrl(manifest).replace(/(Signature=.{20})(.)/, (_, head: string, c: string) => `${head}${c === 'A' ? 'B' : 'A'}`)),
        'AccessDenied',
        /Signature query parameter does not verify/,
      ],
      ['an expired policy', () => fetch(signedUrl(manifest, policy(DIRECTORY, { expires: Math.floor(Date.now() / 1000) - 60 }))), 'AccessDenied', /expired at .* \(DateLessThan\)/],
      ['an unknown key pair id', () => fetch(signedUrl(manifest, policy(), 'KUNKNOWNKEY')), 'InvalidKey', /Unknown Key: key pair id 'KUNKNOWNKEY'/],
      ['another title\'s path', () => withCookies('titles/movie-2/avc1/index.m3u8', signedCookies()), 'AccessDenied', /Resource '.*\/titles\/movie-1\/avc1\/\*' does not match '.*\/titles\/movie-2\/avc1\/index\.m3u8'/],
      ['no signature at all', () => fetch(`${cloudFront.url}/${manifest}`), 'MissingKey', /Missing Key-Pair-Id query parameter or cookie value/],
    ];

    it.each(cases)('%s', async (_, request, code, message) => {
      const response = await request();

      expect(response.headers.get('content-type')).toBe('text/xml');
      expect(response.headers.get('x-cache')).toBe('Error from local-cloudfront');
      const error = await errorOf(response);
      expect(error).toMatchObject({ status: 403, code });
      expect(error.message).toMatch(message);
    });
  });

  it('refuses a rendition above the signed height through the real rendition guard, and serves the one at it', async () => {
    const cookies = signedCookies(policy(DIRECTORY, { maxHeight: 720 }));

    const above = await withCookies(`${DIRECTORY}index_avc1_1080p_000000001.cmfv`, cookies);
    expect(above.status).toBe(403);
    expect(above.headers.get('x-cache')).toBe('FunctionGeneratedResponse from local-cloudfront');
    expect((await withCookies(`${DIRECTORY}index_avc1_720p_000000001.cmfv`, cookies)).status).toBe(200);

    const bySignedUrl = await fetch(signedUrl(`${DIRECTORY}index_avc1_1080p_000000001.cmfv`, policy(DIRECTORY, { maxHeight: 1080 })));
    expect(bySignedUrl.status).toBe(200);
  });

  it('refuses a key with dot or empty segments, so a wildcard policy cannot reach past its directory into another bucket', async () => {
    const rawGet = (rawPath: string) =>
      new Promise<{ status?: number; body: string }>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port: Number(new URL(cloudFront.url).port), path: rawPath, headers: { cookie: signedCookies() } }, (response) => {
            let body = '';
            response.on('data', (chunk: Buffer) => (body += chunk.toString()));
            response.on('end', () => resolve({ status: response.statusCode, body }));
          })
          .on('error', reject);
      });

    for (const rawPath of [`/${DIRECTORY}../../../../uploads/private/source.mp4`, `/${DIRECTORY}%2e%2e/%2e%2e/%2e%2e/%2e%2e/uploads/private/source.mp4`, `/${DIRECTORY}.//index.m3u8`]) {
      const answer = await rawGet(rawPath);
      expect([rawPath, [400, 403].includes(answer.status!), answer.body.includes('unencoded')]).toEqual([rawPath, true, false]);
    }
  });

  it('answers 404 NoSuchKey for a signed path with no object behind it', async () => {
    expect(await errorOf(await fetch(signedUrl(`${DIRECTORY}index_avc1_480p.m3u8`)))).toMatchObject({ status: 404, code: 'NoSuchKey' });
  });

  it('refuses methods other than GET, HEAD and OPTIONS with 405', async () => {
    const response = await fetch(signedUrl(`${DIRECTORY}index.m3u8`), { method: 'POST', body: 'x' });

    expect(response.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
    expect(await errorOf(response)).toMatchObject({ status: 405, code: 'MethodNotAllowed' });
  });

  it('allows any origin on every answer to a cross-origin request, refusals included, and answers no preflight, as the distribution\'s SimpleCORS policy', async () => {
    const origin = { origin: 'http://127.0.0.1:5173' };

    const served = await fetch(signedUrl(`${DIRECTORY}index.m3u8`), { headers: origin });
    expect(served.headers.get('access-control-allow-origin')).toBe('*');
    const refused = await fetch(`${cloudFront.url}/${DIRECTORY}index.m3u8`, { headers: origin });
    expect(refused.headers.get('access-control-allow-origin')).toBe('*');
    expect((await fetch(signedUrl(`${DIRECTORY}index.m3u8`))).headers.get('access-control-allow-origin')).toBeNull();

    const preflight = await fetch(signedUrl(`${DIRECTORY}index.m3u8`), { method: 'OPTIONS', headers: { ...origin, 'access-control-request-method': 'GET' } });
    expect(preflight.headers.get('access-control-allow-methods')).toBeNull();
    expect(await errorOf(preflight)).toMatchObject({ status: 403, code: 'CORSResponse' });
  });
});
