/**
 * Just enough ISO BMFF (ISO/IEC 14496-12) for a packager: boxes read as a tree that can be edited
 * and written back with every enclosing size recomputed. A box the tree does not open stays as its
 * bytes, so whatever this module does not understand passes through untouched.
 */

/** A malformed or unsupported MP4 file: the message names the file, the box path and the rule. */
export class Mp4FormatError extends Error {}

export interface Mp4Box {
  readonly type: string;
  /**
   * For a container, the bytes between its header and its first child (a full box's version and
   * flags, a sample entry's fixed fields); for a leaf, its whole payload.
   */
  head: Buffer;
  /** Present for the containers the tree opens. */
  children?: Mp4Box[];
}

/** A top-level box as a byte range of its file. */
export interface BoxRange {
  readonly type: string;
  readonly start: number;
  readonly headerSize: number;
  readonly end: number;
}

const PLAIN_CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'mvex', 'moof', 'traf', 'sinf', 'schi', 'dinf', 'edts']);
const VISUAL_SAMPLE_ENTRY_FIELDS = 78;
const AUDIO_SAMPLE_ENTRY_FIELDS = 28;
const VIDEO_SAMPLE_ENTRIES = new Set(['avc1', 'avc3', 'hvc1', 'hev1', 'av01', 'vp09', 'encv']);
const AUDIO_SAMPLE_ENTRIES = new Set(['mp4a', 'ac-3', 'ec-3', 'Opus', 'fLaC', 'enca']);

/** Bytes between the header and the children of a container the tree opens; undefined for a leaf. */
function containerHeadSize(type: string, payload: Buffer, where: string): number | undefined {
  if (PLAIN_CONTAINERS.has(type)) {
    return 0;
  }
  if (type === 'stsd') {
    return 8;
  }
  if (VIDEO_SAMPLE_ENTRIES.has(type)) {
    return VISUAL_SAMPLE_ENTRY_FIELDS;
  }
  if (AUDIO_SAMPLE_ENTRIES.has(type)) {
    const version = payload.length >= 10 ? payload.readUInt16BE(8) : 0;
    if (version !== 0) {
      throw new Mp4FormatError(`${where}: audio sample entry version ${version} (QuickTime layout) is not supported; an ISO BMFF file carries version 0`);
    }
    return AUDIO_SAMPLE_ENTRY_FIELDS;
  }
  return undefined;
}

/** The boxes laid end to end in `buffer[start, end)`, each checked to fit. */
export function readBoxRanges(buffer: Buffer, start: number, end: number, where: string): BoxRange[] {
  const boxes: BoxRange[] = [];
  let offset = start;
  while (offset < end) {
    if (end - offset < 8) {
      throw new Mp4FormatError(`${where}: ${end - offset} stray byte(s) at byte ${offset}, too few for a box header (truncated file?)`);
    }
    let size = buffer.readUInt32BE(offset);
    const type = buffer.toString('latin1', offset + 4, offset + 8);
    let headerSize = 8;
    if (size === 1) {
      if (end - offset < 16) {
        throw new Mp4FormatError(`${where}/${type}: box at byte ${offset} is truncated inside its 64-bit size`);
      }
      const large = buffer.readBigUInt64BE(offset + 8);
      if (large > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new Mp4FormatError(`${where}/${type}: box at byte ${offset} declares ${large} bytes`);
      }
      size = Number(large);
      headerSize = 16;
    } else if (size === 0) {
      size = end - offset;
    }
    if (size < headerSize) {
      throw new Mp4FormatError(`${where}/${type}: box at byte ${offset} declares ${size} bytes, less than its own header`);
    }
    if (offset + size > end) {
      throw new Mp4FormatError(`${where}/${type}: box at byte ${offset} declares ${size} bytes but only ${end - offset} remain (truncated file?)`);
    }
    boxes.push({ type, start: offset, headerSize, end: offset + size });
    offset += size;
  }
  return boxes;
}

/** Reads `buffer[range]` as a tree, opening the containers this module knows. */
export function parseBox(buffer: Buffer, range: BoxRange, where: string): Mp4Box {
  const path = `${where}/${range.type}`;
  const payload = buffer.subarray(range.start + range.headerSize, range.end);
  const headSize = containerHeadSize(range.type, payload, path);
  if (headSize === undefined) {
    return { type: range.type, head: payload };
  }
  if (payload.length < headSize) {
    throw new Mp4FormatError(`${path}: ${payload.length} bytes, too short for its ${headSize} bytes of fields`);
  }
  const childStart = range.start + range.headerSize + headSize;
  return {
    type: range.type,
    head: payload.subarray(0, headSize),
    children: readBoxRanges(buffer, childStart, range.end, path).map((child) => parseBox(buffer, child, path)),
  };
}

/** The box's bytes with every size, its own and its descendants', computed from its content. */
export function writeBox(box: Mp4Box): Buffer {
  const body = box.children ? Buffer.concat([box.head, ...box.children.map(writeBox)]) : box.head;
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + body.length);
  header.write(box.type, 4, 4, 'latin1');
  return Buffer.concat([header, body]);
}

export function leafBox(type: string, ...parts: Buffer[]): Mp4Box {
  return { type, head: Buffer.concat(parts) };
}

/** A full box's version and flags. */
export function fullBoxHeader(version: number, flags: number): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(((version & 0xff) << 24) | (flags & 0xffffff));
  return header;
}

export function uint8(value: number): Buffer {
  return Buffer.from([value]);
}

export function uint16(value: number): Buffer {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16BE(value);
  return bytes;
}

export function uint32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
}

export function children(box: Mp4Box, type: string): Mp4Box[] {
  return (box.children ?? []).filter((child) => child.type === type);
}

export function child(box: Mp4Box, type: string): Mp4Box | undefined {
  return box.children?.find((candidate) => candidate.type === type);
}

export function requireChild(box: Mp4Box, type: string, where: string): Mp4Box {
  const found = child(box, type);
  if (!found) {
    throw new Mp4FormatError(`${where}: no '${type}' box in '${box.type}'`);
  }
  return found;
}

/** A full box's payload read field by field, every read checked against its end. */
export class PayloadReader {
  offset = 0;

  constructor(
    private readonly payload: Buffer,
    private readonly where: string,
  ) {}

  private need(bytes: number): number {
    if (this.offset + bytes > this.payload.length) {
      throw new Mp4FormatError(`${this.where}: box ends after ${this.payload.length} bytes, before the field at byte ${this.offset} (truncated box)`);
    }
    const at = this.offset;
    this.offset += bytes;
    return at;
  }

  u8(): number {
    return this.payload.readUInt8(this.need(1));
  }

  u16(): number {
    return this.payload.readUInt16BE(this.need(2));
  }

  u24(): number {
    const at = this.need(3);
    return (this.payload[at] << 16) | this.payload.readUInt16BE(at + 1);
  }

  u32(): number {
    return this.payload.readUInt32BE(this.need(4));
  }

  i32(): number {
    return this.payload.readInt32BE(this.need(4));
  }

  u64(): number {
    const value = this.payload.readBigUInt64BE(this.need(8));
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new Mp4FormatError(`${this.where}: 64-bit field at byte ${this.offset - 8} is beyond ${Number.MAX_SAFE_INTEGER}`);
    }
    return Number(value);
  }

  bytes(length: number): Buffer {
    const at = this.need(length);
    return this.payload.subarray(at, at + length);
  }

  skip(length: number): void {
    this.need(length);
  }
}
