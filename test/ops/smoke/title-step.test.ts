import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { titleIdFor } from '../../../lambda/encoding/title-id';
import { ClipUploader, s3ClipUploader } from '../../../ops/smoke/clip-upload';
import { chooseTitle, TitleStepContext } from '../../../ops/smoke/title-step';
import { StubAnswer, StubApi } from './stub-api';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const TOKEN = 'viewer-token';

/** What ffprobe reads of a clip: its length and its streams' kinds. */
function probe(file: string): { seconds: number; streams: string[] } {
  const output = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_type', '-of', 'json', file]).toString());
  return { seconds: Number(output.format.duration), streams: output.streams.map((stream: { codec_type: string }) => stream.codec_type).sort() };
}

describe('choosing the title to play', () => {
  let api: StubApi | undefined;
  let scratchDir: string;
  const notes: string[] = [];

  const contextFor = (stub: StubApi, overrides: Partial<TitleStepContext> = {}): TitleStepContext => ({
    region: { name: 'us-east-1', apiUrl: stub.url },
    token: TOKEN,
    env: 'pr-7',
    titleTimeoutMs: 5_000,
    uploader: async () => {
      throw new Error('no upload expected');
    },
    scratchDir,
    note: (line) => notes.push(line),
    pollEveryMs: 20,
    progressEveryMs: 100,
    ...overrides,
  });

  beforeEach(() => {
    scratchDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smoke-title-'));
    notes.length = 0;
  });

  afterEach(async () => {
    await api?.stop();
    api = undefined;
    fs.rmSync(scratchDir, { recursive: true, force: true });
  });

  it('takes the newest available title across the catalog\'s pages, as the viewer', async () => {
    api = await StubApi.start((url): StubAnswer => {
      if (url === '/titles?limit=100') {
        return { status: 200, body: { titles: [{ titleId: 'told', name: 'Old', availableFrom: '2026-01-01T00:00:00Z' }, { titleId: 'tnew', name: 'New', availableFrom: '2026-03-01T00:00:00Z' }], nextCursor: 'page 2' } };
      }
      return { status: 200, body: { titles: [{ titleId: 'tmid', name: 'Mid', availableFrom: '2026-02-01T00:00:00Z' }] } };
    });

    const chosen = await chooseTitle(contextFor(api));

    expect(chosen).toMatchObject({ titleId: 'tnew', how: 'newest' });
    expect(api.requests).toEqual([
      { path: '/titles?limit=100', authorization: `Bearer ${TOKEN}` },
      { path: '/titles?limit=100&cursor=page%202', authorization: `Bearer ${TOKEN}` },
    ]);
  });

  it('fails naming the status and body when the catalog refuses the viewer', async () => {
    api = await StubApi.start(() => ({ status: 401, body: { message: 'Unauthorized' } }));

    await expect(chooseTitle(contextFor(api))).rejects.toThrow('GET /titles?limit=100 in us-east-1 answered 401: {"message":"Unauthorized"}');
  });

  it('encodes a 10 s clip when the catalog is empty, and waits until the title is playable', async () => {
    const uploaded: { seconds: number; streams: string[]; name: string }[] = [];
    const uploader: ClipUploader = {
      upload: async (file) => {
        uploaded.push({ ...probe(file), name: path.basename(file) });
        return { titleId: 'tsmoke1', location: 's3://source/uploads/clip.mp4 (version v1)' };
      },
    };
    let lookups = 0;
    api = await StubApi.start((url) => {
      if (url.startsWith('/titles?')) {
        return { status: 200, body: { titles: [] } };
      }
      // Playable on the fourth look: the encode takes a while.
      return ++lookups >= 4 ? { status: 200, body: { titleId: 'tsmoke1' } } : { status: 404, body: { error: 'unknown-title' } };
    });

    const chosen = await chooseTitle(contextFor(api, { uploader: async () => uploader, pollEveryMs: 60 }));

    expect(chosen).toMatchObject({ titleId: 'tsmoke1', how: 'uploaded' });
    expect(uploaded).toHaveLength(1);
    expect(uploaded[0].seconds).toBeCloseTo(10, 0);
    expect(uploaded[0].streams).toEqual(['audio', 'video']);
    expect(uploaded[0].name).toMatch(/^nearstream-smoke-pr-7-\d{8}T\d{6}Z\.mp4$/);
    expect(api.count('/titles/tsmoke1')).toBe(4);
    expect(notes).toEqual(expect.arrayContaining([expect.stringMatching(/^uploaded s3:\/\/source\/uploads\/clip\.mp4 \(version v1\): waiting for title tsmoke1/)]));
    expect(notes.some((note) => /^waiting for tsmoke1: \d+ s so far, not playable through the API yet$/.test(note))).toBe(true);
    expect(fs.readdirSync(scratchDir)).toEqual([]);
  });

  it('gives up after --title-timeout, saying what the catalog entry shows', async () => {
    api = await StubApi.start((url) => (url.startsWith('/titles?') ? { status: 200, body: { titles: [] } } : { status: 404, body: { error: 'unknown-title' } }));
    const uploader: ClipUploader = { upload: async () => ({ titleId: 'tslow', location: 's3://source/uploads/slow.mp4' }) };

    await expect(
      chooseTitle(
        contextFor(api, {
          uploader: async () => uploader,
          titleTimeoutMs: 300,
          readRecord: async () => ({ status: 'processing', encoding: { ladder: 'fixed', source: { bucket: 'b', key: 'k', bytes: 1 }, jobs: { avc1: { status: 'SUBMITTED' } } } }),
        }),
      ),
    ).rejects.toThrow(/^title tslow was not available after \d+ s \(--title-timeout\): processing \(jobs: avc1 SUBMITTED\)$/);
  });

  it('stops waiting at once when the encoding workflow failed the title, with its reason', async () => {
    api = await StubApi.start((url) => (url.startsWith('/titles?') ? { status: 200, body: { titles: [] } } : { status: 404, body: { error: 'unknown-title' } }));
    const uploader: ClipUploader = { upload: async () => ({ titleId: 'tbad', location: 's3://source/uploads/bad.mp4' }) };
    const startedMs = Date.now();

    await expect(
      chooseTitle(
        contextFor(api, {
          uploader: async () => uploader,
          titleTimeoutMs: 60_000,
          readRecord: async () => ({ status: 'failed', encoding: { ladder: 'fixed', source: { bucket: 'b', key: 'k', bytes: 1 }, jobs: {}, failureReason: 'bad.mp4 has no video track' } }),
        }),
      ),
    ).rejects.toThrow('title tbad failed to encode: bad.mp4 has no video track');
    expect(Date.now() - startedMs).toBeLessThan(30_000);
  });
  it('waits on the API alone when it may not read the catalog entry', async () => {
    let lookups = 0;
    api = await StubApi.start((url) => (url.startsWith('/titles?') ? { status: 200, body: { titles: [] } } : ++lookups >= 3 ? { status: 200, body: {} } : { status: 404, body: {} }));
    const uploader: ClipUploader = { upload: async () => ({ titleId: 'tok', location: 's3://source/uploads/ok.mp4' }) };
    let reads = 0;

    const chosen = await chooseTitle(
      contextFor(api, {
        uploader: async () => uploader,
        readRecord: async () => {
          reads++;
          throw new Error('AccessDeniedException: not authorized to perform dynamodb:GetItem');
        },
      }),
    );

    expect(chosen.titleId).toBe('tok');
    expect(reads).toBe(1);
    expect(notes).toContain('cannot read the catalog entry of tok (AccessDeniedException: not authorized to perform dynamodb:GetItem): waiting on the API alone');
  });
});

describe('the S3 clip uploader', () => {
  const client = new S3Client({ region: 'us-east-1' });
  const s3 = mockClient(client);
  afterAll(() => client.destroy());

  it('puts the clip under the smoke prefix and derives the title id ingest will give it from bucket, key and version', async () => {
    s3.reset();
    s3.on(PutObjectCommand).resolves({ VersionId: 'v42' });
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'smoke-upload-')), 'nearstream-smoke-pr-7-20260101T000000Z.mp4');
    fs.writeFileSync(file, 'video bytes');

    const uploaded = await s3ClipUploader(client, 'nearstream-pr-7-source').upload(file);

    const key = 'uploads/nearstream-smoke-pr-7-20260101T000000Z.mp4';
    expect(s3.commandCalls(PutObjectCommand).map((call) => ({ ...call.args[0].input, Body: String(call.args[0].input.Body) }))).toEqual([
      { Bucket: 'nearstream-pr-7-source', Key: key, Body: 'video bytes', ContentType: 'video/mp4' },
    ]);
    expect(uploaded).toEqual({ titleId: titleIdFor('nearstream-pr-7-source', key, 'v42'), location: `s3://nearstream-pr-7-source/${key} (version v42)` });
    fs.rmSync(path.dirname(file), { recursive: true });
  });
});
