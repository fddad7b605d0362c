import { play, PlayerProgressEvent, PlayOptions, PlayReport } from '../../local/player';
import { ContentServer, ORIGIN_COOKIES } from './fixtures/player/content-server';
import { EncodedTitle, encodeTitle } from './fixtures/player/encoded-title';
import { FakeControlPlane } from './fixtures/player/fake-control-plane';

describe('the CLI player failing over between the sources steering ranked', () => {
  let title: EncodedTitle;
  const started: { stop(): Promise<void> }[] = [];

  beforeAll(async () => {
    // 18 s at 360p: two rungs of three 6 s segments, with sound.
    title = await encodeTitle('player-failover', 360, 18);
  });

  afterAll(() => title?.remove());

  afterEach(async () => {
    await Promise.all(started.splice(0).map((server) => server.stop()));
  });

  /** Appliances `appliance-1`..`n`, then the origin tier, each a fresh server, and a region granting them in that order. */
  async function platform(appliances: number) {
    const servers = await Promise.all([
      ...Array.from({ length: appliances }, () => ContentServer.start(title, 'appliance')),
      ContentServer.start(title, 'origin'),
    ]);
    const region = await FakeControlPlane.start({ title, sources: servers.map((server) => ({ server })) });
    started.push(...servers.map((server) => ({ stop: () => server.kill() })), region);
    return { appliances: servers.slice(0, appliances), origin: servers[appliances], region };
  }

  const playFrom = (region: FakeControlPlane, options: Partial<PlayOptions> = {}): Promise<PlayReport> =>
    play({ regions: [{ name: 'eu-west-1', apiUrl: region.url }], token: 'header.eyJzdWIiOiJ2aWV3ZXIifQ.signature', titleId: title.titleId, speed: Infinity, ...options });

  /** Each track's segment numbers in the order they were played. */
  const numbering = (report: PlayReport) => ({
    video: report.segments.filter((segment) => segment.track === 'video').map((segment) => segment.index),
    audio: report.segments.filter((segment) => segment.track === 'audio').map((segment) => segment.index),
  });

  it('continues from the next appliance with the same segment of the same rendition when the one in use dies mid-segment', async () => {
    const { appliances, region } = await platform(2);
    const [dying, next] = appliances;
    const events: PlayerProgressEvent[] = [];
    const report = await playFrom(region, {
      onEvent: (event) => {
        events.push(event);
        if (event.type === 'segment' && event.segment.track === 'video' && event.segment.index === 1) {
          // The next video segment hangs, and the appliance dies with it in flight.
          dying.holdNext((file) => /^index_[01]_\d{5}\.m4s$/.test(file), 10_000);
          setTimeout(() => void dying.kill(), 150);
        }
      },
    });

    expect(report).toMatchObject({ completed: true, errors: [] });
    expect(report.failovers).toEqual([{ atSegment: 2, track: 'video', from: 'appliance-1', to: 'appliance-2', reason: expect.stringMatching(/connection failed/) }]);
    const inFlight = dying.requests[dying.requests.length - 1].file;
    expect(inFlight).toMatch(/^index_[01]_00003\.m4s$/);
    expect(next.requests.find((request) => /^index_\d_\d{5}\.m4s$/.test(request.file))?.file).toBe(inFlight);
    expect(next.requests.map((request) => request.file)).toEqual(expect.arrayContaining(['index.m3u8', inFlight.replace(/_00003\.m4s$/, '_init.m4s')]));
    const { video, audio } = numbering(report);
    expect(video).toEqual([0, 1, 2]);
    expect(audio).toEqual(audio.map((_, i) => i));
    expect(report.segments.filter((segment) => segment.track === 'video').map((segment) => segment.source)).toEqual(['appliance-1', 'appliance-1', 'appliance-2']);
    expect(events.filter((event) => event.type === 'failover')).toHaveLength(1);
    expect(region.events.filter((event) => event.type === 'error')).toEqual([expect.objectContaining({ fatal: false, code: 'source-failed' })]);
    expect(region.eventTypes().pop()).toBe('stop');
  });

  it('gives up on an appliance that holds a segment longer than segmentTimeoutMs and carries on from the next', async () => {
    const { appliances, region } = await platform(2);
    appliances[0].holdNext((file) => /^index_[01]_00002\.m4s$/.test(file), 3_000);
    const report = await playFrom(region, { segmentTimeoutMs: 500 });

    expect(report.completed).toBe(true);
    expect(report.failovers).toEqual([{ atSegment: 1, track: 'video', from: 'appliance-1', to: 'appliance-2', reason: expect.stringMatching(/timed out after 500 ms$/) }]);
    expect(report.segments.filter((segment) => segment.track === 'video').map((segment) => segment.source)).toEqual(['appliance-1', 'appliance-2', 'appliance-2']);
  });

  it('finishes from the origin tier, sending its signed cookies, when every appliance is dead', async () => {
    const { appliances, origin, region } = await platform(2);
    await Promise.all(appliances.map((appliance) => appliance.kill()));
    const report = await playFrom(region, { protocol: 'dash' });

    expect(report).toMatchObject({ completed: true, errors: [] });
    expect(report.failovers.map(({ atSegment, from, to }) => ({ atSegment, from, to }))).toEqual([
      { atSegment: 0, from: 'appliance-1', to: 'appliance-2' },
      { atSegment: 0, from: 'appliance-2', to: 'origin' },
    ]);
    expect(report.failovers.map((failover) => failover.reason)).toEqual([expect.stringMatching(/ECONNREFUSED/), expect.stringMatching(/ECONNREFUSED/)]);
    expect(report.segments.every((segment) => segment.source === 'origin')).toBe(true);
    expect(report.mediaSecondsPlayed).toBeCloseTo(18, 1);
    expect(origin.requests.every((request) => request.status === 200)).toBe(true);
    const expectedCookie = Object.entries(ORIGIN_COOKIES).map(([name, value]) => `${name}=${value}`).join('; ');
    const [manifest, ...rest] = origin.requests;
    expect(manifest).toMatchObject({ file: 'index.mpd', signedUrl: true });
    expect(rest.length).toBeGreaterThan(report.segments.length);
    expect(rest.every((request) => request.file.endsWith('.m4s') && request.cookie === expectedCookie && !request.signedUrl)).toBe(true);
  });

  it('fails naming the segment and every source\'s reason when all of them die, and still frees the stream slot', async () => {
    const { appliances, origin, region } = await platform(1);
    const report = await playFrom(region, {
      onEvent: (event) => {
        if (event.type === 'segment' && event.segment.track === 'video' && event.segment.index === 0) {
          void appliances[0].kill();
          void origin.kill();
        }
      },
    });

    expect(report.completed).toBe(false);
    expect(report.errors).toEqual([expect.stringMatching(/^audio segment 0 failed on every source: appliance-1: GET http:\/\/127\.0\.0\.1:\d+\/t\/.*; origin: GET http:\/\/127\.0\.0\.1:\d+\/titles\/.*connection failed/)]);
    expect(report.errors[0]).not.toMatch(/Signature=/);
    expect(region.events.slice(-2)).toEqual([
      expect.objectContaining({ type: 'error', fatal: true, code: 'sources-exhausted' }),
      expect.objectContaining({ type: 'stop' }),
    ]);
  });
});
