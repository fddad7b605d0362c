import { COMMON_PSSH_SYSTEM_ID, KID_PATTERN } from '../../lambda/shared/content-protection';
import { AvcSliceHeaderParser } from './avc-slice-header';
import { AUDIO_PATTERN, encryptAudioSample, encryptVideoSample, Subsample, VIDEO_PATTERN, videoSubsamples } from './cbcs-samples';
import { HevcSliceHeaderParser } from './hevc-slice-header';
import { assembleSegment, FragmentPlan, parseTfhd, parseTrun, RewrittenFragment, TFHD_DEFAULT_BASE_IS_MOOF } from './fragment-layout';
import { BoxRange, child, children, fullBoxHeader, leafBox, Mp4Box, Mp4FormatError, parseBox, PayloadReader, readBoxRanges, requireChild, uint16, uint32, uint8, writeBox } from './iso-bmff';
import { BitstreamError, SliceHeaderParser } from './rbsp-reader';

/**
 * LOCAL PACKAGER for the local platform: encrypts the ffmpeg stand-in's CMAF fMP4 renditions with
 * the 'cbcs' scheme of ISO/IEC 23001-7, as MediaConvert's SPEKE cbcs output is: AES-128-CBC with a
 * constant 16-byte IV, a 1:9 pattern over each video slice after its slice header, whole blocks of
 * each audio sample. The init segment signals it (encv/enca, sinf, tenc) and carries a W3C common
 * 'pssh' with the key id for ClearKey players; each fragment carries 'senc', 'saiz' and 'saio'.
 */

export type TrackKind = 'video' | 'audio';

/** The key a track is encrypted under. */
export interface CbcsKey {
  /** 16-byte key id as 32 lowercase hex digits. */
  readonly kid: string;
  /** 16-byte AES-128 key. */
  readonly key: Buffer;
  /** 16-byte constant IV (tenc's default_constant_IV). */
  readonly constantIv: Buffer;
}

/** What encrypting a track's media segments needs to know of it, from its init segment. */
export interface CmafTrack {
  readonly kind: TrackKind;
  /** The clear sample entry's format: avc1, avc3, hvc1, hev1, mp4a. */
  readonly codec: string;
  /** Bytes of each NAL unit's length prefix; 0 for audio. */
  readonly nalLengthSize: number;
  /** @default - any: a fragment's tfhd track_ID is not checked */
  readonly trackId?: number;
  /** The parameter-set NAL units of the avcC/hvcC record. @default [] - only those in the samples */
  readonly parameterSets?: readonly Buffer[];
  /** trex's default_sample_size. @default - a fragment must give its sample sizes */
  readonly defaultSampleSize?: number;
  /** The key id of an init segment that is already protected. */
  readonly kid?: string;
}

/** A codec this packager cannot encrypt correctly, named. */
export class UnsupportedCodecError extends Mp4FormatError {
  constructor(
    readonly codec: string,
    message: string,
  ) {
    super(message);
  }
}

const VIDEO_CODECS = new Set(['avc1', 'avc3', 'hvc1', 'hev1']);
const AUDIO_CODECS = new Set(['mp4a']);
const SENC_USE_SUBSAMPLES = 0x2;
const MAX_AUX_INFO_BYTES = 0xff;

function checkKey(key: Pick<CbcsKey, 'kid' | 'constantIv'> & { key?: Buffer }): void {
  if (!KID_PATTERN.test(key.kid)) {
    throw new TypeError(`key id "${key.kid}" is not 32 lowercase hex digits`);
  }
  if (key.constantIv.length !== 16) {
    throw new TypeError(`constant IV for key ${key.kid} has ${key.constantIv.length} bytes; cbcs here uses 16`);
  }
  if (key.key !== undefined && key.key.length !== 16) {
    throw new TypeError(`key ${key.kid} has ${key.key.length} bytes; AES-128 needs 16`);
  }
}

function topLevel(buffer: Buffer, source: string): BoxRange[] {
  return readBoxRanges(buffer, 0, buffer.length, source);
}

function onlyTrack(moov: Mp4Box, source: string): Mp4Box {
  const traks = children(moov, 'trak');
  if (traks.length !== 1) {
    throw new Mp4FormatError(`${source}/moov: ${traks.length} 'trak' boxes; a CMAF init segment carries exactly one track`);
  }
  return traks[0];
}

function sampleEntryOf(trak: Mp4Box, where: string): { stbl: Mp4Box; stsd: Mp4Box; entry: Mp4Box } {
  const mdia = requireChild(trak, 'mdia', where);
  const minf = requireChild(mdia, 'minf', `${where}/mdia`);
  const stbl = requireChild(minf, 'stbl', `${where}/mdia/minf`);
  const stsd = requireChild(stbl, 'stsd', `${where}/mdia/minf/stbl`);
  const entries = stsd.children ?? [];
  if (entries.length !== 1) {
    throw new Mp4FormatError(`${where}/mdia/minf/stbl/stsd: ${entries.length} sample entries; a CMAF track has exactly one`);
  }
  return { stbl, stsd, entry: entries[0] };
}

function trackIdOf(trak: Mp4Box, where: string): number {
  const tkhd = new PayloadReader(requireChild(trak, 'tkhd', where).head, `${where}/tkhd`);
  const version = tkhd.u8();
  tkhd.skip(3 + (version === 1 ? 16 : 8));
  return tkhd.u32();
}

/** The NAL units of an avcC (ISO/IEC 14496-15 5.3.3.1) or hvcC (8.3.3.1) record, and the length size. */
function decoderConfiguration(entry: Mp4Box, codec: string, where: string): { nalLengthSize: number; parameterSets: Buffer[] } {
  const hevc = codec === 'hvc1' || codec === 'hev1';
  const recordType = hevc ? 'hvcC' : 'avcC';
  const record = new PayloadReader(requireChild(entry, recordType, where).head, `${where}/${recordType}`);
  const parameterSets: Buffer[] = [];
  let nalLengthSize: number;
  if (hevc) {
    record.skip(21);
    nalLengthSize = (record.u8() & 3) + 1;
    const arrays = record.u8();
    for (let i = 0; i < arrays; i++) {
      record.u8(); // array_completeness, NAL_unit_type
      const count = record.u16();
      for (let j = 0; j < count; j++) {
        parameterSets.push(record.bytes(record.u16()));
      }
    }
  } else {
    record.skip(4);
    nalLengthSize = (record.u8() & 3) + 1;
    const spsCount = record.u8() & 0x1f;
    for (let i = 0; i < spsCount; i++) {
      parameterSets.push(record.bytes(record.u16()));
    }
    const ppsCount = record.u8();
    for (let i = 0; i < ppsCount; i++) {
      parameterSets.push(record.bytes(record.u16()));
    }
  }
  if (nalLengthSize === 3) {
    throw new Mp4FormatError(`${where}/${recordType}: a 3-byte NAL unit length is not allowed`);
  }
  return { nalLengthSize, parameterSets };
}

function kindOf(codec: string, where: string): TrackKind {
  if (VIDEO_CODECS.has(codec)) {
    return 'video';
  }
  if (AUDIO_CODECS.has(codec)) {
    return 'audio';
  }
  if (codec === 'av01') {
    throw new UnsupportedCodecError(
      codec,
      `${where}: AV1 ('av01') is not supported by the local cbcs packager: AV1 subsample encryption protects only the tile data of each OBU (AV1-ISOBMFF 4.6), which needs a full AV1 frame-header parser this packager does not have`,
    );
  }
  throw new UnsupportedCodecError(codec, `${where}: codec '${codec}' is not supported by the local cbcs packager (video: ${[...VIDEO_CODECS].join(', ')}; audio: ${[...AUDIO_CODECS].join(', ')})`);
}

/** The tenc of a protected sample entry, its KID. */
function protectedKid(entry: Mp4Box, where: string): { codec: string; kid: string } {
  const sinf = requireChild(entry, 'sinf', where);
  const codec = requireChild(sinf, 'frma', `${where}/sinf`).head.toString('latin1', 0, 4);
  const tenc = new PayloadReader(requireChild(requireChild(sinf, 'schi', `${where}/sinf`), 'tenc', `${where}/sinf/schi`).head, `${where}/sinf/schi/tenc`);
  tenc.skip(8);
  return { codec, kid: tenc.bytes(16).toString('hex') };
}

/** The track an init segment describes, clear or already protected. `source` names it in errors. */
export function describeTrack(init: Buffer, source = 'init segment'): CmafTrack {
  const moovRange = topLevel(init, source).find((box) => box.type === 'moov');
  if (!moovRange) {
    throw new Mp4FormatError(`${source}: no 'moov' box; not an init segment`);
  }
  const moov = parseBox(init, moovRange, source);
  const trak = onlyTrack(moov, source);
  const where = `${source}/moov/trak`;
  const trackId = trackIdOf(trak, where);
  const { entry } = sampleEntryOf(trak, where);
  const entryWhere = `${where}/mdia/minf/stbl/stsd/${entry.type}`;
  const isProtected = entry.type === 'encv' || entry.type === 'enca';
  const { codec, kid } = isProtected ? protectedKid(entry, entryWhere) : { codec: entry.type, kid: undefined };
  const kind = kindOf(codec, entryWhere);
  // trex: version/flags, track_ID, default_sample_description_index, _duration, _size, _flags.
  const trex = children(requireChild(moov, 'mvex', `${source}/moov`), 'trex').find((box) => box.head.length >= 24 && box.head.readUInt32BE(4) === trackId);
  const defaultSampleSize = trex?.head.readUInt32BE(16) || undefined;
  const configuration = kind === 'video' ? decoderConfiguration(entry, codec, entryWhere) : { nalLengthSize: 0, parameterSets: [] };
  return { kind, codec, trackId, defaultSampleSize, kid, ...configuration };
}

/** A version 1 'pssh' under the W3C common system id, listing key ids: what ClearKey players read. */
function commonPsshBox(kids: readonly string[]): Mp4Box {
  const systemId = Buffer.from(COMMON_PSSH_SYSTEM_ID.replace(/-/g, ''), 'hex');
  return leafBox('pssh', fullBoxHeader(1, 0), systemId, uint32(kids.length), ...kids.map((kid) => Buffer.from(kid, 'hex')), uint32(0));
}

function protectionSchemeInfo(originalFormat: string, kind: TrackKind, key: Pick<CbcsKey, 'kid' | 'constantIv'>): Mp4Box {
  const pattern = kind === 'video' ? VIDEO_PATTERN : AUDIO_PATTERN;
  const tenc = leafBox(
    'tenc',
    fullBoxHeader(1, 0),
    uint8(0),
    uint8((pattern.cryptBlocks << 4) | pattern.skipBlocks),
    uint8(1), // default_isProtected
    uint8(0), // default_Per_Sample_IV_Size: the IV is constant
    Buffer.from(key.kid, 'hex'),
    uint8(key.constantIv.length),
    key.constantIv,
  );
  return {
    type: 'sinf',
    head: Buffer.alloc(0),
    children: [
      leafBox('frma', Buffer.from(originalFormat, 'latin1')),
      leafBox('schm', fullBoxHeader(0, 0), Buffer.from('cbcs', 'latin1'), uint32(0x00010000)),
      { type: 'schi', head: Buffer.alloc(0), children: [tenc] },
    ],
  };
}

function requireEmptySampleTable(stbl: Mp4Box, where: string): void {
  const stsz = child(stbl, 'stsz');
  if (stsz && stsz.head.length >= 12 && stsz.head.readUInt32BE(8) !== 0) {
    throw new Mp4FormatError(`${where}/stsz: ${stsz.head.readUInt32BE(8)} samples in the movie box; a CMAF init segment has none (its samples are in fragments)`);
  }
}

export interface InitEncryptionOptions {
  /**
   * Key ids the init segment's common 'pssh' lists. @default [key.kid] - a title whose tracks use
   * several keys can list them all, so one ClearKey request fetches every key of the title.
   */
  readonly psshKids?: readonly string[];
  /** Names the input in errors. @default 'init segment' */
  readonly source?: string;
}

/**
 * The init segment with its sample entry turned into encv/enca carrying 'sinf' (frma, schm 'cbcs'
 * 1.0, tenc v1 with the pattern, the constant IV and the KID) and a common 'pssh' in 'moov'.
 */
export function encryptInitSegment(init: Buffer, key: Pick<CbcsKey, 'kid' | 'constantIv'>, options: InitEncryptionOptions = {}): Buffer {
  checkKey(key);
  const source = options.source ?? 'init segment';
  const ranges = topLevel(init, source);
  const moovRange = ranges.find((box) => box.type === 'moov');
  if (!moovRange) {
    throw new Mp4FormatError(`${source}: no 'moov' box; not an init segment`);
  }
  const moov = parseBox(init, moovRange, source);
  const trak = onlyTrack(moov, source);
  const where = `${source}/moov/trak`;
  const { stbl, stsd, entry } = sampleEntryOf(trak, where);
  const entryWhere = `${where}/mdia/minf/stbl/stsd/${entry.type}`;
  if (entry.type === 'encv' || entry.type === 'enca') {
    throw new Mp4FormatError(`${entryWhere}: the track is already protected (key id ${protectedKid(entry, entryWhere).kid})`);
  }
  const kind = kindOf(entry.type, entryWhere);
  requireEmptySampleTable(stbl, `${where}/mdia/minf/stbl`);
  const psshKids = options.psshKids ?? [key.kid];
  for (const kid of psshKids) {
    checkKey({ kid, constantIv: key.constantIv });
  }
  stsd.children = [
    {
      type: kind === 'video' ? 'encv' : 'enca',
      head: entry.head,
      children: [...(entry.children ?? []), protectionSchemeInfo(entry.type, kind, key)],
    },
  ];
  moov.children = [...(moov.children ?? []), commonPsshBox(psshKids)];
  return Buffer.concat(ranges.map((range) => (range === moovRange ? writeBox(moov) : init.subarray(range.start, range.end))));
}

function auxiliaryInfoBoxes(kind: TrackKind, subsamples: readonly Subsample[][]): Mp4Box[] {
  const sampleCount = uint32(subsamples.length);
  if (kind === 'audio') {
    // Constant IV and no subsamples leave each sample's auxiliary information empty, which ISO/IEC
    // 23001-7 says "should be omitted": no saiz/saio, as shaka-packager writes it; senc keeps the count.
    return [leafBox('senc', fullBoxHeader(0, 0), sampleCount)];
  }
  const entries = subsamples.map((list) => Buffer.concat([uint16(list.length), ...list.flatMap((s) => [uint16(s.clearBytes), uint32(s.protectedBytes)])]));
  const sizes = entries.map((entry) => entry.length);
  const uniform = sizes.every((size) => size === sizes[0]);
  return [
    leafBox('saiz', fullBoxHeader(0, 0), uint8(uniform && sizes.length > 0 ? sizes[0] : 0), sampleCount, ...(uniform ? [] : [Buffer.from(sizes)])),
    leafBox('saio', fullBoxHeader(0, 0), uint32(1), uint32(0)),
    leafBox('senc', fullBoxHeader(0, SENC_USE_SUBSAMPLES), sampleCount, ...entries),
  ];
}

function sliceHeaderParser(track: CmafTrack, source: string): SliceHeaderParser {
  const parameterSets = track.parameterSets ?? [];
  try {
    return track.codec === 'hvc1' || track.codec === 'hev1' ? new HevcSliceHeaderParser(parameterSets) : new AvcSliceHeaderParser(parameterSets);
  } catch (error) {
    throw error instanceof BitstreamError ? new Mp4FormatError(`${source}: the init segment's ${track.codec} parameter sets: ${error.message}`) : error;
  }
}

/** True when the segment's fragments already carry sample encryption information. */
export function isProtectedSegment(segment: Buffer, source = 'media segment'): boolean {
  return topLevel(segment, source)
    .filter((range) => range.type === 'moof')
    .some((range) => children(parseBox(segment, range, source), 'traf').some((traf) => child(traf, 'senc') !== undefined));
}

/** One sample encrypted in place; returns its subsamples (none for audio, encrypted whole). */
function encryptSample(sample: Buffer, track: CmafTrack, parser: SliceHeaderParser | undefined, key: CbcsKey, where: string): Subsample[] {
  if (!parser) {
    encryptAudioSample(sample, key);
    return [];
  }
  let subsamples: Subsample[];
  try {
    subsamples = videoSubsamples(sample, track.nalLengthSize, parser);
  } catch (error) {
    throw error instanceof BitstreamError ? new Mp4FormatError(`${where} (${track.codec}): ${error.message}`) : error;
  }
  if (2 + 6 * subsamples.length > MAX_AUX_INFO_BYTES) {
    throw new Mp4FormatError(`${where}: ${subsamples.length} subsamples; saiz cannot describe more than ${Math.floor((MAX_AUX_INFO_BYTES - 2) / 6)}`);
  }
  encryptVideoSample(sample, subsamples, key);
  return subsamples;
}

/**
 * The media segment with every sample encrypted under `key` and each fragment describing it:
 * senc (subsamples for video; no per-sample IVs), saiz and saio for video, trun data offsets
 * moved by the fragment's growth, and any sidx's referenced sizes corrected.
 */
export function encryptMediaSegment(segment: Buffer, track: CmafTrack, key: CbcsKey, source = 'media segment'): Buffer {
  checkKey(key);
  if (kindOf(track.codec, source) !== track.kind) {
    throw new TypeError(`${source}: codec '${track.codec}' is not ${track.kind}`);
  }
  const ranges = topLevel(segment, source);
  const mdats = ranges.filter((range) => range.type === 'mdat');
  const encrypted = Buffer.from(segment);
  const parser = track.kind === 'video' ? sliceHeaderParser(track, source) : undefined;
  const rewritten = new Map<BoxRange, RewrittenFragment>();

  for (const range of ranges.filter((box) => box.type === 'moof')) {
    const moof = parseBox(segment, range, source);
    const plans: FragmentPlan[] = [];
    children(moof, 'traf').forEach((traf, trafNumber) => {
      const where = `${source}/moof@${range.start}/traf`;
      const tfhd = parseTfhd(requireChild(traf, 'tfhd', where), `${where}/tfhd`);
      if (track.trackId !== undefined && tfhd.trackId !== track.trackId) {
        throw new Mp4FormatError(`${where}/tfhd: fragment of track ${tfhd.trackId}, but the init segment describes track ${track.trackId}`);
      }
      if (child(traf, 'senc') || child(traf, 'saiz')) {
        throw new Mp4FormatError(`${where}: already carries sample encryption information ('senc'/'saiz'); the segment is already protected`);
      }
      if (tfhd.base === undefined && !(tfhd.flags & TFHD_DEFAULT_BASE_IS_MOOF) && trafNumber > 0) {
        throw new Mp4FormatError(`${where}/tfhd: a second track fragment without default-base-is-moof; this packager needs each run's data offset relative to the moof`);
      }
      const base = tfhd.base ?? range.start;
      const runs: { index: number; firstSample: number }[] = [];
      const subsamples: Subsample[][] = [];
      (traf.children ?? []).forEach((box, index) => {
        if (box.type !== 'trun') {
          return;
        }
        const { dataOffset, sizes } = parseTrun(box, `${where}/trun`, tfhd.defaultSampleSize ?? track.defaultSampleSize);
        let start = base + dataOffset;
        runs.push({ index, firstSample: start });
        sizes.forEach((size, i) => {
          const sampleWhere = `${where}/trun: sample ${i} at bytes ${start}-${start + size}`;
          if (!mdats.some((mdat) => start >= mdat.start + mdat.headerSize && start + size <= mdat.end)) {
            throw new Mp4FormatError(`${sampleWhere} lies outside every 'mdat' (truncated file?)`);
          }
          subsamples.push(encryptSample(encrypted.subarray(start, start + size), track, parser, key, sampleWhere));
          start += size;
        });
      });
      traf.children = [...(traf.children ?? []), ...auxiliaryInfoBoxes(track.kind, subsamples)];
      plans.push({ explicitBase: tfhd.base, runs });
    });
    rewritten.set(range, { moof, plans });
  }
  return assembleSegment(encrypted, ranges, rewritten, source);
}
