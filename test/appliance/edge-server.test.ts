import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { renderEdgeConfig, readEdgeTemplate } from '../../appliance-image/agent/src/edge-config';
import { signToken, tokenizedPath } from '../../lambda/shared/url-token';
import { EdgeServer } from '../support/edge-server';
import { TEST_KEYRING } from '../support/fixtures';
import { waitFor } from '../support/ports';

const NOW = () => Math.floor(Date.now() / 1000);

describe('the nginx edge server', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-edge-'));
  const cacheDir = path.join(root, 'cache');
  const keyringFile = path.join(root, 'keyring.json');
  const segment = randomBytes(1_048_576);
  let edge: EdgeServer;

  const token = (overrides: Partial<{ applianceId: string; titleId: string; expiresAt: number }> = {}) =>
    signToken(TEST_KEYRING, { applianceId: 'oca-1', titleId: 't1', maxHeight: 1080, expiresAt: NOW() + 600, ...overrides }, NOW());
  const get = (pathname: string, headers: Record<string, string> = {}) => fetch(edge.url(pathname), { headers });

  beforeAll(async () => {
    fs.chmodSync(root, 0o755);
    for (const [key, body] of [
      ['titles/t1/avc1/index.m3u8', '#EXTM3U\n#EXT-X-VERSION:7\n'],
      ['titles/t1/avc1/index.mpd', '<?xml version="1.0"?><MPD><Period><AdaptationSet><Representation id="1" height="720"><SegmentTemplate media="seg-$Number$.m4s"/></Representation></AdaptationSet></Period></MPD>'],
      ['titles/t1/avc1/seg-1.m4s', segment],
      ['titles/t2/avc1/seg-1.m4s', 'other title'],
    ] as const) {
      fs.mkdirSync(path.dirname(path.join(cacheDir, key)), { recursive: true, mode: 0o755 });
      fs.writeFileSync(path.join(cacheDir, key), body, { mode: 0o644 });
    }
    fs.writeFileSync(keyringFile, JSON.stringify({ activeKeyId: 'k1', k1: TEST_KEYRING.keys.get('k1')!.toString('utf8') }), { mode: 0o644 });
    const njsDir = path.join(__dirname, '..', '..', 'appliance-image', 'nginx');
    edge = await EdgeServer.start(path.join(root, 'nginx'), (listen) =>
      renderEdgeConfig(readEdgeTemplate(path.join(__dirname, '..', '..', 'appliance-image', 'nginx', 'nearstream-edge.conf.template')), { applianceId: 'oca-1', cacheDir, keyringFile }, { listen, njsDir, accessLog: path.join(root, 'nginx', 'logs', 'access.json') }),
    );
  });

  afterAll(async () => {
    await edge?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('passes nginx -t with the rendered configuration', () => {
    const result = EdgeServer.test(path.join(root, 'nginx'));
    expect(result.output).toContain('test is successful');
  });

  it('serves a segment for a valid token, with the CMAF content type and CORS', async () => {
    const response = await get(tokenizedPath(token(), 't1', 'avc1/seg-1.m4s'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('video/iso.segment');
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(Buffer.from(await response.arrayBuffer()).equals(segment)).toBe(true);
  });

  it.each([
    ['avc1/index.m3u8', 'application/vnd.apple.mpegurl'],
    ['avc1/index.mpd', 'application/dash+xml'],
  ])('serves %s as %s', async (file, contentType) => {
    const response = await get(tokenizedPath(token(), 't1', file));
    expect([response.status, response.headers.get('content-type')]).toEqual([200, contentType]);
  });

  it('answers 206 with exactly the requested bytes for a range', async () => {
    const response = await get(tokenizedPath(token(), 't1', 'avc1/seg-1.m4s'), { Range: 'bytes=1000-1999' });
    expect(response.status).toBe(206);
    expect(response.headers.get('content-range')).toBe(`bytes 1000-1999/${segment.length}`);
    expect(Buffer.from(await response.arrayBuffer()).equals(segment.subarray(1000, 2000))).toBe(true);
  });

  it.each([
    ['a tampered token', () => token().replace('.1080.', '.2160.'), 't1', 403],
    ['an expired token', () => token({ expiresAt: NOW() - 1 }), 't1', 410],
    ['another title\'s token', () => token({ titleId: 't2' }), 't1', 403],
    ['another appliance\'s token', () => token({ applianceId: 'oca-2' }), 't1', 403],
    ['a token from an unknown key', () => `v1.k9${token().slice(5)}`, 't1', 403],
    ['garbage', () => 'not-a-token', 't1', 403],
  ])('refuses %s', async (_label, make, title, status) => {
    const response = await get(tokenizedPath(make(), title, 'avc1/seg-1.m4s'));
    expect(response.status).toBe(status);
  });

  it.each(['avc1/../../t2/avc1/seg-1.m4s', 'avc1/%2e%2e/%2e%2e/t2/avc1/seg-1.m4s', 'avc1/..%2f..%2ft2/avc1/seg-1.m4s'])(
    'refuses path traversal out of the token\'s title: %s',
    async (traversal) => {
      const response = await fetch(`${edge.url(`/t/${token()}/titles/t1/`)}${traversal}`);
      expect([400, 403, 404]).toContain(response.status);
      expect(await response.text()).not.toContain('other title');
    },
  );

  it('shows its connection counts on /nginx_status to loopback, for the agent\'s health reports', async () => {
    const response = await get('/nginx_status');
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/^Active connections: \d+/);
  });

  it('answers 404 without a token', async () => {
    expect((await get('/titles/t1/avc1/seg-1.m4s')).status).toBe(404);
  });

  it('reports serving on /health, and not serving once the key ring is gone', async () => {
    const healthy = await get('/health');
    expect(healthy.status).toBe(200);
    expect(await healthy.json()).toEqual({ status: 'serving', applianceId: 'oca-1' });
    fs.renameSync(keyringFile, `${keyringFile}.away`);
    try {
      const unhealthy = await get('/health');
      expect(unhealthy.status).toBe(503);
      expect((await get(tokenizedPath(token(), 't1', 'avc1/seg-1.m4s'))).status).toBe(403);
    } finally {
      fs.renameSync(`${keyringFile}.away`, keyringFile);
    }
  });

  it('writes JSON access logs with the verdict and without the token', async () => {
    await get(tokenizedPath(token({ expiresAt: NOW() - 5 }), 't1', 'avc1/index.m3u8'));
    // nginx writes the log line after the response has gone out: wait for it.
    const isTheRequest = (entry: Record<string, unknown>) => entry.status === 410 && entry.object === 'titles/t1/avc1/index.m3u8';
    await waitFor(async () => {
      if (!edge.accessLog().some(isTheRequest)) throw new Error('not logged yet');
    }, 5000, 'the access log line');
    const entries = edge.accessLog();
    expect(entries.find(isTheRequest)).toMatchObject({ method: 'GET', verdict: 'expired', bytes: expect.any(Number) });
    expect(JSON.stringify(entries)).not.toContain('v1.k1.');
  });
});
