import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { play, PlayerCliContext, PlayerProgressEvent, PlayReport, runPlayerCli } from '../../local/player';
import { ContentServer } from './fixtures/player/content-server';
import { EncodedTitle, encodeTitle } from './fixtures/player/encoded-title';
import { closedPortUrl, FakeControlPlane } from './fixtures/player/fake-control-plane';

const TOKEN = 'header.eyJzdWIiOiJ2aWV3ZXIifQ.signature';

/** Runs the CLI core, collecting what it prints. */
async function cli(argv: string[], context: PlayerCliContext) {
  let stdout = '';
  let stderr = '';
  const status = await runPlayerCli(argv, context, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  });
  return { status, stdout, stderr };
}

describe('the CLI player across control-plane regions, and its command line', () => {
  let title: EncodedTitle;
  let appliance: ContentServer;
  let west: FakeControlPlane;
  let east: FakeControlPlane;

  beforeAll(async () => {
    // 12 s at 234p: one rung of two 6 s segments, with sound.
    title = await encodeTitle('player-cli', 234, 12);
    appliance = await ContentServer.start(title, 'appliance');
    [west, east] = await Promise.all([FakeControlPlane.start({ title, sources: [{ server: appliance }] }), FakeControlPlane.start({ title, sources: [{ server: appliance }] })]);
  });

  afterAll(async () => {
    await Promise.all([appliance?.kill(), west?.stop(), east?.stop()]);
    title?.remove();
  });

  beforeEach(() => {
    for (const region of [west, east]) {
      region.refusal = undefined;
      region.failStatus = undefined;
      region.eventsFailStatus = undefined;
      region.plays.length = 0;
      region.events.length = 0;
    }
  });

  const context = (regions: PlayerCliContext['regions']): PlayerCliContext => ({ regions, token: TOKEN, defaultTitleId: title.titleId });

  it('asks the next region when the first is down (port closed) or failing (503), and reports why each was passed over', async () => {
    const events: PlayerProgressEvent[] = [];
    west.failStatus = 503;
    const report = await play({
      regions: [
        { name: 'us-east-1', apiUrl: await closedPortUrl() },
        { name: 'eu-west-1', apiUrl: west.url },
        { name: 'eu-central-1', apiUrl: east.url },
      ],
      token: TOKEN,
      titleId: title.titleId,
      speed: Infinity,
      onEvent: (event) => events.push(event),
    });

    expect(report).toMatchObject({ completed: true, errors: [], region: 'eu-central-1' });
    expect(report.regionsTried).toEqual([
      { region: 'us-east-1', apiUrl: expect.any(String), outcome: 'down', reason: expect.stringMatching(/connection failed \(connect ECONNREFUSED /), ms: expect.any(Number) },
      { region: 'eu-west-1', apiUrl: west.url, outcome: 'down', reason: expect.stringMatching(/HTTP 503/), ms: expect.any(Number) },
      { region: 'eu-central-1', apiUrl: east.url, outcome: 'granted', ms: expect.any(Number) },
    ]);
    expect(events.filter((event) => event.type === 'region-down').map((event) => event.type === 'region-down' && event.region)).toEqual(['us-east-1', 'eu-west-1']);
    expect(east.eventTypes()).toEqual(expect.arrayContaining(['start', 'stop']));
  });

  it('takes a region that does not answer /play within playTimeoutMs as down', async () => {
    const silent = http.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const report = await play({
        regions: [
          { name: 'us-east-1', apiUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}` },
          { name: 'eu-west-1', apiUrl: west.url },
        ],
        token: TOKEN,
        titleId: title.titleId,
        speed: Infinity,
        playTimeoutMs: 300,
      });
      expect(report).toMatchObject({ completed: true, region: 'eu-west-1' });
      expect(report.regionsTried[0]).toMatchObject({ region: 'us-east-1', outcome: 'down', reason: expect.stringMatching(/\/play: timed out after 300 ms$/) });
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('sends telemetry to another region when the granting one fails it, and completes even when no region takes it', async () => {
    west.eventsFailStatus = 500;
    const regions = [
      { name: 'eu-west-1', apiUrl: west.url },
      { name: 'eu-central-1', apiUrl: east.url },
    ];
    const rerouted = await play({ regions, token: TOKEN, titleId: title.titleId, speed: Infinity });
    expect(rerouted.region).toBe('eu-west-1');
    expect(east.events.map((event) => [event.type, event.sessionId])).toEqual(expect.arrayContaining([['start', rerouted.sessionId], ['stop', rerouted.sessionId]]));
    expect(rerouted.telemetry).toMatchObject({ sent: east.events.length, failed: 0 });

    east.eventsFailStatus = 500;
    const failures: PlayerProgressEvent[] = [];
    const lost = await play({ regions, token: TOKEN, titleId: title.titleId, speed: Infinity, onEvent: (event) => event.type === 'telemetry-failed' && failures.push(event) });
    expect(lost).toMatchObject({ completed: true, errors: [], telemetry: { sent: 0 } });
    expect(lost.telemetry.failed).toBeGreaterThanOrEqual(2);
    expect(failures.length).toBeGreaterThanOrEqual(1);
  });

  it('takes a 403 as final: no other region is asked, and the command exits 1 with the refusal', async () => {
    west.refusal = { status: 403, error: 'stream-limit', message: 'the basic plan allows 1 concurrent stream(s), all in use' };
    const result = await cli(['--speed', 'max'], context([
      { name: 'eu-west-1', apiUrl: west.url },
      { name: 'eu-central-1', apiUrl: east.url },
    ]));

    expect(result.status).toBe(1);
    expect(result.stderr).toContain('region eu-west-1 refused the play: 403 stream-limit: the basic plan allows 1 concurrent stream(s), all in use');
    expect(result.stdout).toMatch(/FAILED/);
    expect(west.plays).toHaveLength(1);
    expect(east.plays).toHaveLength(0);
  });

  it('exits 1 naming every region and why when none grants the play', async () => {
    west.failStatus = 500;
    const result = await cli(['--speed', 'max'], context([
      { name: 'us-east-1', apiUrl: await closedPortUrl() },
      { name: 'eu-west-1', apiUrl: west.url },
    ]));

    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^play: no region granted the play: us-east-1: POST .*ECONNREFUSED.*; eu-west-1: POST .*\/play: HTTP 500/m);
  });

  it('prints exactly one parseable JSON object, the play report, with --json, and exits 0', async () => {
    const result = await cli([title.titleId, '--json', '--speed', 'max', '--dash', '--max-height', '720', '--codecs', 'avc1', '--client-ip', '203.0.113.7'], context([{ name: 'eu-west-1', apiUrl: west.url }]));

    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout) as PlayReport;
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    expect(report).toMatchObject({ titleId: title.titleId, protocol: 'dash', speed: 'Infinity', completed: true, region: 'eu-west-1' });
    expect(west.plays[0].body).toEqual({ titleId: title.titleId, device: { codecs: ['avc1'], maxHeight: 720, keySystems: ['clearkey'] }, clientIp: '203.0.113.7' });
    expect(result.stderr).toMatch(/^play granted by eu-west-1/m);
  });

  it('prints the human summary with steering, time to first segment, throughput, rebuffers and total', async () => {
    const result = await cli(['--speed', 'max', '--max-seconds', '6'], context([{ name: 'eu-west-1', apiUrl: west.url }]));

    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Play of player-cli \(HLS, avc1, speed Infinity\): completed$/m);
    expect(result.stdout).toMatch(/^ {2}1\. appliance appliance-1 \(cluster cluster-1, matched by client IP prefix\)$/m);
    expect(result.stdout).toMatch(/^Time to first segment: \d+ ms/m);
    expect(result.stdout).toMatch(/^Throughput: mean /m);
    expect(result.stdout).toMatch(/^Rebuffers: 0$/m);
    expect(result.stdout).toMatch(/^Total: 6\.0 s of media in /m);
  });

  it.each([
    [['--bogus'], /'--bogus'/],
    [['--speed', 'fast'], /^play: --speed must be a positive number \(got 'fast'\)/],
    [['--max-height', '99'], /^play: --max-height must be a whole number from 144 to 4320/],
    [['--codecs', 'avc1,vp9'], /^play: --codecs must list codecs from avc1, hvc1, av01/],
    [['--client-ip', 'localhost'], /^play: --client-ip must be an IPv4 or IPv6 address/],
    [['--speed'], /^play: Option '--speed <value>' argument missing/],
    [['one', 'two'], /^play: one title id at most/],
  ])('exits 2 on bad usage %j with one line naming the flag, asking no region', async (argv, message) => {
    const result = await cli(argv, context([{ name: 'eu-west-1', apiUrl: west.url }]));

    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(west.plays).toHaveLength(0);
  });

  it('exits 2 when no title is given and there is no default title', async () => {
    const result = await cli([], { regions: [{ name: 'eu-west-1', apiUrl: west.url }], token: TOKEN });
    expect(result).toMatchObject({ status: 2, stderr: expect.stringMatching(/^play: titleId is required/) });
  });

  it('prints its usage with --help and exits 0', async () => {
    const result = await cli(['--help'], context([]));
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^npm run local -- play \[titleId\] \[options\]/);
    for (const flag of ['--dash', '--json', '--speed', '--max-seconds', '--max-height', '--codecs', '--client-ip']) {
      expect(result.stdout).toContain(flag);
    }
  });
});
