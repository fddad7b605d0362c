import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { CatalogStore } from '../../lambda/catalog/catalog-store';
import { ObjectDigestStore } from '../../lambda/encoding/object-digest-store';
import { titleIdFor } from '../../lambda/encoding/title-id';
import { inventoryKey, parseInventory } from '../../lambda/shared/title-inventory';
import { resolveEnvironment } from '../../lib/config/environment';
import { encodeCodec, encodeTitleLocally, probeSource } from '../../local/encoder/ffmpeg-stand-in';
import { DynamoDbLocal } from '../support/dynamodb-local';
import { S3Server } from '../support/s3-server';

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

  it('ends a file that is not a video as a failed title with the reason', async () => {
    const notVideo = path.join(workDir, 'notes.mp4');
    fs.writeFileSync(notVideo, 'these are not frames');
    const title = await encodeTitleLocally(deps(), { file: notVideo, source: { bucket: 'source', key: 'uploads/notes.mp4' } });
    expect(title).toMatchObject({ status: 'failed', encoding: { failureReason: expect.stringMatching(/^notes\.mp4 could not be read as media/) } });
  });
});
