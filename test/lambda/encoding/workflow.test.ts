import { CreateJobCommand, MediaConvertClient, ProbeCommand } from '@aws-sdk/client-mediaconvert';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { CatalogStore } from '../../../lambda/catalog/catalog-store';
import { createCompleteHandler, JobStateChangeEvent } from '../../../lambda/encoding/complete';
import { createIngestHandler, IngestSettings, UploadEvent } from '../../../lambda/encoding/ingest';
import { createRejectHandler } from '../../../lambda/encoding/reject';
import { titleIdFor } from '../../../lambda/encoding/title-id';
import { resolveEnvironment } from '../../../lib/config/environment';
import { DynamoDbLocal } from '../../support/dynamodb-local';
import { leastPrivilege } from '../../support/iam/least-privilege';
import { S3Server } from '../../support/s3-server';
import type { KeyGroup } from '../../../lambda/shared/content-protection';

// MediaConvert and SNS cannot run here; S3 (s3rver) and DynamoDB (DynamoDB Local) are real.
const mediaConvertMock = mockClient(MediaConvertClient);
const snsMock = mockClient(SNSClient);

const TABLE = 'nearstream-encoding-test';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:encoding-failures';
const RATES = resolveEnvironment({ name: 'dev' }).encoding.ratesUsdPerMinute;
const settings: IngestSettings = {
  environment: 'dev',
  originBucket: 'origin',
  mediaConvertRoleArn: 'arn:aws:iam::123456789012:role/mediaconvert',
  templates: { fixed: 'nearstream-dev-fixed', automated: 'nearstream-dev-automated', av1: 'nearstream-dev-av1' },
  maxUploadBytes: 1_000_000,
  defaultLadder: 'fixed',
};

const iam = leastPrivilege({
  controlTables: [TABLE],
  buckets: { source: 'source', origin: 'origin' },
  arns: { [TOPIC]: 'encoding-failures', [settings.mediaConvertRoleArn]: 'mediaconvert-jobs' },
  mocks: [mediaConvertMock, snsMock],
});

const upload = (key: string, size = 1000): UploadEvent => ({ detail: { bucket: { name: 'source' }, object: { key, size } } });

function probeFinds(height: number | undefined) {
  mediaConvertMock.on(ProbeCommand).resolves({
    ProbeResults: [
      {
        Container: {
          Tracks: [
            ...(height ? [{ TrackType: 'video' as const, VideoProperties: { Height: height, Width: Math.round((height * 16) / 9) } }] : []),
            { TrackType: 'audio' as const },
          ],
        },
      },
    ],
  });
}

function jobsSubmitted() {
  return mediaConvertMock.commandCalls(CreateJobCommand).map((call) => call.args[0].input);
}

describe('encoding workflow', () => {
  let dynamo: DynamoDbLocal;
  let s3: S3Server;
  let catalog: CatalogStore;
  let jobCounter = 0;

  const ingest = (overrides: Partial<IngestSettings> = {}) =>
    iam.actingAs('encoding-ingest', createIngestHandler({
      catalog,
      mediaConvert: new MediaConvertClient({ region: 'us-east-1' }),
      s3: s3.client(),
      settings: { ...settings, ...overrides },
      nowIso: () => '2026-11-21T20:00:00.000Z',
    }));
  /** Key ids the key provider stored, per title, as the completion step lists them. */
  const storedKeyIds = new Map<string, { group: KeyGroup; kid: string }[]>();
  const complete = () =>
    iam.actingAs('encoding-complete', createCompleteHandler({
      catalog,
      s3: s3.client(),
      sns: new SNSClient({ region: 'us-east-1' }),
      topicArn: TOPIC,
      rates: RATES,
      contentKeys: { keyIdsForTitle: async (titleId) => storedKeyIds.get(titleId) ?? [] },
    }));
  const reject = () => iam.actingAs('encoding-reject', createRejectHandler({ catalog, sns: new SNSClient({ region: 'us-east-1' }), topicArn: TOPIC }));

  beforeAll(async () => {
    dynamo = await DynamoDbLocal.start();
    await dynamo.createControlTable(TABLE);
    s3 = await S3Server.start(['source', 'origin']);
    catalog = new CatalogStore(dynamo.documentClient(), TABLE);
  });

  afterAll(async () => {
    await s3?.stop();
    await dynamo?.stop();
  });

  beforeEach(() => {
    mediaConvertMock.reset();
    snsMock.reset();
    snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
    mediaConvertMock.on(CreateJobCommand).callsFake((input) => ({ Job: { Id: `job-${++jobCounter}`, Settings: input.Settings } }));
  });

  it('submits the fixed ladder and a separate AV1 job, trimmed to the probed source height', async () => {
    await s3.put('source', 'uploads/Big Buck Bunny.mov', 'not really a movie');
    probeFinds(720);

    const result = await ingest()(upload('uploads/Big Buck Bunny.mov'));

    const titleId = titleIdFor('source', 'uploads/Big Buck Bunny.mov', undefined);
    expect(result).toEqual({ outcome: 'submitted', titleId, jobs: ['fixed', 'av1'] });
    const [fixed, av1] = jobsSubmitted();
    expect(fixed).toMatchObject({
      Role: settings.mediaConvertRoleArn,
      JobTemplate: 'nearstream-dev-fixed',
      ClientRequestToken: `${titleId}-fixed`,
      UserMetadata: { nearstreamEnvironment: 'dev', nearstreamTitleId: titleId, nearstreamJob: 'fixed' },
      Settings: { Inputs: [{ FileInput: 's3://source/uploads/Big Buck Bunny.mov' }] },
    });
    expect(fixed!.Settings!.OutputGroups!.map((g) => g.OutputGroupSettings!.CmafGroupSettings!.Destination)).toEqual([
      `s3://origin/titles/${titleId}/avc1/index`,
      `s3://origin/titles/${titleId}/hvc1/index`,
    ]);
    const heights = fixed!.Settings!.OutputGroups!.flatMap((g) => g.Outputs!.map((o) => o.VideoDescription?.Height).filter(Boolean));
    expect(Math.max(...(heights as number[]))).toBe(720);
    expect(av1).toMatchObject({ JobTemplate: 'nearstream-dev-av1', ClientRequestToken: `${titleId}-av1` });
    expect(await catalog.get(titleId)).toMatchObject({
      name: 'Big Buck Bunny',
      status: 'processing',
      encoding: { ladder: 'fixed', sourceHeight: 720, jobs: { fixed: { status: 'SUBMITTED' }, av1: { status: 'SUBMITTED' } } },
    });
  });

  it('creates no second title or job when the same upload event arrives again', async () => {
    probeFinds(720);
    const result = await ingest()(upload('uploads/Big Buck Bunny.mov'));
    expect(result.outcome).toBe('duplicate');
    expect(jobsSubmitted()).toHaveLength(0);
  });

  it('submits only the job still missing when a run is retried after a failure halfway', async () => {
    await s3.put('source', 'uploads/retry.mp4', 'x');
    probeFinds(1080);
    mediaConvertMock
      .on(CreateJobCommand)
      .resolvesOnce({ Job: { Id: 'job-retry-1' } as never })
      .rejectsOnce(Object.assign(new Error('Too many requests'), { name: 'TooManyRequestsException' }));
    await expect(ingest()(upload('uploads/retry.mp4'))).rejects.toThrow('Too many requests');

    mediaConvertMock.on(CreateJobCommand).resolves({ Job: { Id: 'job-retry-2' } as never });
    const retried = await ingest()(upload('uploads/retry.mp4'));

    expect(retried).toMatchObject({ outcome: 'submitted', jobs: ['av1'] });
    expect(jobsSubmitted().map((job) => job.ClientRequestToken)).toEqual([
      `${titleIdFor('source', 'uploads/retry.mp4', undefined)}-fixed`,
      `${titleIdFor('source', 'uploads/retry.mp4', undefined)}-av1`,
      `${titleIdFor('source', 'uploads/retry.mp4', undefined)}-av1`,
    ]);
  });

  it('uses Automated ABR when the upload asks for it, with AV1 in its own job', async () => {
    await s3.put('source', 'uploads/abr.mp4', 'x', { 'nearstream-ladder': 'automated' });
    probeFinds(2160);
    const result = await ingest()(upload('uploads/abr.mp4'));
    expect(result).toMatchObject({ outcome: 'submitted', jobs: ['automated', 'av1'] });
    const [automated] = jobsSubmitted();
    expect(automated.Settings!.OutputGroups!.every((group) => group.AutomatedEncodingSettings?.AbrSettings)).toBe(true);
  });

  it('finds an upload whose key EventBridge handed over URL-encoded', async () => {
    await s3.put('source', 'uploads/with space+plus.mp4', 'x');
    probeFinds(480);
    const result = await ingest()(upload('uploads/with+space%2Bplus.mp4'));
    expect(result).toMatchObject({ outcome: 'submitted', titleId: titleIdFor('source', 'uploads/with space+plus.mp4', undefined) });
  });

  it('reads the exact upload version the event names, as the versioned source bucket sends it', async () => {
    await s3.put('source', 'uploads/versioned.mp4', 'x');
    probeFinds(720);
    const event: UploadEvent = { detail: { bucket: { name: 'source' }, object: { key: 'uploads/versioned.mp4', size: 1000, 'version-id': '3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrH' } } };
    const result = await ingest()(event);
    expect(result).toMatchObject({ outcome: 'submitted', titleId: titleIdFor('source', 'uploads/versioned.mp4', '3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrH') });
  });

  it('rejects an upload deleted before it was ingested, naming it, even when its key is no URL encoding', async () => {
    const result = await ingest()(upload('uploads/deleted-100%.mp4'));
    expect(result).toEqual({
      outcome: 'rejected',
      titleId: titleIdFor('source', 'uploads/deleted-100%.mp4', undefined),
      reason: 's3://source/uploads/deleted-100%.mp4 no longer exists: it was deleted before it could be encoded',
      source: 's3://source/uploads/deleted-100%.mp4',
    });
    expect(mediaConvertMock.calls()).toHaveLength(0);
  });

  it('refuses an upload over the size limit before probing or encoding, failing the title and notifying', async () => {
    await s3.put('source', 'uploads/huge.mxf', 'x');
    const result = await ingest()(upload('uploads/huge.mxf', 5_000_000));
    expect(result).toMatchObject({ outcome: 'rejected', reason: 'upload is 5000000 bytes; the limit is 1000000' });
    expect(mediaConvertMock.calls()).toHaveLength(0);

    await reject()(result as Extract<typeof result, { outcome: 'rejected' }>);
    expect(await catalog.get(result.titleId)).toMatchObject({ status: 'failed', encoding: { failureReason: 'upload is 5000000 bytes; the limit is 1000000' } });
    const [published] = snsMock.commandCalls(PublishCommand);
    expect(published.args[0].input).toMatchObject({ TopicArn: TOPIC });
    expect(JSON.parse(published.args[0].input.Message!)).toMatchObject({ titleId: result.titleId, status: 'failed' });
  });

  it.each([
    ['has no video track', () => probeFinds(undefined), /has no video track \(found: audio\)/],
    [
      'cannot be read as media',
      () => mediaConvertMock.on(ProbeCommand).rejects(Object.assign(new Error('Unsupported file format'), { name: 'BadRequestException' })),
      /could not be read as media: Unsupported file format/,
    ],
  ])('rejects an upload that %s, without submitting a job', async (label, arrange, reason) => {
    const key = `uploads/${label.replace(/ /g, '-')}.mp4`;
    await s3.put('source', key, 'garbage');
    arrange();
    const result = await ingest()(upload(key));
    expect(result).toMatchObject({ outcome: 'rejected', reason: expect.stringMatching(reason) });
    expect(jobsSubmitted()).toHaveLength(0);
  });

  it('rejects an invalid ladder choice naming the metadata', async () => {
    await s3.put('source', 'uploads/bad-ladder.mp4', 'x', { 'nearstream-ladder': 'fancy' });
    const result = await ingest()(upload('uploads/bad-ladder.mp4'));
    expect(result).toMatchObject({ outcome: 'rejected', reason: "object metadata nearstream-ladder must be 'fixed' or 'automated' (got 'fancy')" });
  });

  describe('content protection', () => {
    const protection = { keyProviderUrl: 'https://speke.example.com/v1/speke/v2', systems: ['clearkey' as const], byDefault: false };

    it('encrypts a title whose upload asks for it: every CMAF group cbcs through the key provider, one key per group, named by the title', async () => {
      await s3.put('source', 'uploads/secret.mp4', 'x', { 'nearstream-protection': 'on' });
      probeFinds(1080);

      const result = await ingest({ protection })(upload('uploads/secret.mp4'));

      expect(result).toMatchObject({ outcome: 'submitted', jobs: ['fixed', 'av1'] });
      const groups = jobsSubmitted().flatMap((job) => job!.Settings!.OutputGroups!);
      expect(groups).toHaveLength(3);
      for (const group of groups) {
        expect(group.OutputGroupSettings!.CmafGroupSettings!.Encryption).toEqual({
          Type: 'SPEKE',
          EncryptionMethod: 'SAMPLE_AES',
          InitializationVectorInManifest: 'EXCLUDE',
          SpekeKeyProvider: {
            Url: protection.keyProviderUrl,
            ResourceId: result.titleId,
            DashSignaledSystemIds: ['e2719d58-a985-b3c9-781a-b030af78d30e'],
            HlsSignaledSystemIds: ['e2719d58-a985-b3c9-781a-b030af78d30e'],
            EncryptionContractConfiguration: { SpekeVideoPreset: 'PRESET_VIDEO_6', SpekeAudioPreset: 'PRESET_AUDIO_1' },
          },
        });
      }
      expect(await catalog.get(result.titleId)).toMatchObject({ protection: { scheme: 'cbcs', keys: [], systems: ['clearkey'] } });
    });

    it('follows the environment\'s default unless the upload says otherwise', async () => {
      await s3.put('source', 'uploads/default-on.mp4', 'x');
      await s3.put('source', 'uploads/opted-out.mp4', 'x', { 'nearstream-protection': 'off' });
      probeFinds(720);

      const on = await ingest({ protection: { ...protection, byDefault: true } })(upload('uploads/default-on.mp4'));
      const [defaultOn] = jobsSubmitted();
      mediaConvertMock.resetHistory();
      const off = await ingest({ protection: { ...protection, byDefault: true } })(upload('uploads/opted-out.mp4'));

      expect(defaultOn!.Settings!.OutputGroups![0].OutputGroupSettings!.CmafGroupSettings!.Encryption).toBeDefined();
      expect(jobsSubmitted().every((job) => job!.Settings!.OutputGroups!.every((group) => group.OutputGroupSettings!.CmafGroupSettings!.Encryption === undefined))).toBe(true);
      expect((await catalog.get(on.titleId))!.protection).toBeDefined();
      expect((await catalog.get(off.titleId))!.protection).toBeUndefined();
    });

    it.each([
      [{ 'nearstream-protection': 'yes' }, { protection }, "object metadata nearstream-protection must be 'on' or 'off' (got 'yes')"],
      [{ 'nearstream-protection': 'on' }, {}, /asks for an encrypted title, but this environment has no key provider/],
    ])('rejects protection metadata %j naming what is wrong, before probing', async (metadata, overrides, reason) => {
      await s3.put('source', 'uploads/bad-protection.mp4', 'x', metadata);

      const result = await ingest(overrides)(upload('uploads/bad-protection.mp4'));

      expect(result).toMatchObject({ outcome: 'rejected', reason: typeof reason === 'string' ? reason : expect.stringMatching(reason) });
      expect(mediaConvertMock.commandCalls(CreateJobCommand)).toHaveLength(0);
    });
  });

  it('records the series and episode an upload names, for fill planning', async () => {
    await s3.put('source', 'uploads/s01e03.mp4', 'x', { 'nearstream-series': 'night-shift', 'nearstream-episode': '3' });
    probeFinds(1080);
    const result = await ingest()(upload('uploads/s01e03.mp4'));
    expect(result).toMatchObject({ outcome: 'submitted' });
    expect(await catalog.get(result.titleId)).toMatchObject({ status: 'processing', series: { id: 'night-shift', episode: 3 } });

    await s3.put('source', 'uploads/film.mp4', 'x');
    const film = await ingest()(upload('uploads/film.mp4'));
    expect(await catalog.get(film.titleId)).not.toHaveProperty('series');
  });

  it.each([
    [{ 'nearstream-series': 'night-shift' }, 'object metadata nearstream-series and nearstream-episode go together (got only nearstream-series)'],
    [{ 'nearstream-episode': '2' }, 'object metadata nearstream-series and nearstream-episode go together (got only nearstream-episode)'],
    [{ 'nearstream-series': 'night shift', 'nearstream-episode': '2' }, /nearstream-series must be 1-128 letters.*got 'night shift'/],
    [{ 'nearstream-series': '-x', 'nearstream-episode': '2' }, /nearstream-series must be .*starting with a letter or digit/],
    [{ 'nearstream-series': 'x'.repeat(129), 'nearstream-episode': '2' }, /nearstream-series must be 1-128/],
    [{ 'nearstream-series': 'ns', 'nearstream-episode': '0' }, "object metadata nearstream-episode must be a whole number from 1 to 100000 (got '0')"],
    [{ 'nearstream-series': 'ns', 'nearstream-episode': '2.5' }, /nearstream-episode must be a whole number .*got '2.5'/],
    [{ 'nearstream-series': 'ns', 'nearstream-episode': '100001' }, /nearstream-episode must be a whole number/],
    [{ 'nearstream-series': 'ns', 'nearstream-episode': 'three' }, /nearstream-episode must be a whole number .*got 'three'/],
  ])('rejects series metadata %j naming what is wrong, before probing', async (metadata, reason) => {
    await s3.put('source', 'uploads/bad-series.mp4', 'x', metadata);
    const result = await ingest()(upload('uploads/bad-series.mp4'));
    expect(result).toMatchObject({ outcome: 'rejected', reason: typeof reason === 'string' ? reason : expect.stringMatching(reason) });
    expect(mediaConvertMock.calls()).toHaveLength(0);
  });

  it('fails the title from a workflow error caught by the state machine', async () => {
    await s3.put('source', 'uploads/crashed.mp4', 'x');
    probeFinds(720);
    mediaConvertMock.on(CreateJobCommand).rejects(new Error('boom'));
    await expect(ingest()(upload('uploads/crashed.mp4'))).rejects.toThrow('boom');
    await reject()({ ...upload('uploads/crashed.mp4'), error: { Error: 'Error', Cause: 'boom' } });
    expect(await catalog.get(titleIdFor('source', 'uploads/crashed.mp4', undefined))).toMatchObject({
      status: 'failed',
      encoding: { failureReason: 'encoding workflow failed: Error: boom' },
    });
  });

  describe('on MediaConvert job state changes', () => {
    const titleId = titleIdFor('source', 'uploads/Big Buck Bunny.mov', undefined);

    async function writeRendition(codec: string, name: string, bytes: number) {
      const prefix = `titles/${titleId}/${codec}/index_${name}`;
      await s3.put('origin', `${prefix}.m3u8`, '#EXTM3U\n');
      await s3.put('origin', `${prefix}_00001.cmfv`, Buffer.alloc(bytes - 8, 1));
    }

    function completed(kind: string, jobId: string, groups: { codec: string; renditions: [string, number, number][] }[]): JobStateChangeEvent {
      return {
        detail: {
          status: 'COMPLETE',
          jobId,
          userMetadata: { nearstreamEnvironment: 'dev', nearstreamTitleId: titleId, nearstreamJob: kind },
          outputGroupDetails: groups.map((group) => ({
            playlistFilePaths: [
              `s3://origin/titles/${titleId}/${group.codec}/index.m3u8`,
              `s3://origin/titles/${titleId}/${group.codec}/index.mpd`,
            ],
            outputDetails: [
              ...group.renditions.map(([name, width, height]) => ({
                outputFilePaths: [`s3://origin/titles/${titleId}/${group.codec}/index_${name}.m3u8`],
                durationInMs: 60_000,
                videoDetails: { widthInPx: width, heightInPx: height },
              })),
              { outputFilePaths: [`s3://origin/titles/${titleId}/${group.codec}/index_audio.m3u8`], durationInMs: 60_000 },
            ],
          })),
        },
      };
    }

    it('keeps the title processing until every job completed, then makes its inventory due, with sizes, savings and cost', async () => {
      await writeRendition('avc1', 'avc1_234p', 1_000_000);
      await writeRendition('avc1', 'avc1_720p', 9_000_000);
      await writeRendition('hvc1', 'hvc1_720p', 6_000_000);
      await writeRendition('av01', 'av01_720p', 4_000_000);
      const fixed = completed('fixed', 'job-fixed', [
        { codec: 'avc1', renditions: [['avc1_234p', 416, 234], ['avc1_720p', 1280, 720]] },
        { codec: 'hvc1', renditions: [['hvc1_720p', 1280, 720]] },
      ]);
      const av1 = completed('av1', 'job-av1', [{ codec: 'av01', renditions: [['av01_720p', 1280, 720]] }]);

      expect(await complete()(fixed)).toEqual({ titleId, status: 'processing', inventoryDue: false });
      expect(await complete()(av1)).toEqual({ titleId, status: 'processing', inventoryDue: true });

      const title = (await catalog.get(titleId))!;
      expect(title.renditions.map((r) => [r.codec, r.height, r.bytes, r.bitrateKbps])).toEqual([
        ['av01', 720, 4_000_000, 533],
        ['avc1', 234, 1_000_000, 133],
        ['avc1', 720, 9_000_000, 1200],
        ['hvc1', 720, 6_000_000, 800],
      ]);
      expect(title.manifests.avc1).toEqual({ hls: `titles/${titleId}/avc1/index.m3u8`, dash: `titles/${titleId}/avc1/index.mpd` });
      expect(title.durationSeconds).toBe(60);
      expect(title.encoding!.inventory).toBeUndefined();
      expect(title.encoding).toMatchObject({ producedBytes: 20_000_000, jobs: { fixed: { status: 'COMPLETE' }, av1: { status: 'COMPLETE' } } });
      expect(title.encoding!.referenceBytes).toBeGreaterThan(20_000_000);
      expect(title.encoding!.savingsPercent).toBeGreaterThan(0);
      expect(title.encoding!.estimatedCostUsd).toBeCloseTo(0.0075 + 0.015 + 0.03 + 0.06, 6);
    });

    it('lists on a protected title the key ids its content was encrypted under, from the key provider\'s store', async () => {
      await s3.put('source', 'uploads/protected.mp4', 'x', { 'nearstream-protection': 'on' });
      probeFinds(360);
      const protectedId = (await ingest({ protection: { keyProviderUrl: 'https://speke.example.com/speke/v2', systems: ['clearkey'], byDefault: false } })(upload('uploads/protected.mp4'))).titleId;
      const keys = [
        { group: 'AUDIO' as const, kid: '0'.repeat(31) + '1' },
        { group: 'SD' as const, kid: '0'.repeat(31) + '2' },
      ];
      storedKeyIds.set(protectedId, keys);
      const [fixedJob] = jobsSubmitted();
      const event = (kind: string) => ({
        detail: { status: 'COMPLETE', jobId: `job-${kind}`, userMetadata: { nearstreamEnvironment: 'dev', nearstreamTitleId: protectedId, nearstreamJob: kind }, outputGroupDetails: [] },
      });
      expect(fixedJob).toBeDefined();

      await complete()(event('fixed'));

      expect((await catalog.get(protectedId))!.protection).toEqual({ scheme: 'cbcs', keys, systems: ['clearkey'] });
    });

    it('records both jobs when they complete at the same moment', async () => {
      await s3.put('source', 'uploads/race.mp4', 'x');
      probeFinds(360);
      const raced = (await ingest()(upload('uploads/race.mp4'))).titleId;
      const event = (kind: string, codec: string): JobStateChangeEvent => ({
        detail: {
          status: 'COMPLETE',
          jobId: `job-${kind}`,
          userMetadata: { nearstreamTitleId: raced, nearstreamJob: kind },
          outputGroupDetails: [{ playlistFilePaths: [`s3://origin/titles/${raced}/${codec}/index.m3u8`], outputDetails: [] }],
        },
      });
      await Promise.all([complete()(event('fixed', 'avc1')), complete()(event('av1', 'av01'))]);
      expect((await catalog.get(raced))!.encoding!.jobs).toMatchObject({ fixed: { status: 'COMPLETE' }, av1: { status: 'COMPLETE' } });
    });

    it('fails the title and notifies on ERROR, and a later COMPLETE of its other job does not revive it', async () => {
      await s3.put('source', 'uploads/corrupt.mp4', 'x');
      probeFinds(720);
      const corrupt = (await ingest()(upload('uploads/corrupt.mp4'))).titleId;
      const error: JobStateChangeEvent = {
        detail: { status: 'ERROR', jobId: 'job-bad', errorCode: 1010, errorMessage: 'Unable to open input file', userMetadata: { nearstreamTitleId: corrupt, nearstreamJob: 'fixed' } },
      };
      expect(await complete()(error)).toEqual({ titleId: corrupt, status: 'failed', inventoryDue: false });
      await complete()({ detail: { status: 'COMPLETE', jobId: 'job-av1', userMetadata: { nearstreamTitleId: corrupt, nearstreamJob: 'av1' }, outputGroupDetails: [] } });

      expect(await catalog.get(corrupt)).toMatchObject({
        status: 'failed',
        encoding: { failureReason: 'MediaConvert job job-bad (fixed) failed: 1010 Unable to open input file', jobs: { fixed: { status: 'ERROR' } } },
      });
      expect(snsMock.commandCalls(PublishCommand)).toHaveLength(1);
    });

    it('refuses an event without the title it belongs to, so the completion state machine\'s retries and failure alarm catch it', async () => {
      await expect(complete()({ detail: { status: 'COMPLETE', jobId: 'stray' } })).rejects.toThrow('carries no nearstreamTitleId');
    });
  });
});
