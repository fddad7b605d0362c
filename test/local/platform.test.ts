import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { API_ROUTES } from '../../lambda/shared/api-routes';
import { DemandStore } from '../../lambda/telemetry/demand-store';
import { loginAsDevViewer, regionEndpoints } from '../../local/platform/login';
import { localDocumentClient } from '../../local/platform/operations';
import { LocalPlatform } from '../../local/platform/platform';
import { play } from '../../local/player';
import { playInBrowser } from '../../local/web/browser';
import { freePlatformBase, platformPorts } from '../support/platform-ports';
import { portFree } from '../support/ports';
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

  it('boots in numbered steps, filling every appliance with the title from both regions\' plans', () => {
    expect(lines.filter((line) => /^\[\d\/7\] .*: done in /.test(line))).toHaveLength(7);
    expect(lines.join('\n')).toMatch(/us-east-1: 1 cluster manifest\(s\) announced[\s\S]*us-west-2: 1 cluster manifest\(s\) announced/);
    expect(lines.filter((line) => /oca-\w+ \(isp-\w\): complete/.test(line))).toHaveLength(APPLIANCES);
  });

  it('plays the title to the end with no error, and moves the stream-start and demand counters', async () => {
    const report = await play({ regions: regionEndpoints(platform.state), token, titleId: platform.state.demoTitleId!, speed: Infinity });

    expect(report).toMatchObject({ completed: true, errors: [], region: 'A us-east-1', failovers: [] });
    expect(report.segments.length).toBeGreaterThanOrEqual(3);
    expect(report.steering!.sources.map((source) => source.tier)).toEqual(['appliance', 'appliance', 'origin']);
    expect(report.telemetry.failed).toBe(0);
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
