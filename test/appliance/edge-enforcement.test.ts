import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { readEdgeTemplate, renderEdgeConfig } from '../../appliance-image/agent/src/edge-config';
import { indexHeightOf, RENDITION_INDEX_FILE, renditionHeightOf, renditionIndex } from '../../lambda/shared/rendition-index';
import { capDash, capHls, dashRepresentations, hlsRenditionHeights } from '../../lambda/shared/rendition-manifests';
import { MAX_TOKEN_LIFETIME_SECONDS, signToken, TOKEN_CLOCK_SKEW_SECONDS, tokenizedPath, UNCAPPED_MAX_HEIGHT } from '../../lambda/shared/url-token';
import { EdgeServer } from '../support/edge-server';
import { TEST_KEYRING } from '../support/fixtures';
import { encodeCmaf, MEDIACONVERT_HEIGHTS, MEDIACONVERT_HLS, MEDIACONVERT_MPD, SHARED_TEMPLATE_MPD } from '../support/manifests';
import { waitFor } from '../support/ports';

const NOW = () => Math.floor(Date.now() / 1000);
const CAP = 480;

/** A raw HTTP request: fetch() would normalize the path and refuse some methods. */
function raw(port: number, method: string, target: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, method, path: target, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks) }));
    });
    request.on('error', reject);
    request.end();
  });
}

describe('the edge holds every request to its token', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-edge-rules-'));
  const cacheDir = path.join(root, 'cache');
  const outside = path.join(root, 'outside');
  const keyringFile = path.join(root, 'keyring.json');
  const cmafDir = path.join(cacheDir, 'titles', 'clip', 'avc1');
  let edge: EdgeServer;
  let heights: number[];

  const token = (titleId: string, maxHeight = CAP, expiresAt = NOW() + 600, signedAt = NOW()) =>
    signToken(TEST_KEYRING, { applianceId: 'oca-1', titleId, maxHeight, expiresAt }, signedAt);
  const get = (titleId: string, rest: string, maxHeight = CAP) => fetch(edge.url(tokenizedPath(token(titleId, maxHeight), titleId, rest)));
  const write = (relative: string, body: string | Buffer) => {
    fs.mkdirSync(path.dirname(path.join(cacheDir, relative)), { recursive: true, mode: 0o755 });
    fs.writeFileSync(path.join(cacheDir, relative), body, { mode: 0o644 });
  };
  const cmaf = (name: string) => fs.readFileSync(path.join(cmafDir, name), 'utf8');

  beforeAll(async () => {
    fs.chmodSync(root, 0o755);
    heights = (await encodeCmaf(cmafDir, 'clip', 720)).renditions.map((r) => r.height);
    // As the encoding writes it beside the manifests.
    write(`titles/clip/avc1/${RENDITION_INDEX_FILE}`, JSON.stringify(renditionIndex({ hls: cmaf('index.m3u8'), dash: cmaf('index.mpd') })));
    // The same title twice: encoded before the index existed, and after.
    for (const titleId of ['mc', 'mc-indexed']) {
      write(`titles/${titleId}/avc1/index.m3u8`, MEDIACONVERT_HLS);
      write(`titles/${titleId}/avc1/index.mpd`, MEDIACONVERT_MPD);
      for (const [file] of MEDIACONVERT_HEIGHTS) {
        write(`titles/${titleId}/avc1/${file}`, `bytes of ${file}`);
      }
    }
    write(`titles/mc-indexed/avc1/${RENDITION_INDEX_FILE}`, JSON.stringify(renditionIndex({ hls: MEDIACONVERT_HLS, dash: MEDIACONVERT_MPD })));
    write('titles/forged/avc1/index_avc1_1080p_000000001.cmfv', 'tall');
    write(`titles/forged/avc1/${RENDITION_INDEX_FILE}`, JSON.stringify({ version: 1, renditions: [{ height: 240, files: [['index_avc1_1080p_', 9, '.cmfv']] }] }));
    write('titles/corrupt/avc1/index.mpd', MEDIACONVERT_MPD);
    write('titles/corrupt/avc1/index_avc1_360p_000000001.cmfv', 'short');
    write(`titles/corrupt/avc1/${RENDITION_INDEX_FILE}`, '{"version": 1, "renditions": [');
    write('titles/shared/avc1/index.m3u8', '#EXTM3U\n');
    write('titles/shared/avc1/index.mpd', SHARED_TEMPLATE_MPD);
    for (const file of ['v/1000000/init.mp4', 'v/1000000/0.m4s', 'v/16000000/init.mp4', 'v/16000000/0.m4s', 'a/init.mp4']) {
      write(`titles/shared/avc1/${file}`, `bytes of ${file}`);
    }
    write('titles/clip/avc1/.hidden', 'dotfile');
    write('titles/clip/.git/config', 'dotdir');
    fs.mkdirSync(outside, { mode: 0o755 });
    fs.writeFileSync(path.join(outside, 'secret.m4s'), 'outside the cache', { mode: 0o644 });
    fs.writeFileSync(path.join(outside, 'index.mpd'), MEDIACONVERT_MPD.replace(/height="\d+"/g, 'height="240"'), { mode: 0o644 });
    fs.symlinkSync(path.join(outside, 'secret.m4s'), path.join(cmafDir, 'planted.m4s'));
    fs.symlinkSync(outside, path.join(cacheDir, 'titles', 'linked'));
    write('titles/relinked/avc1/index_avc1_1080p_000000001.cmfv', 'tall');
    fs.symlinkSync(path.join(outside, 'index.mpd'), path.join(cacheDir, 'titles', 'relinked', 'avc1', 'index.mpd'));
    fs.writeFileSync(keyringFile, JSON.stringify({ activeKeyId: 'k1', k1: TEST_KEYRING.keys.get('k1')!.toString('utf8') }), { mode: 0o644 });
    const template = readEdgeTemplate(path.join(__dirname, '..', '..', 'appliance-image', 'nginx', 'nearstream-edge.conf.template'));
    edge = await EdgeServer.start(path.join(root, 'nginx'), (listen) =>
      renderEdgeConfig(template, { applianceId: 'oca-1', cacheDir, keyringFile }, { listen, njsDir: path.join(__dirname, '..', '..', 'appliance-image', 'nginx'), accessLog: path.join(root, 'nginx', 'logs', 'access.json') }),
    );
  }, 60_000);

  afterAll(async () => {
    await edge?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  describe(`a token capped at ${CAP}p, on real CMAF encoded up to 720p`, () => {
    it('gets a multivariant playlist listing only the renditions at or below the cap, each of which plays', async () => {
      const response = await get('clip', 'avc1/index.m3u8');
      expect([response.status, response.headers.get('content-type')]).toEqual([200, 'application/vnd.apple.mpegurl']);
      const listed = hlsRenditionHeights(await response.text());
      expect([...new Set(listed.values())].sort((a, b) => a - b)).toEqual([0, ...heights.filter((h) => h <= CAP)]);
      for (const playlist of listed.keys()) {
        const rendition = await get('clip', `avc1/${playlist}`);
        expect([playlist, rendition.status]).toEqual([playlist, 200]);
        for (const file of (await rendition.text()).split('\n').flatMap((line) => /^[^#\s]/.test(line) ? [line] : [...line.matchAll(/URI="([^"]+)"/g)].map((m) => m[1]))) {
          expect([file, (await get('clip', `avc1/${file}`)).status]).toEqual([file, 200]);
        }
      }
    });

    it('gets an MPD listing only the representations at or below the cap', async () => {
      const response = await get('clip', 'avc1/index.mpd');
      expect([response.status, response.headers.get('content-type')]).toEqual([200, 'application/dash+xml']);
      const body = await response.text();
      expect(dashRepresentations(body).map((r) => r.height).filter((h) => h > 0)).toEqual(heights.filter((h) => h <= CAP));
      expect(body).toBe(capDash(cmaf('index.mpd'), CAP));
    });

    it('is refused every file of the taller renditions (playlists, init and media segments), and what no manifest names', async () => {
      const manifests = { hls: cmaf('index.m3u8'), dash: cmaf('index.mpd') };
      const files = fs.readdirSync(cmafDir).filter((name) => !name.startsWith('index.') && !name.startsWith('.') && name !== 'planted.m4s');
      const tall = files.filter((name) => renditionHeightOf(name, manifests)! > CAP);
      expect(tall.some((name) => name.endsWith('.m3u8')) && tall.some((name) => name.endsWith('_init.m4s')) && tall.some((name) => /_\d+\.m4s$/.test(name))).toBe(true);
      expect(files.filter((name) => renditionHeightOf(name, manifests) === undefined)).toEqual([RENDITION_INDEX_FILE]);
      for (const name of files) {
        const height = renditionHeightOf(name, manifests);
        expect([name, (await get('clip', `avc1/${name}`)).status]).toEqual([name, height !== undefined && height <= CAP ? 200 : 403]);
      }
    });

    it('logs why a taller rendition was refused', async () => {
      const tall = fs.readdirSync(cmafDir).find((name) => name.endsWith('_init.m4s') && renditionHeightOf(name, { hls: '', dash: cmaf('index.mpd') })! > CAP)!;
      await get('clip', `avc1/${tall}`);
      const isTheRequest = (entry: Record<string, unknown>) => entry.object === `titles/clip/avc1/${tall}`;
      await waitFor(async () => {
        if (!edge.accessLog().some(isTheRequest)) throw new Error('not logged yet');
      }, 5000, 'the access log line');
      expect(edge.accessLog().find(isTheRequest)).toMatchObject({ status: 403, verdict: 'above-max-height' });
    });

    it('answers HEAD on a manifest with the cut manifest\'s length and no body', async () => {
      const head = await raw(edge.port, 'HEAD', tokenizedPath(token('clip'), 'clip', 'avc1/index.m3u8'));
      expect([head.status, Number(head.headers['content-length']), head.body.length]).toEqual([200, capHls(cmaf('index.m3u8'), CAP).length, 0]);
    });
  });

  describe('the same vectors as the TypeScript rules', () => {
    it.each(MEDIACONVERT_HEIGHTS)('MediaConvert-shaped title, token capped at 720p: %s (height %p)', async (file, height) => {
      const expected = height !== undefined && height <= 720 ? 200 : 403;
      expect([(await get('mc', `avc1/${file}`, 720)).status, (await get('mc-indexed', `avc1/${file}`, 720)).status]).toEqual([expected, expected]);
    });

    it('judges by the encoding\'s rendition index when there is one, and by the manifests when it is unreadable', async () => {
      expect(indexHeightOf({ version: 1, renditions: [{ height: 240, files: [['index_avc1_1080p_', 9, '.cmfv']] }] }, 'index_avc1_1080p_000000001.cmfv')).toBe(240);
      expect((await get('forged', 'avc1/index_avc1_1080p_000000001.cmfv', 480)).status).toBe(200);
      expect((await get('corrupt', 'avc1/index_avc1_360p_000000001.cmfv', 480)).status).toBe(200);
      expect((await get('corrupt', 'avc1/index_avc1_360p_000000001.cmfv', 300)).status).toBe(403);
    });

    it('cuts MediaConvert-shaped manifests exactly as the TypeScript rules do', async () => {
      expect(await (await get('mc', 'avc1/index.m3u8', 720)).text()).toBe(capHls(MEDIACONVERT_HLS, 720));
      expect(await (await get('mc', 'avc1/index.mpd', 720)).text()).toBe(capDash(MEDIACONVERT_MPD, 720));
      expect(await (await get('mc', 'avc1/index.mpd', 359)).text()).toBe(capDash(MEDIACONVERT_MPD, 359));
    });

    it.each([
      ['v/1000000/init.mp4', 200],
      ['v/1000000/0.m4s', 200],
      ['v/16000000/init.mp4', 403],
      ['v/16000000/0.m4s', 403],
      ['a/init.mp4', 200],
    ])('tells apart representations sharing one template by bandwidth: %s -> %d', async (file, status) => {
      expect((await get('shared', `avc1/${file}`, 1080)).status).toBe(status);
    });
  });

  it('lets an uncapped operator token fetch any file, manifests uncut', async () => {
    expect((await get('mc', 'avc1/index_avc1_1080p_000000002.cmfv', UNCAPPED_MAX_HEIGHT)).status).toBe(200);
    expect((await get('mc', 'avc1/inventory.json', UNCAPPED_MAX_HEIGHT)).status).toBe(200);
    expect(await (await get('mc', 'avc1/index.m3u8', UNCAPPED_MAX_HEIGHT)).text()).toBe(MEDIACONVERT_HLS);
  });

  it('refuses files no manifest names, and a title without manifests', async () => {
    expect((await get('mc', 'avc1/inventory.json', 2160)).status).toBe(403);
    expect((await get('mc', 'index.m3u8', 2160)).status).toBe(403);
    expect((await get('none', 'avc1/index_avc1_360p_000000001.cmfv', 2160)).status).toBe(403);
    expect((await get('none', 'avc1/index.m3u8', 2160)).status).toBe(404);
  });

  describe('symlinks', () => {
    it('refuses a symlink planted in the cache pointing outside it, even for an uncapped token', async () => {
      const response = await get('clip', 'avc1/planted.m4s', UNCAPPED_MAX_HEIGHT);
      expect(response.status).toBe(403);
      expect(await response.text()).not.toContain('outside the cache');
    });

    it('refuses a title directory that is a symlink out of the cache', async () => {
      const file = await get('linked', 'secret.m4s', UNCAPPED_MAX_HEIGHT);
      expect([403, 404]).toContain(file.status);
      expect(await file.text()).not.toContain('outside the cache');
      const manifest = await get('linked', 'x/index.mpd', UNCAPPED_MAX_HEIGHT);
      expect(manifest.status).toBe(404);
    });

    it('does not read a symlinked manifest, to serve it or to judge a file by it', async () => {
      expect((await get('relinked', 'avc1/index_avc1_1080p_000000001.cmfv', 480)).status).toBe(403);
      const manifest = await get('relinked', 'avc1/index.mpd', 480);
      expect(manifest.status).toBe(404);
      expect(await manifest.text()).not.toContain('MPD');
    });
  });

  describe('odd paths, refused before the token is looked at', () => {
    const valid = () => `/t/${token('clip', UNCAPPED_MAX_HEIGHT)}/titles/clip`;
    it.each([
      ['a dotfile', '/avc1/.hidden'],
      ['a dot directory', '/.git/config'],
      ['an encoded slash', '/avc1%2Findex_0_init.m4s'],
      ['an encoded lower-case slash', '/avc1%2findex_0_init.m4s'],
      ['an encoded dot-dot', '/avc1/%2e%2e/avc1/index_0_init.m4s'],
      ['a dot-dot', '/avc1/../avc1/index_0_init.m4s'],
      ['a dot segment', '/avc1/./index_0_init.m4s'],
      ['an encoded NUL', '/avc1/index_0_init.m4s%00.txt'],
      ['a double-encoded dot', '/avc1/%252e%252e/x'],
      ['a backslash', '/avc1\\index_0_init.m4s'],
      ['an empty component', '/avc1//index_0_init.m4s'],
      ['an encoded letter', '/avc1/index_0_init.m4%73'],
      ['an overlong path', `/avc1/${'a'.repeat(1100)}.m4s`],
    ])('%s', async (_label, rest) => {
      const response = await raw(edge.port, 'GET', `${valid()}${rest}`);
      expect([400, 414]).toContain(response.status);
      expect(response.body.toString()).not.toMatch(/dotfile|dotdir|ftyp/);
    });

    it('still serves the same file by its plain path', async () => {
      expect((await raw(edge.port, 'GET', `${valid()}/avc1/index_0_init.m4s`)).status).toBe(200);
    });
  });

  describe('methods', () => {
    it.each(['POST', 'PUT', 'DELETE', 'PATCH', 'PROPFIND', 'MKCOL'])('answers %s with 405 and the methods it allows', async (method) => {
      for (const target of [tokenizedPath(token('clip'), 'clip', 'avc1/index.m3u8'), tokenizedPath(token('clip'), 'clip', 'avc1/index_0_init.m4s'), '/health']) {
        const response = await raw(edge.port, method, target);
        expect([method, target, response.status, response.headers.allow]).toEqual([method, target, 405, 'GET, HEAD, OPTIONS']);
      }
    });

    it('answers TRACE with 405', async () => {
      expect((await raw(edge.port, 'TRACE', tokenizedPath(token('clip'), 'clip', 'avc1/index_0_init.m4s'))).status).toBe(405);
    });

    it('answers a CORS preflight without a body, and plain responses without the preflight headers', async () => {
      const preflight = await raw(edge.port, 'OPTIONS', tokenizedPath(token('clip'), 'clip', 'avc1/index_0_init.m4s'));
      expect([preflight.status, preflight.headers['access-control-allow-methods'], preflight.headers['access-control-allow-headers'], preflight.headers['access-control-max-age']]).toEqual([
        204,
        'GET, HEAD, OPTIONS',
        'Range',
        '86400',
      ]);
      const plain = await raw(edge.port, 'GET', tokenizedPath(token('clip'), 'clip', 'avc1/index_0_init.m4s'));
      expect([plain.status, plain.headers['access-control-allow-origin'], plain.headers['access-control-allow-methods']]).toEqual([200, '*', undefined]);
    });
  });

  describe('ranges', () => {
    const segment = () => fs.readdirSync(cmafDir).find((name) => /^index_0_\d+\.m4s$/.test(name))!;

    it('answers one range with 206', async () => {
      const response = await raw(edge.port, 'GET', tokenizedPath(token('clip'), 'clip', `avc1/${segment()}`), { Range: 'bytes=10-19' });
      expect([response.status, response.body.length]).toEqual([206, 10]);
    });

    it('answers many ranges with the whole file, never a multipart body', async () => {
      const ranges = Array.from({ length: 50 }, (_, i) => `${i * 2}-${i * 2}`).join(',');
      const response = await raw(edge.port, 'GET', tokenizedPath(token('clip'), 'clip', `avc1/${segment()}`), { Range: `bytes=${ranges}` });
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).not.toMatch(/multipart/);
      expect(response.body.equals(fs.readFileSync(path.join(cmafDir, segment())))).toBe(true);
    });
  });

  describe('token lifetime', () => {
    const atCap = MAX_TOKEN_LIFETIME_SECONDS + TOKEN_CLOCK_SKEW_SECONDS;
    // Signed by a clock that ran ahead, so the signer's own cap let it through.
    const longLived = (seconds: number) => token('clip', CAP, NOW() + seconds, NOW() + seconds - MAX_TOKEN_LIFETIME_SECONDS);

    it('serves a token at the lifetime cap, allowing for the signer\'s clock', async () => {
      expect((await fetch(edge.url(tokenizedPath(longLived(atCap - 5), 'clip', 'avc1/index_0_init.m4s')))).status).toBe(200);
    });

    it('refuses a correctly signed token that lives longer than the cap, for files and manifests', async () => {
      for (const file of ['avc1/index_0_init.m4s', 'avc1/index.m3u8']) {
        expect((await fetch(edge.url(tokenizedPath(longLived(atCap + 60), 'clip', file)))).status).toBe(403);
      }
    });
  });
});
