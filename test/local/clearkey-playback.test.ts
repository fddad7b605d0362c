import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser } from 'playwright-core';
import { CbcsKey } from '../../local/encoder/cmaf-encrypt';
import { encryptRenditionDirectory } from '../../local/encoder/encrypt-rendition-directory';
import { encodeCodec, probeSource } from '../../local/encoder/ffmpeg-stand-in';
import { protectRenditionManifests } from '../../local/encoder/protected-manifests';
import { launchChromium } from '../../local/web/browser';

const KEYS: Readonly<Record<'video' | 'audio', CbcsKey>> = {
  video: { kid: '7a3f0c5e9b1d4f2a8c6e0b4d2f1a3c5e', key: Buffer.from('4e1f9a7c3b5d2e8f6a0c1b3d5e7f9a2c', 'hex'), constantIv: Buffer.from('d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6', 'hex') },
  audio: { kid: '0b9d7f5e3c1a4b6d8f0e2c4a6b8d0f1e', key: Buffer.from('a1b2c3d4e5f60718293a4b5c6d7e8f90', 'hex'), constantIv: Buffer.from('6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d', 'hex') },
};

/**
 * The player page's script: hls.js with EME ClearKey, in one of the two configurations that play
 * these renditions. `pssh`: hls.js waits for the init segment's "encrypted" event and sends the
 * CDM's request built from its common pssh (every key id of the title). `keyids`: a generateRequest
 * filter builds a 'keyids' request from each playlist key, one license request per key.
 */
const PLAYER_SCRIPT = `
const licenseUrl = '/license';
function keyIdsRequest(initDataType, initData, context) {
  const keyId = context.decryptdata.keyId;
  if (!keyId) {
    return { initDataType, initData };
  }
  const kid = btoa(String.fromCharCode(...keyId)).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  return { initDataType: 'keyids', initData: new TextEncoder().encode(JSON.stringify({ kids: [kid] })).buffer };
}
const CONFIGS = {
  pssh: { emeEnabled: true, drmSystems: { 'org.w3.clearkey': { licenseUrl } } },
  keyids: { emeEnabled: true, drmSystems: { 'org.w3.clearkey': { licenseUrl, generateRequest: keyIdsRequest } } },
};
const video = document.getElementById('video');
const state = { currentTime: 0, fatal: null, errors: [], mediaError: null };
window.playState = state;
const hls = new Hls(CONFIGS[new URLSearchParams(location.search).get('config')]);
hls.on(Hls.Events.ERROR, (_, data) => {
  state.errors.push(data.details + (data.fatal ? ' (fatal)' : ''));
  if (data.fatal) {
    state.fatal = data.details;
  }
});
hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
video.addEventListener('timeupdate', () => { state.currentTime = video.currentTime; });
video.addEventListener('error', () => { state.mediaError = video.error && video.error.message; });
hls.loadSource('/index.m3u8');
hls.attachMedia(video);
`;

const PAGE = '<!doctype html><meta charset="utf-8"><video id="video" muted></video><script src="/hls.min.js"></script><script src="/player.js"></script>';

/** The console page's policy (local/web/console-server.ts), so what plays here plays there. */
const CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self'; media-src 'self' blob:; worker-src 'self' blob:; connect-src 'self' http://127.0.0.1:* http://localhost:*";

interface PlayState {
  readonly currentTime: number;
  readonly fatal: string | null;
  readonly errors: string[];
  readonly mediaError: string | null;
}

describe('cbcs renditions in chromium through hls.js and EME ClearKey', () => {
  let workDir: string;
  let mediaDir: string;
  let server: http.Server;
  let baseUrl: string;
  let browser: Browser;
  let answerWithWrongKeys = false;
  const licenseRequests: string[][] = [];

  /** The W3C ClearKey license (EME 9.1.4) for the key ids a ClearKey request lists. */
  function license(body: string): string {
    const request = JSON.parse(body) as { kids: string[] };
    licenseRequests.push(request.kids.map((kid) => Buffer.from(kid, 'base64url').toString('hex')));
    const keys = request.kids.flatMap((kid) => {
      const found = Object.values(KEYS).find((key) => key.kid === Buffer.from(kid, 'base64url').toString('hex'));
      const bytes = found && (answerWithWrongKeys ? found.key.map((byte) => byte ^ 0x5a) : found.key);
      return bytes ? [{ kty: 'oct', kid, k: Buffer.from(bytes).toString('base64url') }] : [];
    });
    return JSON.stringify({ keys, type: 'temporary' });
  }

  function handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    response.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
    if (url.pathname === '/license' && request.method === 'POST') {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end(license(body)));
      return;
    }
    const fixed: Record<string, [string, string | Buffer]> = {
      '/': ['text/html; charset=utf-8', PAGE],
      '/player.js': ['text/javascript', PLAYER_SCRIPT],
      '/hls.min.js': ['text/javascript', fs.readFileSync(require.resolve('hls.js/dist/hls.min.js'))],
    };
    const file = path.join(mediaDir, path.basename(url.pathname));
    if (fixed[url.pathname]) {
      response.writeHead(200, { 'content-type': fixed[url.pathname][0] }).end(fixed[url.pathname][1]);
    } else if (url.pathname !== '/' && fs.existsSync(file)) {
      response.writeHead(200, { 'content-type': file.endsWith('.m3u8') ? 'application/vnd.apple.mpegurl' : 'video/mp4' }).end(fs.readFileSync(file));
    } else {
      response.writeHead(404).end();
    }
  }

  /** Opens the page with `config` and polls its state until `done` says so or `timeoutMs` passes. */
  async function play(config: 'pssh' | 'keyids', done: (state: PlayState) => boolean, timeoutMs: number): Promise<PlayState> {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${baseUrl}/?config=${config}`);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const state = (await page.evaluate('window.playState')) as PlayState;
        if (done(state) || Date.now() > deadline) {
          return state;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    } finally {
      await context.close();
    }
  }

  beforeAll(async () => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-clearkey-'));
    const clip = path.join(workDir, 'clip.mp4');
    execFileSync('ffmpeg', [
      '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', '4', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-shortest', clip,
    ]);
    mediaDir = path.join(workDir, 'avc1');
    fs.mkdirSync(mediaDir);
    await encodeCodec(clip, await probeSource(clip), 'avc1', mediaDir, 'clip-4s');
    const encrypted = await encryptRenditionDirectory(mediaDir, (representation) => KEYS[representation.kind]);
    await protectRenditionManifests(mediaDir, encrypted);
    server = http.createServer(handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    licenseRequests.length = 0;
    answerWithWrongKeys = false;
  });

  it('plays past 2 s with the keys of one license request for every key id of the init segment\'s common pssh', async () => {
    const state = await play('pssh', (s) => s.currentTime > 2.5 || s.fatal !== null, 20_000);

    expect(state.fatal).toBeNull();
    expect(state.mediaError).toBeNull();
    expect(state.currentTime).toBeGreaterThan(2.5);
    expect(licenseRequests.map((kids) => [...kids].sort())).toEqual([[KEYS.video.kid, KEYS.audio.kid].sort()]);
  });

  it('plays past 2 s with one license request per playlist key when hls.js builds keyids requests', async () => {
    const state = await play('keyids', (s) => s.currentTime > 2.5 || s.fatal !== null, 20_000);

    expect(state.fatal).toBeNull();
    expect(state.currentTime).toBeGreaterThan(2.5);
    expect(licenseRequests.every((kids) => kids.length === 1)).toBe(true);
    expect(licenseRequests.flat().sort()).toEqual([KEYS.video.kid, KEYS.audio.kid].sort());
  });

  it('does not play when the license hands out wrong keys for the right key ids', async () => {
    answerWithWrongKeys = true;
    const state = await play('pssh', (s) => s.fatal !== null || s.mediaError !== null, 8_000);

    expect(licenseRequests).toHaveLength(1);
    expect(state.currentTime).toBeLessThan(0.5);
    expect(state.fatal ?? state.mediaError).toMatch(/mediaSourceRequiresReset|bufferAppendError|DECODE/);
  });
});
