import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ViewerStore } from '../../../lambda/playback/viewer-store';
import { localDocumentClient } from '../../../local/platform/operations';
import { LocalPlatform } from '../../../local/platform/platform';
import { SmokeAws } from '../../../ops/smoke/aws-clients';
import { runSmokeCli } from '../../../ops/smoke/cli';
import { checkHealth } from '../../../ops/smoke/health';
import { SmokeResult } from '../../../ops/smoke/run';
import { freePlatformBase } from '../../support/platform-ports';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** The smoke test's viewer on the local platform: the local issuer signs its tokens. */
const SMOKE_SUB = 'smoke-test-viewer';

/** AWS as the local platform offers it: its DynamoDB Local, no credentials to find, nothing else. */
function localAws(platform: LocalPlatform): SmokeAws {
  const documents = localDocumentClient(platform.state);
  const absent = (what: string) => () => {
    throw new Error(`the local platform has no ${what}`);
  };
  return {
    requireCredentials: async () => undefined,
    cloudFormation: absent('CloudFormation'),
    cognito: absent('Cognito'),
    s3: absent('S3 uploads that start an encode'),
    documents: () => documents,
    destroy: () => documents.destroy(),
  };
}

function capture() {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: { write: (text: string) => (out.stdout += text) }, stderr: { write: (text: string) => (out.stderr += text) } } };
}

describe('npm run smoke against the local platform', () => {
  const workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-smoke-'));
  let platform: LocalPlatform;
  let variables: Record<string, string>;

  beforeAll(async () => {
    const clip = path.join(workdir, 'clip.mp4');
    execFileSync('ffmpeg', [
      '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=24', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', '20', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-shortest', clip,
    ]);
    platform = await LocalPlatform.start({
      workdir: path.join(workdir, 'platform'),
      fresh: true,
      basePort: await freePlatformBase(2),
      appliances: 2,
      video: clip,
      codecs: ['avc1'],
      keepTables: false,
      log: () => undefined,
    });
    const { state } = platform;
    variables = {
      NEARSTREAM_ENV: 'local',
      NEARSTREAM_PRIMARY_REGION: state.regions[0].name,
      NEARSTREAM_SECONDARY_REGION: state.regions[1].name,
      PRIMARY_API_URL: `${state.regions[0].url}/`,
      SECONDARY_API_URL: state.regions[1].url,
      CONTROL_TABLE_NAME: state.tableName,
      SOURCE_BUCKET_NAME: state.buckets.source,
      NEARSTREAM_SMOKE_TOKEN: await platform.issuer.tokenFor(SMOKE_SUB),
    };
  }, 120_000);

  afterAll(async () => {
    await platform?.stop();
    fs.rmSync(workdir, { recursive: true, force: true });
  });

  it('finds both regions healthy', async () => {
    const health = await checkHealth(platform.state.regions.map((region) => ({ name: region.name, apiUrl: region.url })), { warmUpMs: 10_000 });

    expect(health.map((region) => [region.region, region.status])).toEqual([
      ['us-east-1', 200],
      ['us-west-2', 200],
    ]);
    expect(JSON.parse(health[1].body)).toMatchObject({ status: 'ok', region: 'us-west-2' });
  });

  it('passes every step with the issuer\'s token: gives the viewer a plan, picks the newest title and plays its start', async () => {
    const documents = localDocumentClient(platform.state);
    const viewers = new ViewerStore(documents, platform.state.tableName);
    const before = await viewers.getPlanAndHeldSlots(SMOKE_SUB, Date.now());
    const { out, io } = capture();

    const code = await runSmokeCli(['--json', '--warm-up', '20'], variables, io, { aws: localAws(platform) });

    const result = JSON.parse(out.stdout) as SmokeResult;
    expect({ code, passed: result.passed, failedStep: result.failedStep }).toEqual({ code: 0, passed: true, failedStep: undefined });
    expect(result.steps.map((step) => [step.step, step.status])).toEqual([
      ['outputs', 'passed'],
      ['health', 'passed'],
      ['viewer', 'passed'],
      ['title', 'passed'],
      ['play', 'passed'],
    ]);
    expect(before.plan).toBeUndefined();
    expect((await viewers.getPlanAndHeldSlots(SMOKE_SUB, Date.now())).plan).toBe('premium');
    documents.destroy();
    expect(result.titleId).toBe(platform.state.demoTitleId);
    expect(result.play).toMatchObject({ completed: true, errors: [], region: 'us-east-1', speed: 'Infinity' });
    expect(result.play!.segments.filter((segment) => segment.index === 0).map((segment) => segment.track).sort()).toEqual(['audio', 'video']);
    // The start of the 20 s title, not all of it.
    expect(result.play!.mediaSecondsPlayed).toBeGreaterThan(0);
    expect(result.play!.mediaSecondsPlayed).toBeLessThan(20);
    expect(out.stderr).toMatch(/\[2\/5\] health: passed in \d+\.\d s: us-east-1 200 in \d+ ms, us-west-2 200 in \d+ ms/);
    expect(out.stderr).toMatch(/external issuer: using the viewer token in NEARSTREAM_SMOKE_TOKEN/);
    expect(out.stderr).toMatch(/smoke test of local passed/);
  });

  it('plays a title given with --title and prints the player\'s summary', async () => {
    const { out, io } = capture();

    const code = await runSmokeCli(['--title', platform.state.demoTitleId!, '--warm-up', '20'], variables, io, { aws: localAws(platform) });

    expect(code).toBe(0);
    expect(out.stdout).toMatch(new RegExp(`^Play of ${platform.state.demoTitleId} \\(HLS, avc1, speed Infinity\\): completed$`, 'm'));
    expect(out.stdout).toMatch(/^Segments: \d+ /m);
    expect(out.stdout.trim().split('\n').at(-1)).toMatch(/^smoke test of local passed: outputs, health, viewer, title, play$/);
    expect(out.stderr).toMatch(/\[4\/5\] title: passed in .*given with --title/);
  });

  it('fails the title step, naming it, for a title the catalog does not have', async () => {
    const { out, io } = capture();

    const code = await runSmokeCli(['--title', 'tnosuchtitle', '--warm-up', '20'], variables, io, { aws: localAws(platform) });

    expect(code).toBe(1);
    expect(out.stdout.trim().split('\n').at(-1)).toMatch(/^smoke test of local FAILED at title: --title tnosuchtitle is not playable in us-east-1: GET \/titles\/tnosuchtitle answered 404/);
    expect(out.stderr).not.toMatch(/\[5\/5\]/);
  });

  // Last: it stops a region for good.
  it('fails the health step naming the region that is down, and skips the steps after it', async () => {
    await platform.regions[1].stop();
    const { out, io } = capture();

    const code = await runSmokeCli(['--json', '--warm-up', '3'], variables, io, { aws: localAws(platform) });

    const result = JSON.parse(out.stdout) as SmokeResult;
    expect(code).toBe(1);
    expect(result.failedStep).toBe('health');
    const health = result.steps.find((step) => step.step === 'health')!;
    expect(health.error).toMatch(/^region us-west-2: GET http:\/\/127\.0\.0\.1:\d+\/health no answer: .*ECONNREFUSED.* \(after \d+ attempt\(s\) in \d+\.\d s\)$/);
    expect(health.error).not.toMatch(/us-east-1/);
    expect(result.steps.slice(2).map((step) => step.status)).toEqual(['skipped', 'skipped', 'skipped']);
    expect(out.stderr).toMatch(/smoke test of local FAILED at health: region us-west-2/);
  });
});
