import { BoxRange, Mp4Box, Mp4FormatError, PayloadReader, readBoxRanges, writeBox } from './iso-bmff';

/**
 * Where a movie fragment's samples are (tfhd, trun), and the offsets that must follow when a
 * fragment grows: each trun's data_offset, each saio's offset to its senc, each sidx's sizes.
 */

const TFHD_BASE_DATA_OFFSET = 0x1;
const TFHD_SAMPLE_DESCRIPTION_INDEX = 0x2;
const TFHD_DEFAULT_DURATION = 0x8;
const TFHD_DEFAULT_SIZE = 0x10;
const TFHD_DEFAULT_FLAGS = 0x20;
export const TFHD_DEFAULT_BASE_IS_MOOF = 0x20000;
const TRUN_DATA_OFFSET = 0x1;
const TRUN_FIRST_SAMPLE_FLAGS = 0x4;
const TRUN_DURATION = 0x100;
const TRUN_SIZE = 0x200;
const TRUN_FLAGS = 0x400;
const TRUN_COMPOSITION_OFFSET = 0x800;
/** A full box's header and version/flags, then trun's sample_count: where data_offset sits. */
const TRUN_DATA_OFFSET_AT = 16;
/** saio's header, version/flags and entry_count: where its one offset sits. */
const SAIO_OFFSET_AT = 16;
/** senc's header, version/flags and sample_count: where the first sample's entry starts. */
const SENC_ENTRIES_AT = 16;

export interface TrackFragmentHeader {
  readonly trackId: number;
  readonly flags: number;
  /** base_data_offset, when tfhd carries one. */
  readonly base?: number;
  readonly defaultSampleSize?: number;
}

export function parseTfhd(tfhd: Mp4Box, where: string): TrackFragmentHeader {
  const reader = new PayloadReader(tfhd.head, where);
  const flags = reader.u32() & 0xffffff;
  const trackId = reader.u32();
  const base = flags & TFHD_BASE_DATA_OFFSET ? reader.u64() : undefined;
  reader.skip((flags & TFHD_SAMPLE_DESCRIPTION_INDEX ? 4 : 0) + (flags & TFHD_DEFAULT_DURATION ? 4 : 0));
  const defaultSampleSize = flags & TFHD_DEFAULT_SIZE ? reader.u32() : undefined;
  reader.skip(flags & TFHD_DEFAULT_FLAGS ? 4 : 0);
  return { trackId, flags, base, defaultSampleSize };
}

/** A run's data_offset and sample sizes; `defaultSize` from tfhd or trex when the run has none. */
export function parseTrun(trun: Mp4Box, where: string, defaultSize: number | undefined): { dataOffset: number; sizes: number[] } {
  const reader = new PayloadReader(trun.head, where);
  const flags = reader.u32() & 0xffffff;
  const count = reader.u32();
  if (!(flags & TRUN_DATA_OFFSET)) {
    throw new Mp4FormatError(`${where}: no data_offset; this packager needs each run to say where its samples are`);
  }
  const dataOffset = reader.i32();
  reader.skip(flags & TRUN_FIRST_SAMPLE_FLAGS ? 4 : 0);
  const sizes: number[] = [];
  for (let i = 0; i < count; i++) {
    reader.skip(flags & TRUN_DURATION ? 4 : 0);
    const size = flags & TRUN_SIZE ? reader.u32() : defaultSize;
    if (size === undefined) {
      throw new Mp4FormatError(`${where}: sample ${i} has no size in trun, tfhd or the init segment's trex`);
    }
    sizes.push(size);
    reader.skip((flags & TRUN_FLAGS ? 4 : 0) + (flags & TRUN_COMPOSITION_OFFSET ? 4 : 0));
  }
  return { dataOffset, sizes };
}

/** What moving a rewritten traf's runs needs: its base, and where each run's first sample was. */
export interface FragmentPlan {
  /** tfhd's base_data_offset; otherwise runs are relative to the moof. */
  readonly explicitBase?: number;
  /** Each trun by its position among the traf's children, and its first sample's old offset. */
  readonly runs: readonly { readonly index: number; readonly firstSample: number }[];
}

export interface RewrittenFragment {
  /** The moof with its trafs extended; trun and saio offsets are fixed once its place is known. */
  readonly moof: Mp4Box;
  /** One per traf, in order. */
  readonly plans: readonly FragmentPlan[];
}

/**
 * The segment with each rewritten moof in place of the old one, every other top-level box as its
 * (already encrypted) bytes in `segment`, and every offset that pointed across a grown box fixed.
 */
export function assembleSegment(segment: Buffer, ranges: readonly BoxRange[], rewritten: ReadonlyMap<BoxRange, RewrittenFragment>, source: string): Buffer {
  const parts = ranges.map((range) => {
    const fragment = rewritten.get(range);
    return fragment ? writeBox(fragment.moof) : segment.subarray(range.start, range.end);
  });
  const newStarts: number[] = [];
  parts.reduce((offset, part) => (newStarts.push(offset), offset + part.length), 0);
  const result = Buffer.concat(parts);
  const relocate = (offset: number): number => {
    const i = ranges.findIndex((range) => offset >= range.start && offset < range.end);
    return newStarts[i] + (offset - ranges[i].start);
  };
  const boundary = (offset: number, where: string): number => {
    const i = ranges.findIndex((range) => range.start === offset);
    if (i < 0 && offset !== segment.length) {
      throw new Mp4FormatError(`${where}: a referenced range ends at byte ${offset}, which is not the start of a top-level box`);
    }
    return i < 0 ? result.length : newStarts[i];
  };
  ranges.forEach((range, i) => {
    const fragment = rewritten.get(range);
    if (fragment) {
      patchFragmentOffsets(result, newStarts[i], fragment.plans, relocate, `${source}/moof@${range.start}`);
    } else if (range.type === 'sidx') {
      patchSegmentIndex(result, newStarts[i], range, boundary, `${source}/sidx`);
    }
  });
  return result;
}

/** trun data offsets and saio offsets, now that the moof's place and the mdat's are known. */
function patchFragmentOffsets(result: Buffer, moofStart: number, plans: readonly FragmentPlan[], relocate: (offset: number) => number, where: string): void {
  const moofEnd = moofStart + result.readUInt32BE(moofStart);
  const trafs = readBoxRanges(result, moofStart + 8, moofEnd, where).filter((box) => box.type === 'traf');
  trafs.forEach((traf, t) => {
    const base = plans[t].explicitBase ?? moofStart;
    const boxes = readBoxRanges(result, traf.start + 8, traf.end, `${where}/traf`);
    for (const run of plans[t].runs) {
      const dataOffset = relocate(run.firstSample) - base;
      if (dataOffset > 0x7fffffff || dataOffset < -0x80000000) {
        throw new Mp4FormatError(`${where}/traf/trun: the new data_offset ${dataOffset} does not fit 32 bits`);
      }
      result.writeInt32BE(dataOffset, boxes[run.index].start + TRUN_DATA_OFFSET_AT);
    }
    const senc = boxes.find((box) => box.type === 'senc');
    const saio = boxes.find((box) => box.type === 'saio');
    if (senc && saio) {
      const offset = senc.start + SENC_ENTRIES_AT - base;
      if (offset < 0 || offset > 0xffffffff) {
        throw new Mp4FormatError(`${where}/traf/saio: offset ${offset} does not fit 32 bits`);
      }
      result.writeUInt32BE(offset, saio.start + SAIO_OFFSET_AT);
    }
  });
}

/** A sidx's first_offset and referenced sizes, for the boxes it indexes having grown. */
function patchSegmentIndex(result: Buffer, newStart: number, old: BoxRange, boundary: (offset: number, where: string) => number, where: string): void {
  const newEnd = newStart + (old.end - old.start);
  const payloadStart = newStart + old.headerSize;
  const reader = new PayloadReader(result.subarray(payloadStart, newEnd), where);
  const version = reader.u8();
  reader.skip(3 + 4 + 4 + (version === 0 ? 4 : 8)); // flags, reference_ID, timescale, earliest_presentation_time
  const firstOffsetAt = payloadStart + reader.offset;
  let oldStart = old.end + (version === 0 ? reader.u32() : reader.u64());
  reader.skip(2);
  const count = reader.u16();
  const newFirstOffset = boundary(oldStart, where) - newEnd;
  if (version === 0) {
    result.writeUInt32BE(newFirstOffset, firstOffsetAt);
  } else {
    result.writeBigUInt64BE(BigInt(newFirstOffset), firstOffsetAt);
  }
  for (let i = 0; i < count; i++) {
    const referenceAt = payloadStart + reader.offset;
    const word = reader.u32();
    reader.skip(8); // subsegment_duration, SAP fields
    const oldSize = word & 0x7fffffff;
    const newSize = boundary(oldStart + oldSize, where) - boundary(oldStart, where);
    if (newSize > 0x7fffffff) {
      throw new Mp4FormatError(`${where}: reference ${i} grows to ${newSize} bytes, beyond 31 bits`);
    }
    result.writeUInt32BE(((word & 0x80000000) | newSize) >>> 0, referenceAt);
    oldStart += oldSize;
  }
}
