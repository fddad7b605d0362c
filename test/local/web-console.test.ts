import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CodecOutputs } from '../../lambda/encoding/catalog-entry';
import { encodeCodec, probeSource } from '../../local/encoder/ffmpeg-stand-in';
import { launchChromium, playInBrowser, WindowPlayState } from '../../local/web/browser';
import { ConsoleConfig, ConsoleServer, PlatformStatus } from '../../local/web/console-server';
import { waitFor } from '../support/ports';
import { DEV_VIEWER, StandInAppliance, StandInRegion, StandInTokenEndpoint } from './fixtures/web/stand-ins';

const TITLE_ID = 'clip-8s';
const ACCESS_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJkZXYtdmlld2VyIn0.c2lnbmF0dXJl';
const CLIP_SECONDS = 8;

/** chromium processes below this jest worker: what a helper that closes its browser leaves none of. */
function chromiumDescendants(): string[] {
  const parents = new Map<string, string>();
  for (const pid of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      parents.set(pid, fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
    } catch {
      // ended while being listed
    }
  }
  const isDescendant = (pid: string): boolean => {
    for (let parent = parents.get(pid); parent && parent !== '0'; parent = parents.get(parent)) {
      if (parent === String(process.pid)) {
        return true;
      }
    }
    return false;
  };
  return [...parents.keys()].filter((pid) => isDescendant(pid) && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('chromium'));
}

describe('the console page in chromium', () => {
  let workDir: string;
  let outputs: CodecOutputs;
  let server: ConsoleServer;
  let config: ConsoleConfig;
  const allHealthy: PlatformStatus = {
    regions: [
      { name: 'region-a', apiUrl: 'http://127.0.0.1:9/', healthy: true, detail: 'health probe ok 4 s ago' },
      { name: 'region-b', apiUrl: 'http://127.0.0.1:9/', healthy: true, detail: 'health probe ok 1 s ago', streamStartsPerSecond: 0.25, playFailuresLastMinute: 3 },
    ],
    appliances: [
      { applianceId: 'appliance-1', clusterId: 'cluster-1', region: 'region-b', baseUrl: 'http://127.0.0.1:9', healthy: true, titlesHeld: 1, bytesServed: 3 * 1024 * 1024, lastFill: { at: '2026-11-21T02:00:00.000Z', result: 'complete' } },
      { applianceId: 'appliance-2', clusterId: 'cluster-2', region: 'region-b', baseUrl: 'http://127.0.0.1:9', healthy: false, titlesHeld: 0, bytesServed: 0 },
    ],
    titles: [{ titleId: TITLE_ID, name: 'Test clip' }],
  };
  let status = allHealthy;
  const running: { stop(): Promise<void> }[] = [];

  /** The stand-in platform for one play: the token endpoint, a failing region, then a good one. */
  async function platform(appliances: StandInAppliance[]): Promise<{ failing: StandInRegion; region: StandInRegion; token: StandInTokenEndpoint }> {
    running.push(...appliances);
    const title = { titleId: TITLE_ID, name: 'Test clip', outputs };
    const common = { pageOrigin: server.url, accessToken: ACCESS_TOKEN, title, appliances, leaseSeconds: 4 };
    const [failing, region, token] = await Promise.all([
      StandInRegion.start({ ...common, name: 'region-a', failing: true }),
      StandInRegion.start({ ...common, name: 'region-b' }),
      StandInTokenEndpoint.start(server.url, ACCESS_TOKEN),
    ]);
    running.push(failing, region, token);
    config = {
      regions: [
        { name: 'region-a', apiUrl: failing.url },
        { name: 'region-b', apiUrl: region.url },
      ],
      login: { tokenUrl: token.tokenUrl, ...DEV_VIEWER },
      device: { codecs: ['av01', 'hvc1', 'avc1'], maxHeight: 1080 },
    };
    return { failing, region, token };
  }

  const appliance = (applianceId: string, stallFromSegment?: number) =>
    StandInAppliance.start({ applianceId, titleId: TITLE_ID, codec: 'avc1', directory: workDir, stallFromSegment });

  beforeAll(async () => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-web-'));
    const clip = path.join(workDir, 'source.mp4');
    execFileSync('ffmpeg', [
      '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', String(CLIP_SECONDS), '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-shortest', clip,
    ]);
    outputs = await encodeCodec(clip, await probeSource(clip), 'avc1', workDir, TITLE_ID);
    server = await ConsoleServer.start({ port: 0, config: () => config, status: async () => status });
  });

  afterEach(async () => {
    status = allHealthy;
    await Promise.all(running.splice(0).map((stoppable) => stoppable.stop()));
  });

  afterAll(async () => {
    await server?.stop();
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('logs in as the dev viewer, plays the first title to the end from the first-ranked appliance, reports it and shows the platform', async () => {
    const { region, token } = await platform([await appliance('appliance-1'), await appliance('appliance-2')]);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(server.url);
      await page.waitForFunction(() => ['ended', 'error'].includes(String((globalThis as { nearstream?: WindowPlayState }).nearstream?.phase)), undefined, { timeout: 30_000 });
      const state = (await page.evaluate('window.nearstream')) as WindowPlayState;

      expect(state).toMatchObject({ phase: 'ended', titleId: TITLE_ID, sessionId: 'region-b-session-1', region: 'region-b', sources: ['appliance-1', 'appliance-2'], failovers: [] });
      expect(state.error).toBeUndefined();
      expect(state.duration).toBeCloseTo(CLIP_SECONDS, 0);
      expect(Math.abs(state.currentTime - (state.duration ?? 0))).toBeLessThan(0.5);
      expect(await page.evaluate("document.getElementById('video').getVideoPlaybackQuality().totalVideoFrames")).toBeGreaterThan(0);
      expect(state.segments.map((segment) => segment.source)).toEqual(state.segments.map(() => 'appliance-1'));
      expect(new Set(state.segments.map((segment) => segment.sn))).toEqual(new Set([1, 2]));
      expect(outputs.renditions.map((rendition) => rendition.height)).toContain(state.segments[0].height);

      expect(token.requests).toEqual([
        { contentType: 'application/x-www-form-urlencoded', grant_type: 'password', ...DEV_VIEWER, client_id: 'nearstream-local' },
      ]);
      // HEVC is not in this chromium: the page narrows what it offers to what MediaSource decodes,
      // and declares the EME key systems the browser has.
      expect(region.plays).toEqual([{ titleId: TITLE_ID, device: { codecs: ['av01', 'avc1'], maxHeight: 1080, keySystems: ['clearkey'] } }]);
      expect(state.protection).toBeNull();
      expect(await page.locator('#facts').innerText()).toMatch(/Protection\s+none \(clear\)/);
      await waitFor(async () => expect(region.events.map((event) => event.type)).toContain('stop'), 5_000, 'the stop event');
      // Each event is its own request, so arrival order is not event order: their stamps are.
      const events = [...region.events].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
      const types = events.map((event) => event.type);
      expect(types[0]).toBe('start');
      expect(types.at(-1)).toBe('stop');
      expect(types).toContain('heartbeat');
      expect(events.every((event) => event.sessionId === 'region-b-session-1' && !Number.isNaN(Date.parse(event.at)))).toBe(true);
      expect(events.map((event) => String(event.positionSeconds ?? 0))).toEqual(events.map(() => expect.stringMatching(/^\d+(\.\d{1,3})?$/)));
      expect(events.at(-1)?.positionSeconds).toBeCloseTo(CLIP_SECONDS, 0);

      await waitFor(async () => expect(await page.locator('#appliances-body tr').count()).toBe(2), 5_000, 'the status panel');
      const regions = await page.locator('#regions-body tr').allInnerTexts();
      expect(regions).toEqual([expect.stringMatching(/region-a\s+● healthy/), expect.stringMatching(/region-b\s+● healthy\s+0\.25\s+3\s/)]);
      const appliances = await page.locator('#appliances-body tr').allInnerTexts();
      expect(appliances).toEqual([expect.stringMatching(/^appliance-1\s+http:\/\/127\.0\.0\.1:9\s+cluster-1\s+region-b\s+● healthy\s+1\s+3\.0 MiB\s+complete\s+\S/), expect.stringMatching(/^appliance-2\s+http:\/\/127\.0\.0\.1:9\s+cluster-2\s+region-b\s+✕ down\s+0\s+0 B\s+never$/)]);
      expect(await page.locator('#segment-legend').innerText()).toBe(`appliance-1: ${state.segments.length} segments`);
      expect(await page.locator('#sources').innerText()).toContain('origin tier — skipped in the browser');
      expect(await page.locator('#log').innerText()).toContain('Region region-a failed (POST /play: HTTP 503 internal: region-a is failing)');
      expect(await page.locator('#error').isHidden()).toBe(true);
    } finally {
      await browser.close();
    }
  });

  it('leaves an appliance killed mid-play for the next-ranked one, resumes where the viewer was and still plays to the end', async () => {
    const first = await appliance('appliance-1', 2);
    const { region } = await platform([first, await appliance('appliance-2')]);
    let killedAtSeconds: number | undefined;

    const state = await playInBrowser(server.url, {
      timeoutMs: 40_000,
      onProgress: async (progress) => {
        if (killedAtSeconds === undefined && progress.segments.length > 0 && progress.currentTime > 1) {
          killedAtSeconds = progress.currentTime;
          await first.stop();
        }
      },
    });

    expect(chromiumDescendants()).toEqual([]);
    expect(state).toMatchObject({ phase: 'ended', sources: ['appliance-1', 'appliance-2'] });
    expect(state.failovers).toEqual([{ from: 'appliance-1', to: 'appliance-2', reason: expect.stringMatching(/^fragLoad/) }]);
    const moved = state.segments.findIndex((segment) => segment.source === 'appliance-2');
    expect(moved).toBeGreaterThan(0);
    expect(state.segments.slice(0, moved).every((segment) => segment.source === 'appliance-1')).toBe(true);
    expect(state.segments.slice(moved).every((segment) => segment.source === 'appliance-2')).toBe(true);
    expect(state.segments.at(-1)?.sn).toBe(2);
    expect(Math.abs(state.currentTime - (state.duration ?? 0))).toBeLessThan(0.5);

    await waitFor(async () => expect(region.events.map((event) => event.type)).toContain('stop'), 5_000, 'the stop event');
    const moveReport = region.events.find((event) => event.type === 'error');
    expect(moveReport).toMatchObject({ fatal: false, code: expect.stringMatching(/^fragLoad/) });
    expect(moveReport?.positionSeconds).toBeGreaterThanOrEqual(killedAtSeconds ?? Infinity);
  });

  it('says plainly that only the CLI player can go on when every appliance in the grant is down', async () => {
    const [first, second] = [await appliance('appliance-1'), await appliance('appliance-2')];
    const { region } = await platform([first, second]);
    await Promise.all([first.stop(), second.stop()]);

    const state = await playInBrowser(server.url, { timeoutMs: 20_000 });

    expect(state.phase).toBe('error');
    expect(state.failovers.map(({ from, to }) => [from, to])).toEqual([
      ['appliance-1', 'appliance-2'],
      ['appliance-2', 'none'],
    ]);
    expect(state.error).toMatch(/^every appliance in the grant failed \(last: appliance-2, manifestLoadError.*only the CLI player can fall back to it$/);
    // Sent one by one without waiting for each other: they may arrive in any order.
    await waitFor(async () => expect(region.events).toHaveLength(3), 5_000, 'the error and stop events');
    expect(region.events.map((event) => `${event.type} ${event.fatal}`).sort()).toEqual(['error false', 'error true', 'stop undefined']);
  });

  it('asks the regions the live status calls down last, and shows a 4xx as the error without asking another region', async () => {
    status = { ...allHealthy, regions: allHealthy.regions.map((region) => (region.name === 'region-a' ? { ...region, healthy: false, detail: 'probe refused' } : region)) };
    const { failing, region } = await platform([await appliance('appliance-1')]);

    const state = await playInBrowser(`${server.url}/?title=no-such-title`, { timeoutMs: 20_000 });

    expect(state).toMatchObject({ phase: 'error', titleId: 'no-such-title', sessionId: null, segments: [] });
    expect(state.error).toBe("region-b refused POST /play with HTTP 404 unknown-title: no playable title 'no-such-title'");
    expect(region.requests).toEqual(['GET /titles', 'POST /play']);
    expect(failing.requests).toEqual([]);
  });
});
