import { play, PlayerProgressEvent, PlayOptions, PlayReport } from '../../local/player';
import { ContentServer } from './fixtures/player/content-server';
import { EncodedTitle, encodeTitle } from './fixtures/player/encoded-title';
import { FakeControlPlane } from './fixtures/player/fake-control-plane';

const LEASE_SECONDS = 2;

describe('the CLI player playing a real CMAF title from a loopback appliance', () => {
  let title: EncodedTitle;
  let appliance: ContentServer;
  let origin: ContentServer;
  let region: FakeControlPlane;

  beforeAll(async () => {
    // 30 s at 432p: three rungs (234p, 360p, 432p) of five 6 s segments, with sound.
    title = await encodeTitle('player-playback', 432, 30);
    [appliance, origin] = await Promise.all([ContentServer.start(title, 'appliance'), ContentServer.start(title, 'origin')]);
    region = await FakeControlPlane.start({ title, sources: [{ server: appliance }, { server: origin }], leaseSeconds: LEASE_SECONDS });
  });

  afterAll(async () => {
    await Promise.all([appliance?.kill(), origin?.kill(), region?.stop()]);
    title?.remove();
  });

  beforeEach(() => {
    appliance.pace(undefined);
    appliance.requests.length = 0;
    region.events.length = 0;
  });

  const playTitle = (options: Partial<PlayOptions> = {}): Promise<PlayReport> =>
    play({ regions: [{ name: 'eu-west-1', apiUrl: region.url }], token: 'header.eyJzdWIiOiJ2aWV3ZXIifQ.signature', titleId: title.titleId, speed: Infinity, ...options });

  const videoHeights = (report: PlayReport) => report.segments.filter((segment) => segment.track === 'video').map((segment) => segment.height);

  it('plays HLS to the end from the first appliance with no errors, and tells the granting region start then stop', async () => {
    const report = await playTitle();

    expect(report).toMatchObject({ completed: true, errors: [], region: 'eu-west-1', protocol: 'hls', codec: 'avc1', failovers: [], rebuffers: { count: 0 } });
    expect(report.mediaSecondsPlayed).toBeCloseTo(30, 1);
    expect(report.segments.filter((segment) => segment.track === 'video').map((segment) => segment.index)).toEqual([0, 1, 2, 3, 4]);
    expect(report.segments.filter((segment) => segment.track === 'audio').length).toBeGreaterThanOrEqual(5);
    expect(report.segments.every((segment) => segment.source === 'appliance-1' && segment.bytes > 0)).toBe(true);
    expect(report.timeToFirstSegmentMs).toBeGreaterThanOrEqual(report.playRequestMs!);
    expect(report.steering).toEqual({
      degraded: false,
      fleetAgeSeconds: 3,
      sources: [
        { rank: 1, tier: 'appliance', applianceId: 'appliance-1', clusterId: 'cluster-1', matchedBy: 'prefix' },
        { rank: 2, tier: 'origin' },
      ],
    });
    expect(region.plays[region.plays.length - 1].body).toEqual({ titleId: title.titleId, device: { codecs: ['av01', 'avc1'], maxHeight: 1080, keySystems: ['clearkey'] } });

    const types = region.eventTypes();
    expect(types[0]).toBe('start');
    expect(types[types.length - 1]).toBe('stop');
    expect(types).not.toContain('error');
    expect(region.events.every((event) => event.sessionId === report.sessionId)).toBe(true);
    expect(region.events[region.events.length - 1].positionSeconds).toBeCloseTo(30, 1);
    expect(region.invalidBatches).toEqual([]);
    expect(report.telemetry).toEqual({ sent: region.events.length, failed: 0, rejected: 0 });
  });

  it('plays DASH to the end from the MPD, never touching the HLS playlists', async () => {
    const report = await playTitle({ protocol: 'dash' });

    expect(report).toMatchObject({ completed: true, errors: [], protocol: 'dash' });
    expect(report.mediaSecondsPlayed).toBeCloseTo(30, 1);
    expect(report.segments.filter((segment) => segment.track === 'video').map((segment) => segment.index)).toEqual([0, 1, 2, 3, 4]);
    const files = appliance.requests.map((request) => request.file);
    expect(files).toContain('index.mpd');
    expect(files.filter((file) => file.endsWith('.m3u8'))).toEqual([]);
    expect(region.eventTypes()).toEqual(expect.arrayContaining(['start', 'stop']));
  });

  it('climbs from the lowest rung to the top in one switch on a fast link and stays there', async () => {
    const report = await playTitle();

    expect(report.switches).toHaveLength(1);
    expect(report.switches[0]).toMatchObject({ from: { height: 234 }, to: { height: 432 }, reason: 'throughput' });
    const heights = videoHeights(report);
    expect(heights[0]).toBe(234);
    expect(heights.slice(report.switches[0].segmentIndex)).toEqual(heights.slice(report.switches[0].segmentIndex).map(() => 432));
    expect(region.events.filter((event) => event.type === 'bitrate-switch').map((event) => event.bitrateKbps)).toEqual([report.switches[0].to.bitrateKbps]);
  });

  it('never fetches a rendition taller than the maxHeight it was given', async () => {
    const report = await playTitle({ maxHeight: 360 });

    expect(report.completed).toBe(true);
    expect(Math.max(...videoHeights(report))).toBe(360);
    expect(appliance.requests.some((request) => /^index_2_/.test(request.file) || request.file === 'media_2.m3u8')).toBe(false);
  });

  it('steps down at once when the appliance starts to throttle, and does not climb back', async () => {
    const events: PlayerProgressEvent[] = [];
    const report = await playTitle({
      speed: 4,
      segmentTimeoutMs: 10_000,
      onEvent: (event) => {
        events.push(event);
        if (event.type === 'switch' && event.switch.to.height === 432) {
          // 2 Mbit/s on the wire is 500 kbit/s of media at speed 4: below the top rung's bitrate.
          appliance.pace(250_000);
        }
      },
    });

    expect(report.completed).toBe(true);
    expect(report.switches.map((record) => [record.from.height, record.to.height, record.reason])).toEqual([
      [234, 432, 'throughput'],
      [432, 234, 'throughput'],
    ]);
    const down = report.switches[1];
    expect(down.estimateKbps).toBeLessThan(down.from.bitrateKbps);
    expect(videoHeights(report).slice(down.segmentIndex).every((height) => height === 234)).toBe(true);
    expect(events.filter((event) => event.type === 'switch')).toHaveLength(2);
    expect(region.events.filter((event) => event.type === 'bitrate-switch')).toHaveLength(2);
  });

  it('counts a real rebuffer at speed 4 when a held segment arrives after the buffer ran dry, heartbeating all along', async () => {
    // Buffer target 12 s: the next segment is fetched with 6 s (1.5 s of wall time) left to play.
    appliance.holdNext((file) => /^index_[012]_00003\.m4s$/.test(file), 3_000);
    const report = await playTitle({ speed: 4, bufferTargetSeconds: 12, maxSeconds: 24 });

    expect(report.completed).toBe(true);
    expect(report.mediaSecondsPlayed).toBeCloseTo(24, 1);
    expect(report.rebuffers.count).toBe(1);
    expect(report.rebuffers.stalls[0].atMediaSeconds).toBeCloseTo(12, 0);
    expect(report.rebuffers.totalMs).toBeGreaterThan(500);
    expect(report.rebuffers.totalMs).toBeLessThan(3_000);
    expect(region.events.filter((event) => event.type === 'rebuffer').map((event) => Math.round(event.positionSeconds!))).toEqual([12]);

    const heartbeats = region.events.filter((event) => event.type === 'heartbeat');
    expect(heartbeats.length).toBeGreaterThanOrEqual(3);
    const times = region.events.map((event) => Date.parse(event.at));
    const longestGapMs = Math.max(...times.slice(1).map((at, i) => at - times[i]));
    expect(longestGapMs).toBeLessThanOrEqual((LEASE_SECONDS * 1000) / 2 + 500);
  });
});
