import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { KMSClient } from '@aws-sdk/client-kms';
import { CatalogStore } from '../../lambda/catalog/catalog-store';
import { ContentKeyStore } from '../../lambda/keys/content-key-store';
import { KeyProvider } from '../../lambda/keys/key-provider';
import { RegionalKmsKeyWrapper } from '../../lambda/keys/regional-key-wrapper';
import { kidToUuid } from '../../lambda/shared/content-protection';
import { ObjectDigestStore } from '../../lambda/encoding/object-digest-store';
import { titleIdFor } from '../../lambda/encoding/title-id';
import { inventoryKey, parseInventory } from '../../lambda/shared/title-inventory';
import { resolveEnvironment } from '../../lib/config/environment';
import { encodeCodec, encodeTitleLocally, probeSource } from '../../local/encoder/ffmpeg-stand-in';
import { localKeyId } from '../../local/encoder/speke-encryptor';
import { LocalKms } from '../../local/services/kms-server';
import { DynamoDbLocal } from '../support/dynamodb-local';
import { S3Server } from '../support/s3-server';
import { decodeFrames, initProtection } from '../support/protected-media';

const run = promisify(execFile);
const TABLE = 'nearstream-local-encode';

describe('the ffmpeg stand-in for MediaConvert', () => {
  let dynamo: DynamoDbLocal;
  let s3: S3Server;
  let catalog: CatalogStore;
  let workDir: string;
  let clip: string;

  beforeAll(async () => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-clip-'));
    clip = path.join(workDir, 'clip.mp4');
    execFileSync('ffmpeg', [
      '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', '10', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-shortest', clip,
    ]);
    [dynamo, s3] = await Promise.all([DynamoDbLocal.start(), S3Server.start(['origin'])]);
    await dynamo.createControlTable(TABLE);
    catalog = new CatalogStore(dynamo.documentClient(), TABLE);
  });

  afterAll(async () => {
    await s3?.stop();
    await dynamo?.stop();
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  const deps = () => ({
    s3: s3.client(),
    originBucket: 'origin',
    catalog,
    digests: new ObjectDigestStore(dynamo.documentClient(), TABLE),
    rates: resolveEnvironment({ name: 'dev' }).encoding.ratesUsdPerMinute,
    nowIso: () => '2026-11-21T20:00:00.000Z',
  });

  it('encodes a 10 s clip into H.264 renditions at the ladder\'s rungs up to the source, with HLS and DASH that ffprobe reads from the origin', async () => {
    const title = await encodeTitleLocally(deps(), { file: clip, source: { bucket: 'source', key: 'uploads/clip.mp4' } });

    const titleId = titleIdFor('source', 'uploads/clip.mp4', undefined);
    expect(title).toMatchObject({ titleId, status: 'available', name: 'clip' });
    expect(title.renditions.map((r) => [r.codec, r.height])).toEqual([
      ['avc1', 234],
      ['avc1', 360],
      ['avc1', 432],
      ['avc1', 540],
      ['avc1', 720],
    ]);
    expect(title.renditions.every((r) => r.bytes > 0 && r.bitrateKbps > 0)).toBe(true);
    expect(title.durationSeconds).toBeCloseTo(10, 0);
    expect(title.manifests).toEqual({
      avc1: { hls: `titles/${titleId}/avc1/index.m3u8`, dash: `titles/${titleId}/avc1/index.mpd`, cappedHeights: [234, 360, 432, 540, 720] },
    });
    expect(title.encoding).toMatchObject({ sourceHeight: 720, savingsPercent: expect.any(Number), estimatedCostUsd: expect.any(Number) });
    expect(await catalog.get(titleId)).toEqual(title);

    const keys = await s3.keys('origin', `titles/${titleId}/avc1/`);
    expect(keys.every((key) => key.startsWith(`titles/${titleId}/avc1/`))).toBe(true);
    expect(keys).toEqual(
      expect.arrayContaining([
        `titles/${titleId}/avc1/index.m3u8`,
        `titles/${titleId}/avc1/index.mpd`,
        `titles/${titleId}/avc1/renditions.json`,
        `titles/${titleId}/avc1/index.cap432.m3u8`,
        `titles/${titleId}/avc1/index.cap432.mpd`,
      ]),
    );

    for (const manifest of ['index.m3u8', 'index.mpd']) {
      const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,height', '-of', 'json', `${s3.endpoint}/origin/titles/${titleId}/avc1/${manifest}`]);
      const streams = (JSON.parse(stdout).streams as { codec_name: string; height?: number }[]).filter((s) => s.codec_name === 'h264');
      expect(new Set(streams.map((s) => s.height)).size).toBeGreaterThanOrEqual(3);
    }
    for (const manifest of ['index.cap432.m3u8', 'index.cap432.mpd']) {
      const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,height', '-of', 'json', `${s3.endpoint}/origin/titles/${titleId}/avc1/${manifest}`]);
      const heights = (JSON.parse(stdout).streams as { codec_name: string; height?: number }[]).filter((s) => s.codec_name === 'h264').map((s) => s.height);
      expect([manifest, [...new Set(heights)].sort((a, b) => a! - b!)]).toEqual([manifest, [234, 360, 432]]);
    }
  });

  it('makes the title available with the inventory the encoding workflow\'s own steps build: every uploaded object\'s size and SHA-256', async () => {
    const titleId = titleIdFor('source', 'uploads/clip.mp4', undefined);
    const title = (await catalog.get(titleId))!;
    const body = await s3.read('origin', inventoryKey(titleId));
    const inventory = parseInventory(titleId, body, title.encoding!.inventory!);

    const uploaded = (await s3.keys('origin', `titles/${titleId}/`)).filter((key) => key !== inventoryKey(titleId));
    expect(inventory.map((object) => object.key)).toEqual(uploaded);
    for (const object of inventory) {
      const stored = await s3.read('origin', object.key);
      expect(object).toEqual({ key: object.key, size: stored.length, sha256: createHash('sha256').update(stored).digest('hex'), titleId });
    }
    expect(title.encoding!.inventory).toMatchObject({ objects: uploaded.length, bytes: inventory.reduce((sum, object) => sum + object.size, 0) });
  });

  it('labels every HLS variant with its representation\'s measured bandwidth plus audio, so an AV1 ladder climbs by height', async () => {
    const outputDir = fs.mkdtempSync(path.join(workDir, 'av01-'));
    const source = await probeSource(clip);
    await encodeCodec(clip, source, 'av01', outputDir, 'tav1');

    const master = fs.readFileSync(path.join(outputDir, 'index.m3u8'), 'utf8');
    const mpd = fs.readFileSync(path.join(outputDir, 'index.mpd'), 'utf8');
    const mpdBandwidth = (id: string) => Number(new RegExp(`<Representation\\b[^>]*\\bid="${id}"[^>]*\\bbandwidth="(\\d+)"`).exec(mpd)![1]);
    const variants = [...master.matchAll(/BANDWIDTH=(\d+),RESOLUTION=\d+x(\d+)[^\n]*\nmedia_(\d+)\.m3u8/g)].map(([, bandwidth, height, id]) => ({ bandwidth: Number(bandwidth), height: Number(height), id }));
    const audioId = /TYPE=AUDIO[^\n]*URI="media_(\d+)\.m3u8"/.exec(master)![1];

    expect(variants.map((variant) => variant.height)).toEqual([360, 540, 720]);
    expect(variants.map((variant) => variant.bandwidth)).toEqual(variants.map((variant) => mpdBandwidth(variant.id) + mpdBandwidth(audioId)));
    expect(variants.map((variant) => variant.bandwidth)).toEqual([...variants.map((variant) => variant.bandwidth)].sort((a, b) => a - b));
  });

  describe('for a protected title', () => {
    const ALIAS = 'alias/nearstream-test/content-keys';
    let kms: LocalKms[];
    let clients: KMSClient[];
    /** The content-key store as a region's functions open it: through that region's KMS only. */
    const storeIn = (index: number, replicas: number[] = []) => {
      const regional = (i: number) => ({ region: kms[i].region, client: clients[i], keyId: ALIAS });
      return new ContentKeyStore(dynamo.documentClient(), TABLE, new RegionalKmsKeyWrapper({ ...regional(index), replicas: replicas.map(regional) }));
    };
    const provider = () => new KeyProvider({ store: storeIn(0, [1]), licenseBaseUrl: 'http://127.0.0.1:9' });

    beforeAll(async () => {
      kms = await Promise.all(['us-east-1', 'us-west-2'].map((region) => LocalKms.start({ keys: [{ keyId: `content-keys-${region}`, aliases: [ALIAS] }], region })));
      clients = kms.map((stand) => new KMSClient({ endpoint: stand.endpoint, region: stand.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 }));
    });

    afterAll(async () => {
      clients?.forEach((client) => client.destroy());
      await Promise.all((kms ?? []).map((stand) => stand.stop()));
    });

    it('encrypts each rendition under its group\'s key from the key provider\'s CPIX answer, lists the kids on the title, and leaves AV1 out saying so', async () => {
      const notes: string[] = [];
      const title = await encodeTitleLocally(
        { ...deps(), keyProvider: provider() },
        { file: clip, source: { bucket: 'source', key: 'uploads/protected.mp4' }, codecs: ['avc1', 'av01'], protection: true, log: (line) => notes.push(line) },
      );

      const { titleId } = title;
      expect(notes).toEqual([`av01 skipped: title ${titleId} is protected, and the local packager cannot encrypt av01 (MediaConvert can); encoding avc1`]);
      expect(title.status).toBe('available');
      expect(Object.keys(title.manifests)).toEqual(['avc1']);
      // 234p to 540p are SD (up to 1024x576), 720p is HD1 (up to 1280x720).
      expect(title.protection).toEqual({
        scheme: 'cbcs',
        keys: (['AUDIO', 'SD', 'HD1'] as const).map((group) => ({ group, kid: localKeyId(titleId, group) })),
      });
      // The keys the segments are under are the store's, and the other region's KMS opens them too.
      const keys = await storeIn(0).keysForTitle(titleId);
      const west = await storeIn(1).keysForTitle(titleId);
      expect(west.map((key) => [key.kid, key.key.toString('hex')])).toEqual(keys.map((key) => [key.kid, key.key.toString('hex')]));
      const hd = keys.find((key) => key.group === 'HD1')!;

      const prefix = `titles/${titleId}/avc1/`;
      const init = await s3.read('origin', `${prefix}index_4_init.m4s`);
      const segment = await s3.read('origin', `${prefix}index_4_00001.m4s`);
      expect(initProtection(init)).toEqual({ sampleEntry: 'encv', scheme: 'cbcs', kid: hd.kid });
      const [withKey, withoutKey] = await Promise.all([decodeFrames(init, segment, hd.key), decodeFrames(init, segment)]);
      expect(withKey.clean).toBe(true);
      expect(withKey.frames.length).toBeGreaterThan(24);
      expect(withoutKey.clean && withoutKey.frames.join() === withKey.frames.join()).toBe(false);
      expect((await s3.read('origin', `${prefix}media_4.m3u8`)).toString()).toContain(
        `#EXT-X-KEY:METHOD=SAMPLE-AES,URI="data:text/plain;base64,${Buffer.from(hd.kid, 'hex').toString('base64')}",KEYFORMAT="org.w3.clearkey"`,
      );
      expect((await s3.read('origin', `${prefix}index.mpd`)).toString()).toContain(`value="cbcs" cenc:default_KID="${kidToUuid(hd.kid)}"`);
      // Each rendition's size is what was published, encryption's sample information included.
      const published = await Promise.all((await s3.keys('origin', `${prefix}index_4_`)).map(async (key) => (await s3.read('origin', key)).length));
      expect(title.renditions.find((rendition) => rendition.height === 720)!.bytes).toBe(published.reduce((sum, size) => sum + size, 0));
    });

    it('refuses a protected title of AV1 alone before writing anything, saying what to do', async () => {
      const request = { file: clip, source: { bucket: 'source', key: 'uploads/av1-only.mp4' }, codecs: ['av01' as const], protection: true };

      await expect(encodeTitleLocally({ ...deps(), keyProvider: provider() }, request)).rejects.toThrow(
        /is protected, and the local packager encrypts avc1 and hvc1 only, none of av01: add avc1 to the codecs, or upload it in the clear \(--protection off\)$/,
      );
      expect(await catalog.get(titleIdFor('source', 'uploads/av1-only.mp4', undefined))).toBeUndefined();
    });
  });

  it('ends a file that is not a video as a failed title with the reason', async () => {
    const notVideo = path.join(workDir, 'notes.mp4');
    fs.writeFileSync(notVideo, 'these are not frames');
    const title = await encodeTitleLocally(deps(), { file: notVideo, source: { bucket: 'source', key: 'uploads/notes.mp4' } });
    expect(title).toMatchObject({ status: 'failed', encoding: { failureReason: expect.stringMatching(/^notes\.mp4 could not be read as media/) } });
  });
});
