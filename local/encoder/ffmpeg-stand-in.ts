import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CatalogTitle, Codec, Rendition } from '../../lambda/catalog/catalog';
import { CatalogStore } from '../../lambda/catalog/catalog-store';
import { CodecOutputs, inventoryDue, processingTitle, RateTable, withFailure, withJobCompleted, withJobSubmitted } from '../../lambda/encoding/catalog-entry';
import { CODECS_BY_JOB, codecPrefix, GOP_SECONDS, JOBS_BY_MODE, MANIFEST_BASENAME, PROTECTION_SCHEME, rungsFor, SEGMENT_SECONDS } from '../../lambda/encoding/ladder';
import { ObjectDigestStore } from '../../lambda/encoding/object-digest-store';
import { TitleInventoryBuilder } from '../../lambda/encoding/title-inventory-builder';
import { titleIdFor } from '../../lambda/encoding/title-id';
import { KEY_GROUPS } from '../../lambda/shared/content-protection';
import { encryptCodecOutputs, PROTECTABLE_CODECS, UsedKey } from './protected-outputs';
import { requestTitleKeys, SpekeKeyProvider } from './speke-encryptor';

/**
 * LOCAL STAND-IN for AWS Elemental MediaConvert, for the local platform only. It encodes a local
 * file with ffmpeg into the layout the MediaConvert ladder writes (CMAF fMP4 segments with an HLS
 * `index.m3u8` and a DASH `index.mpd` under `titles/<titleId>/<codec>/`, the same rungs from the
 * same ladder module), uploads it to the origin through the S3 API, writes the catalog entry with
 * the same catalog-entry code the MediaConvert completion step uses, and builds the title's
 * inventory with the same code as the encoding workflow's inventory steps, which is what makes the
 * title available. Nothing downstream can tell the difference; the encodes themselves are not
 * MediaConvert's.
 *
 * A protected title is encrypted as MediaConvert's SPEKE v2 cbcs output is: the stand-in asks the
 * key provider for the title's keys with a CPIX request (`speke-encryptor.ts`), encrypts each
 * representation under its group's key and signals it in the manifests (`protected-outputs.ts`),
 * and the catalog entry lists the key ids used. AV1 it leaves out of a protected title: the local
 * packager cannot encrypt it.
 */

const run = promisify(execFile);

const ENCODERS: Readonly<Record<Codec, { readonly encoder: string; readonly extra: readonly string[] }>> = {
  avc1: { encoder: 'libx264', extra: ['-preset', 'veryfast', '-profile:v', 'high', '-crf', '23'] },
  hvc1: { encoder: 'libx265', extra: ['-preset', 'fast', '-crf', '26', '-tag:v', 'hvc1', '-x265-params', 'log-level=error'] },
  av01: { encoder: 'libsvtav1', extra: ['-preset', '12', '-crf', '35'] },
};

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.mpd': 'application/dash+xml',
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
};

export interface SourceProbe {
  readonly width: number;
  readonly height: number;
  readonly durationSeconds: number;
  readonly hasAudio: boolean;
}

export class NotAVideoError extends Error {}

/** Reads the source's picture size, duration and whether it has sound; refuses what has no video. */
export async function probeSource(file: string): Promise<SourceProbe> {
  let output: string;
  try {
    ({ stdout: output } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,width,height:format=duration', '-of', 'json', file]));
  } catch (error) {
    throw new NotAVideoError(`${path.basename(file)} could not be read as media: ${((error as { stderr?: string }).stderr ?? String(error)).trim()}`);
  }
  const probe = JSON.parse(output) as { streams?: { codec_type: string; width?: number; height?: number }[]; format?: { duration?: string } };
  const video = probe.streams?.find((stream) => stream.codec_type === 'video');
  if (!video?.height || !video.width) {
    throw new NotAVideoError(`${path.basename(file)} has no video track`);
  }
  return {
    width: video.width,
    height: video.height,
    durationSeconds: Number(probe.format?.duration ?? 0),
    hasAudio: probe.streams?.some((stream) => stream.codec_type === 'audio') ?? false,
  };
}

/**
 * Encodes one codec's ladder into `outputDir` as CMAF with HLS and DASH manifests, and reads back
 * what was written: each representation's size from its files, its picture from the MPD.
 */
export async function encodeCodec(file: string, source: SourceProbe, codec: Codec, outputDir: string, titleId: string, signal?: AbortSignal): Promise<CodecOutputs> {
  const rungs = rungsFor(codec, source.height);
  const { encoder, extra } = ENCODERS[codec];
  const split = `[0:v]split=${rungs.length}${rungs.map((_, i) => `[s${i}]`).join('')}`;
  const scales = rungs.map((rung, i) => `[s${i}]scale=-2:${rung.height}[v${i}]`);
  const args = ['-v', 'error', '-y', '-i', file, '-filter_complex', [split, ...scales].join(';')];
  rungs.forEach((rung, i) => {
    args.push('-map', `[v${i}]`, `-c:v:${i}`, encoder, `-maxrate:v:${i}`, String(rung.maxBitrate), `-bufsize:v:${i}`, String(rung.maxBitrate * 2));
  });
  args.push(...extra, '-pix_fmt', 'yuv420p', '-force_key_frames', `expr:gte(t,n_forced*${GOP_SECONDS})`, '-sc_threshold', '0');
  if (source.hasAudio) {
    args.push('-map', '0:a:0', '-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-ar', '48000');
  }
  args.push(
    '-f', 'dash',
    '-seg_duration', String(SEGMENT_SECONDS),
    '-use_template', '1',
    '-use_timeline', '0',
    '-hls_playlist', '1',
    '-hls_master_name', `${MANIFEST_BASENAME}.m3u8`,
    '-init_seg_name', `${MANIFEST_BASENAME}_$RepresentationID$_init.$ext$`,
    '-media_seg_name', `${MANIFEST_BASENAME}_$RepresentationID$_$Number%05d$.$ext$`,
    '-adaptation_sets', source.hasAudio ? 'id=0,streams=v id=1,streams=a' : 'id=0,streams=v',
    path.join(outputDir, `${MANIFEST_BASENAME}.mpd`),
  );
  await run('ffmpeg', args, { maxBuffer: 16 * 1024 * 1024, signal });

  const mpd = fs.readFileSync(path.join(outputDir, `${MANIFEST_BASENAME}.mpd`), 'utf8');
  correctHlsBandwidths(path.join(outputDir, `${MANIFEST_BASENAME}.m3u8`), mpd);
  const files = fs.readdirSync(outputDir);
  const renditions: Rendition[] = [];
  for (const match of mpd.matchAll(/<Representation\b[^>]*\bid="(\d+)"[^>]*>/g)) {
    const attribute = (name: string) => new RegExp(`\\b${name}="(\\d+)"`).exec(match[0])?.[1];
    const width = attribute('width');
    const height = attribute('height');
    if (!width || !height) {
      continue;
    }
    const bytes = files
      .filter((name) => name.startsWith(`${MANIFEST_BASENAME}_${match[1]}_`))
      .reduce((sum, name) => sum + fs.statSync(path.join(outputDir, name)).size, 0);
    renditions.push({
      codec,
      width: Number(width),
      height: Number(height),
      bitrateKbps: Math.round(source.durationSeconds > 0 ? (bytes * 8) / source.durationSeconds / 1000 : 0),
      bytes,
    });
  }
  const prefix = codecPrefix(titleId, codec);
  return {
    codec,
    manifests: { hls: `${prefix}${MANIFEST_BASENAME}.m3u8`, dash: `${prefix}${MANIFEST_BASENAME}.mpd` },
    renditions,
    durationSeconds: source.durationSeconds,
  };
}

/**
 * ffmpeg's DASH muxer writes some HLS variants' BANDWIDTH from the encoder's nominal rate, which
 * SVT-AV1 in CRF mode leaves near zero (a 720p variant below the 360p one), and players climb the
 * ladder by it. Each variant gets its representation's bandwidth from the MPD (measured from what
 * was written) plus its audio's, as MediaConvert's manifests carry.
 */
function correctHlsBandwidths(masterFile: string, mpd: string): void {
  const bandwidths = new Map<string, number>();
  for (const match of mpd.matchAll(/<Representation\b[^>]*>/g)) {
    const id = /\bid="(\d+)"/.exec(match[0])?.[1];
    const bandwidth = /\bbandwidth="(\d+)"/.exec(match[0])?.[1];
    if (id !== undefined && bandwidth !== undefined) {
      bandwidths.set(id, Number(bandwidth));
    }
  }
  const lines = fs.readFileSync(masterFile, 'utf8').split('\n');
  const audioId = /URI="media_(\d+)\.m3u8"/.exec(lines.find((line) => line.startsWith('#EXT-X-MEDIA:TYPE=AUDIO')) ?? '')?.[1];
  const audio = audioId === undefined ? 0 : (bandwidths.get(audioId) ?? 0);
  const corrected = lines.map((line, i) => {
    const variant = /^media_(\d+)\.m3u8$/.exec(lines[i + 1] ?? '')?.[1];
    const video = variant === undefined ? undefined : bandwidths.get(variant);
    return line.startsWith('#EXT-X-STREAM-INF:') && video !== undefined ? line.replace(/BANDWIDTH=\d+/, `BANDWIDTH=${video + audio}`) : line;
  });
  fs.writeFileSync(masterFile, corrected.join('\n'));
}

export interface LocalEncodeDependencies {
  readonly s3: S3Client;
  readonly originBucket: string;
  readonly catalog: CatalogStore;
  /** Where object digests wait for the inventory: the control table, as in the cloud. */
  readonly digests: ObjectDigestStore;
  readonly rates: RateTable;
  readonly nowIso: () => string;
  /**
   * The SPEKE v2 key provider protected titles get their keys from.
   * @default - none: a protected title is refused
   */
  readonly keyProvider?: SpekeKeyProvider;
}

export interface LocalEncodeRequest {
  /** The video file to encode. */
  readonly file: string;
  /**
   * Where it was uploaded, for the title id: `s3://<bucket>/<key>`, and the object's version (in
   * AWS, S3's version id: a re-upload under the same key is a new title).
   */
  readonly source: { readonly bucket: string; readonly key: string; readonly versionId?: string };
  /**
   * @default ['avc1'] - H.264 only: encoding HEVC and AV1 in software is slow on a laptop
   */
  readonly codecs?: readonly Codec[];
  /** Aborting it kills the encode under way. */
  readonly signal?: AbortSignal;
  /**
   * Encrypt the title (cbcs, keys from `keyProvider`). A title that already exists keeps the
   * protection it was created with, as a replayed upload does in the encoding workflow.
   * @default false
   */
  readonly protection?: boolean;
  /** What the stand-in decided that the caller should show (codecs left out of a protected title). @default - nowhere */
  readonly log?: (line: string) => void;
}

async function uploadDirectory(deps: LocalEncodeDependencies, directory: string, keyPrefix: string): Promise<void> {
  for (const name of fs.readdirSync(directory)) {
    await deps.s3.send(
      new PutObjectCommand({
        Bucket: deps.originBucket,
        Key: `${keyPrefix}${name}`,
        Body: fs.readFileSync(path.join(directory, name)),
        ContentType: CONTENT_TYPES[path.extname(name)] ?? 'application/octet-stream',
      }),
    );
  }
}

/**
 * Encodes a local file, publishes it to the origin and lands it in the catalog, available once its
 * inventory is written: the whole cold path of one title, locally. A file that is not a video ends
 * as a failed title. A protected title is encrypted before it is published (see the module comment).
 */
export async function encodeTitleLocally(deps: LocalEncodeDependencies, request: LocalEncodeRequest): Promise<CatalogTitle> {
  const titleId = titleIdFor(request.source.bucket, request.source.key, request.source.versionId);
  const bytes = fs.statSync(request.file).size;
  const existing = await deps.catalog.get(titleId);
  const encrypted = existing ? existing.protection !== undefined : request.protection === true;
  // Refused before anything is written.
  const codecs = codecsToEncode(titleId, request.codecs ?? ['avc1'], encrypted, request.log);
  if (encrypted && !deps.keyProvider) {
    throw new Error(`title ${titleId} is to be encrypted, and the MediaConvert stand-in was given no key provider`);
  }
  await deps.catalog.putIfAbsent(
    processingTitle(titleId, { ...request.source, bytes }, 'fixed', deps.nowIso(), undefined, encrypted ? { scheme: PROTECTION_SCHEME, keys: [] } : undefined),
  );
  let source: SourceProbe;
  try {
    source = await probeSource(request.file);
  } catch (error) {
    if (error instanceof NotAVideoError) {
      return (await deps.catalog.modify(titleId, (title) => withFailure(title, error.message)))!;
    }
    throw error;
  }
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-encode-'));
  try {
    // As MediaConvert does, before the first segment is written.
    const keys = encrypted ? await requestTitleKeys(deps.keyProvider!, { titleId }) : undefined;
    let title: CatalogTitle | undefined;
    for (const kind of JOBS_BY_MODE.fixed) {
      const outputs: CodecOutputs[] = [];
      const used: UsedKey[] = [];
      for (const codec of CODECS_BY_JOB[kind].filter((c) => codecs.includes(c))) {
        const codecDir = path.join(workDir, codec);
        fs.mkdirSync(codecDir);
        const encoded = await encodeCodec(request.file, source, codec, codecDir, titleId, request.signal);
        if (keys) {
          const encryptedOutputs = await encryptCodecOutputs(codecDir, encoded, keys);
          outputs.push(encryptedOutputs.outputs);
          used.push(...encryptedOutputs.used);
        } else {
          outputs.push(encoded);
        }
        await uploadDirectory(deps, codecDir, codecPrefix(titleId, codec));
      }
      const jobId = `local-ffmpeg-${kind}`;
      title = await deps.catalog.modify(titleId, (current) => {
        const probed = { ...current, encoding: { ...current.encoding!, sourceHeight: source.height } };
        const completed = withJobCompleted(withJobSubmitted(probed, kind, jobId) ?? probed, kind, jobId, outputs, deps.rates);
        return completed.protection ? { ...completed, protection: { ...completed.protection, keys: withKeys(completed.protection.keys, used) } } : completed;
      });
    }
    if (title && inventoryDue(title)) {
      const { s3, originBucket: bucket, digests, catalog, nowIso } = deps;
      title = await new TitleInventoryBuilder({ s3, bucket, digests, catalog, nowIso }).build(titleId);
    }
    return title!;
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

/**
 * The codecs to encode: all asked for, less AV1 for a protected title (said in `log`); refused
 * when a protected title is left with none.
 */
function codecsToEncode(titleId: string, asked: readonly Codec[], encrypted: boolean, log?: (line: string) => void): readonly Codec[] {
  if (!encrypted) {
    return asked;
  }
  const kept = asked.filter((codec) => PROTECTABLE_CODECS.includes(codec));
  const skipped = asked.filter((codec) => !kept.includes(codec));
  if (kept.length === 0) {
    throw new Error(
      `title ${titleId} is protected, and the local packager encrypts ${PROTECTABLE_CODECS.join(' and ')} only, none of ${asked.join(', ')}: ` +
        'add avc1 to the codecs, or upload it in the clear (--protection off)',
    );
  }
  if (skipped.length > 0) {
    log?.(`${skipped.join(', ')} skipped: title ${titleId} is protected, and the local packager cannot encrypt ${skipped.join(', ')} (MediaConvert can); encoding ${kept.join(', ')}`);
  }
  return kept;
}

/** A title's key list with `used` added: one kid per group, the newest winning, in group order (AUDIO, SD, HD, UHD). */
function withKeys(keys: readonly UsedKey[], used: readonly UsedKey[]): UsedKey[] {
  const byGroup = new Map(keys.map((key) => [key.group, key.kid]));
  used.forEach((key) => byGroup.set(key.group, key.kid));
  return KEY_GROUPS.filter((group) => byGroup.has(group)).map((group) => ({ group, kid: byGroup.get(group)! }));
}
