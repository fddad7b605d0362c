import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CatalogStore } from '../../lambda/catalog/catalog-store';
import { API_ROUTES } from '../../lambda/shared/api-routes';
import { kidToBase64Url } from '../../lambda/shared/content-protection';
import { clearFaultFile, writeFaultFile } from '../../local/api/fault-injection';
import { DemandStore } from '../../lambda/telemetry/demand-store';
import { loginAsDevViewer, regionEndpoints } from '../../local/platform/login';
import { localDocumentClient } from '../../local/platform/operations';
import { LocalPlatform } from '../../local/platform/platform';
import { play } from '../../local/player';
import { playInBrowser } from '../../local/web/browser';
import { freePlatformBase, platformPorts } from '../support/platform-ports';
import { portFree } from '../support/ports';
import { decodeFrames, initProtection } from '../support/protected-media';
import { runProcess } from '../support/run-process';

const APPLIANCES = 2;

async function boundPorts(base: number): Promise<number[]> {
  const ports = platformPorts(base, APPLIANCES);
  const free = await Promise.all(ports.map(portFree));
  return ports.filter((_, i) => !free[i]);
}

describe('the local platform, end to end', () => {
  const workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-platform-'));
  const clip = path.join(workdir, 'clip.mp4');
  const lines: string[] = [];
  let base: number;
  let platform: LocalPlatform;
  let token: string;

  beforeAll(async () => {
    execFileSync('ffmpeg', [
      '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=854x480:rate=24', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', '18', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-shortest', clip,
    ]);
    base = await freePlatformBase(APPLIANCES);
    platform = await LocalPlatform.start({
      workdir: path.join(workdir, 'platform'),
      fresh: true,
      basePort: base,
      appliances: APPLIANCES,
      video: clip,
      codecs: ['avc1'],
      log: (line) => lines.push(line),
    });
    token = await loginAsDevViewer(platform.state);
  }, 120_000);

  afterAll(async () => {
    await platform?.stop();
    fs.rmSync(workdir, { recursive: true, force: true });
  });

  /** The demo title as the catalog holds it. */
  async function demoTitle() {
    const documents = localDocumentClient(platform.state);
    try {
      return (await new CatalogStore(documents, platform.state.tableName).get(platform.state.demoTitleId!))!;
    } finally {
      documents.destroy();
    }
  }

  /** A play granted by region A over plain HTTP, as a viewer's app asks for it. */
  async function grantedPlay(titleId: string) {
    const response = await fetch(`${platform.state.regions[0].url}/play`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ titleId, device: { codecs: ['avc1'], maxHeight: 1080, keySystems: ['clearkey'] } }),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as { sessionId: string; protection?: { scheme: string; keySystems: { system: string; keySystem: string; licenseUrl: string }[] } };
  }

  function licenseRequest(licenseUrl: string, viewerToken: string, kids: readonly string[]) {
    return fetch(`${platform.state.regions[0].url}${licenseUrl}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${viewerToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kids: kids.map(kidToBase64Url), type: 'temporary' }),
    });
  }

  it('boots in numbered steps, filling every appliance with the title from both regions\' plans', () => {
    expect(lines.filter((line) => /^\[\d\/7\] .*: done in /.test(line))).toHaveLength(7);
    expect(lines.join('\n')).toMatch(/KMS us-east-1 http:\/\/127\.0\.0\.1:\d+, us-west-2 http:\/\/127\.0\.0\.1:\d+: one content key per region/);
    expect(lines.join('\n')).toMatch(/renditions \(avc1\), protected \(cbcs, ClearKey; keys AUDIO, SD\), available/);
    expect(lines.join('\n')).toMatch(/us-east-1: 1 cluster manifest\(s\) announced[\s\S]*us-west-2: 1 cluster manifest\(s\) announced/);
    expect(lines.filter((line) => /oca-\w+ \(isp-\w\): complete/.test(line))).toHaveLength(APPLIANCES);
  });

  it('plays the title to the end with no error, and moves the stream-start and demand counters', async () => {
    const report = await play({ regions: regionEndpoints(platform.state), token, titleId: platform.state.demoTitleId!, speed: Infinity });

    expect(report).toMatchObject({ completed: true, errors: [], region: 'A us-east-1', failovers: [] });
    expect(report.segments.length).toBeGreaterThanOrEqual(3);
    expect(report.steering!.sources.map((source) => source.tier)).toEqual(['appliance', 'appliance', 'origin']);
    expect(report.telemetry.failed).toBe(0);
    // The demo is protected: the player licensed its keys from region A and opened the first segment with them.
    const { protection } = await demoTitle();
    expect(report.protection).toMatchObject({ keySystem: 'org.w3.clearkey', scheme: 'cbcs', firstSegmentDecrypted: true });
    expect([...report.protection!.keysGranted].sort()).toEqual(protection!.keys.map((key) => key.kid).sort());
    // The audio key and the first video key came in one license, at the start; each other video group needs one more.
    expect(report.protection!.licenseRequests).toBe(protection!.keys.length - 1);
    const deadline = Date.now() + 5_000;
    while (platform.streamStartsPerSecond('us-east-1', 60) === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(platform.streamStartsPerSecond('us-east-1', 60)).toBeGreaterThan(0);
    const documents = localDocumentClient(platform.state);
    const demand = await new DemandStore(documents, platform.state.tableName).topTitlesInCluster(new Date().toISOString().slice(0, 10), 'isp-a', 10);
    documents.destroy();
    expect(demand.find((row) => row.titleId === platform.state.demoTitleId)?.starts).toBeGreaterThanOrEqual(1);
  });

  it('encrypts the demo title with the key provider\'s keys: each appliance caches cbcs segments that only the licensed key opens, licensed to the play\'s viewer alone', async () => {
    const title = await demoTitle();
    expect(title.protection).toEqual({ scheme: 'cbcs', keys: [expect.objectContaining({ group: 'AUDIO' }), expect.objectContaining({ group: 'SD' })] });
    const cache = path.join(platform.appliances[0].files.dir, 'cache', 'titles', title.titleId, 'avc1');
    const kidOf = (group: string) => title.protection!.keys.find((key) => key.group === group)!.kid;
    // Representations 0.. are the video rungs, the audio comes last.
    const audioId = title.renditions.length;
    expect(initProtection(fs.readFileSync(path.join(cache, `index_${audioId}_init.m4s`)))).toEqual({ sampleEntry: 'enca', scheme: 'cbcs', kid: kidOf('AUDIO') });
    const init = fs.readFileSync(path.join(cache, 'index_0_init.m4s'));
    const segment = fs.readFileSync(path.join(cache, 'index_0_00001.m4s'));
    const sdKid = kidOf('SD');
    expect(initProtection(init)).toEqual({ sampleEntry: 'encv', scheme: 'cbcs', kid: sdKid });

    const grant = await grantedPlay(title.titleId);
    expect(grant.protection).toEqual({ scheme: 'cbcs', keySystems: [{ system: 'clearkey', keySystem: 'org.w3.clearkey', licenseUrl: `/license/clearkey?session=${grant.sessionId}` }] });
    const licenseUrl = grant.protection!.keySystems[0].licenseUrl;
    try {
      const licensed = await licenseRequest(licenseUrl, token, [sdKid]);
      expect(licensed.status).toBe(200);
      const license = (await licensed.json()) as { keys: { kty: string; kid: string; k: string }[] };
      const key = Buffer.from(license.keys[0].k, 'base64url');
      const [withKey, withoutKey] = await Promise.all([decodeFrames(init, segment, key), decodeFrames(init, segment)]);
      expect(withKey.clean).toBe(true);
      expect(withKey.frames.length).toBeGreaterThan(24);
      expect(withoutKey.clean && withoutKey.frames.join() === withKey.frames.join()).toBe(false);

      const stranger = await platform.issuer.tokenFor('another-viewer');
      const refused = await licenseRequest(licenseUrl, stranger, [sdKid]);
      expect(refused.status).toBe(404);
      expect(await refused.json()).toMatchObject({ error: 'unknown-session' });
    } finally {
      await fetch(`${platform.state.regions[0].url}/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ events: [{ type: 'stop', sessionId: grant.sessionId, at: new Date().toISOString(), positionSeconds: 0 }] }),
      });
    }
  });

  it('ends the CLI player\'s play with the license route\'s status when it refuses the license', async () => {
    const faultFiles = platform.state.regions.map((region) => platform.faultFile(region.name));
    faultFiles.forEach((file) => writeFaultFile(file, { errorPercent: 100, errorStatus: 403, functions: ['local-license'] }));
    // The gateways look at their fault file at most once a second.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    try {
      const report = await play({ regions: regionEndpoints(platform.state), token, titleId: platform.state.demoTitleId!, speed: Infinity });

      expect(report.completed).toBe(false);
      expect(report.errors).toEqual([expect.stringMatching(/^region A us-east-1 refused the ClearKey license for keys [0-9a-f]{32}, [0-9a-f]{32}: HTTP 403 Forbidden$/)]);
      expect(report.protection).toMatchObject({ keysGranted: [], licenseRequests: 1 });
    } finally {
      faultFiles.forEach(clearFaultFile);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
    }
  });

  it('counts a play failure a player reports from the handler\'s metrics, and shows it per region on the page', async () => {
    const report = await play({ regions: regionEndpoints(platform.state), token, titleId: platform.state.demoTitleId!, speed: Infinity });
    expect(report.sessionId).toBeDefined();
    const before = platform.playFailures('us-east-1');
    const region = platform.state.regions.find((entry) => entry.name === 'us-east-1')!;
    const response = await fetch(`${region.url}/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events: [{ type: 'error', sessionId: report.sessionId, at: new Date().toISOString(), fatal: true, code: 'MEDIA_ERR_DECODE' }] }),
    });
    expect(response.status).toBe(202);
    const deadline = Date.now() + 5_000;
    while (platform.playFailures('us-east-1') === before && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(platform.playFailures('us-east-1')).toBe(before + 1);
    expect(platform.playFailures('us-west-2')).toBe(0);

    const page = await platform.openPage();
    const status = (await (await fetch(`${page.url}/api/status`)).json()) as { regions: { name: string; playFailuresLastMinute?: number }[] };
    const shown = status.regions.find((entry) => entry.name.endsWith('us-east-1'))!;
    expect(shown.playFailuresLastMinute).toBe(before + 1);
  });

  it('plays the title in headless Chromium from the web page, through the appliances', async () => {
    const page = await platform.openPage();
    const state = await playInBrowser(`${page.url}/`, { timeoutMs: 90_000 });

    expect(state).toMatchObject({ phase: 'ended', titleId: platform.state.demoTitleId, region: 'A us-east-1' });
    expect(state.currentTime).toBeGreaterThan(10);
    // Through EME ClearKey: hls.js asked region A for a license per key (audio, SD) with the viewer's token.
    expect(state.protection).toMatchObject({ keySystem: 'org.w3.clearkey', scheme: 'cbcs' });
    expect(state.protection!.licensesGranted).toBeGreaterThanOrEqual(2);
    expect(state.protection!.licensesGranted).toBe(state.protection!.licenseRequests);
    expect(state.segments.length).toBeGreaterThan(0);
    expect(state.segments.every((segment) => segment.source.startsWith('oca-'))).toBe(true);
  }, 120_000);

  it('finishes a play through the next appliance when the serving one is killed mid-play', async () => {
    let killed: string | undefined;
    const report = await play({
      regions: regionEndpoints(platform.state),
      token,
      titleId: platform.state.demoTitleId!,
      speed: 6,
      // One segment ahead at most, so that most of the title is still to fetch when the kill comes.
      bufferTargetSeconds: 6,
      onEvent: (event) => {
        if (event.type === 'segment' && !killed && event.segment.source !== 'origin') {
          killed = event.segment.source;
          void platform.appliances.find((appliance) => appliance.spec.applianceId === killed)!.stop();
        }
      },
    });

    expect(killed).toBeDefined();
    expect(report.completed).toBe(true);
    expect(report.failovers[0]).toMatchObject({ from: killed });
    expect(report.segments.at(-1)!.source).not.toBe(killed);
  });

  it('takes an upload while running: encoded, cataloged, planned and filled, then playable as DASH', async () => {
    const talk = path.join(workdir, 'talk.mp4');
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=24', '-t', '8', '-c:v', 'libx264', '-preset', 'ultrafast', talk]);

    const upload = await runProcess(process.execPath, [require.resolve('tsx/cli'), 'bin/local.ts', 'upload', talk, '--codecs', 'avc1', '--workdir', path.join(workdir, 'platform')]);

    expect(upload.status).toBe(0);
    const titleId = upload.stdout.trim();
    expect(titleId).toMatch(/^t[0-9a-f]{23}$/);
    expect(upload.stderr).toMatch(/filled oca-\w+ \(isp-\w\): complete/);
    // The local environment's default: uploads are encoded in the clear unless --protection on.
    expect(upload.stderr).toMatch(/renditions, in the clear\n/);
    const misspelt = await runProcess(process.execPath, [require.resolve('tsx/cli'), 'bin/local.ts', 'upload', talk, '--protection', 'yes', '--workdir', path.join(workdir, 'platform')]);
    expect([misspelt.status, misspelt.stderr.trim()]).toEqual([2, "npm run local -- upload: --protection must be on or off (got 'yes')"]);
    // Steering sees the appliances' new reports once the play function's fleet view is refreshed:
    // until then the title plays from the origin tier.
    const deadline = Date.now() + (platform.config.playback.fleetCacheSeconds * 3 + 5) * 1000;
    let report = await play({ regions: regionEndpoints(platform.state), token, titleId, protocol: 'dash', speed: Infinity });
    while (report.steering?.sources[0].tier !== 'appliance' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      report = await play({ regions: regionEndpoints(platform.state), token, titleId, protocol: 'dash', speed: Infinity });
    }
    expect(report).toMatchObject({ completed: true, protocol: 'dash', errors: [] });
    expect(report.segments.every((segment) => segment.source.startsWith('oca-'))).toBe(true);
  }, 120_000);

  it('serves every route of the deployed route table in each local region', async () => {
    for (const region of platform.state.regions) {
      for (const route of API_ROUTES) {
        const response = await fetch(`${region.url}${route.path.replace('{titleId}', 'tnotatitle')}`, { method: route.method });
        expect([route.path, response.status]).toEqual([route.path, route.auth === 'public' ? 200 : route.auth === 'viewer' ? 401 : 403]);
      }
    }
  });

  it('plays through region B when region A is down', async () => {
    await platform.regions[0].stop();

    const report = await play({ regions: regionEndpoints(platform.state), token, titleId: platform.state.demoTitleId!, speed: Infinity });

    expect(report).toMatchObject({ completed: true, region: 'B us-west-2' });
    expect(report.regionsTried[0]).toMatchObject({ region: 'A us-east-1', outcome: 'down' });
    // Region B licensed keys made in region A: its own KMS opened the copy of their data key made for it.
    expect(report.protection).toMatchObject({ firstSegmentDecrypted: true, licenseRequests: 1 });
  });

  it('plays from the origin tier, through the CloudFront stand-in with signed URLs and cookies, when every appliance is down', async () => {
    await Promise.all(platform.appliances.map((appliance) => appliance.stop()));

    const report = await play({ regions: regionEndpoints(platform.state), token, titleId: platform.state.demoTitleId!, speed: Infinity, segmentTimeoutMs: 2_000 });

    expect(report).toMatchObject({ completed: true });
    expect(report.segments.at(-1)!.source).toBe('origin');
    expect(report.failovers.at(-1)).toMatchObject({ to: 'origin' });
  });

  it('refuses a second platform on the same working directory, naming the running one', async () => {
    const second = await runProcess(process.execPath, [require.resolve('tsx/cli'), 'bin/start.ts', '--once', '--workdir', path.join(workdir, 'platform'), '--port', String(base)]);

    expect(second.status).toBe(3);
    expect(second.stderr).toContain(`already running from ${path.join(workdir, 'platform')} (pid ${process.pid})`);
  });

  it('leaves no process and no bound port once stopped', async () => {
    await platform.stop();

    expect(await boundPorts(base)).toEqual([]);
    expect(fs.existsSync(path.join(workdir, 'platform', 'platform.lock'))).toBe(false);
  });
});
