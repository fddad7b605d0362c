import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { COMMON_PSSH_SYSTEM_ID } from '../../lambda/shared/content-protection';
import { CbcsKey, describeTrack, encryptInitSegment, encryptMediaSegment, UnsupportedCodecError } from '../../local/encoder/cmaf-encrypt';
import { EncryptedRepresentation, encryptRenditionDirectory } from '../../local/encoder/encrypt-rendition-directory';
import { encodeCodec, probeSource } from '../../local/encoder/ffmpeg-stand-in';
import { Mp4FormatError } from '../../local/encoder/iso-bmff';

const run = promisify(execFile);

const KEYS: Readonly<Record<'video' | 'audio', CbcsKey>> = {
  video: { kid: '5d1c3a0e7b2f4e8a9c6d0b1a2f3e4d5c', key: Buffer.from('8f3a6c1d2e4b5a69788796a5b4c3d2e1', 'hex'), constantIv: Buffer.from('0a1b2c3d4e5f60718293a4b5c6d7e8f9', 'hex') },
  audio: { kid: 'c0ffee00c0ffee00c0ffee00c0ffee01', key: Buffer.from('00112233445566778899aabbccddeeff', 'hex'), constantIv: Buffer.from('f0e0d0c0b0a090807060504030201000', 'hex') },
};

/** An independent reading of the boxes, so the checks do not rest on the packager's own parser. */
interface RawBox {
  readonly type: string;
  readonly start: number;
  readonly end: number;
  /** Where the payload starts, after the 8-byte header. */
  readonly body: number;
}

function rawBoxes(buffer: Buffer, start = 0, end = buffer.length): RawBox[] {
  const found: RawBox[] = [];
  for (let offset = start; offset < end; ) {
    const size = buffer.readUInt32BE(offset);
    found.push({ type: buffer.toString('latin1', offset + 4, offset + 8), start: offset, end: offset + size, body: offset + 8 });
    offset += size;
  }
  return found;
}

/** The first box down `types`, each looked for inside the previous one; `skips` gives bytes before children. */
function descend(buffer: Buffer, types: readonly string[], skips: Readonly<Record<string, number>> = {}): RawBox {
  let box: RawBox = { type: '', start: 0, end: buffer.length, body: 0 };
  for (const type of types) {
    const next = rawBoxes(buffer, box.body + (skips[box.type] ?? 0), box.end).find((candidate) => candidate.type === type);
    if (!next) {
      throw new Error(`no ${type} in ${box.type || 'file'}`);
    }
    box = next;
  }
  return box;
}

const SAMPLE_ENTRY_PATH = ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd'];
const INIT_SKIPS = { stsd: 8, encv: 78, enca: 28 };

interface TrunSamples {
  readonly count: number;
  readonly dataOffset: number;
  readonly sizes: number[];
}

function readTrun(buffer: Buffer, trun: RawBox, defaultSize: number): TrunSamples {
  const flags = buffer.readUInt32BE(trun.body) & 0xffffff;
  const count = buffer.readUInt32BE(trun.body + 4);
  let at = trun.body + 8;
  const dataOffset = buffer.readInt32BE(at);
  at += 4 + (flags & 0x4 ? 4 : 0);
  const sizes: number[] = [];
  for (let i = 0; i < count; i++) {
    at += flags & 0x100 ? 4 : 0;
    sizes.push(flags & 0x200 ? buffer.readUInt32BE(at) : defaultSize);
    at += (flags & 0x200 ? 4 : 0) + (flags & 0x400 ? 4 : 0) + (flags & 0x800 ? 4 : 0);
  }
  return { count, dataOffset, sizes };
}

/** tfhd's default_sample_size (flags 0x10), after its optional fields. */
function tfhdDefaultSize(buffer: Buffer, tfhd: RawBox): number {
  const flags = buffer.readUInt32BE(tfhd.body) & 0xffffff;
  const at = tfhd.body + 8 + (flags & 0x1 ? 8 : 0) + (flags & 0x2 ? 4 : 0) + (flags & 0x8 ? 4 : 0);
  return flags & 0x10 ? buffer.readUInt32BE(at) : 0;
}

/** senc entries: each sample's subsamples as [clear, protected] pairs (IV size 0). */
function readSenc(buffer: Buffer, senc: RawBox): Array<Array<[number, number]>> {
  const flags = buffer.readUInt32BE(senc.body) & 0xffffff;
  const count = buffer.readUInt32BE(senc.body + 4);
  let at = senc.body + 8;
  const samples: Array<Array<[number, number]>> = [];
  for (let i = 0; i < count; i++) {
    const subsamples: Array<[number, number]> = [];
    if (flags & 0x2) {
      const n = buffer.readUInt16BE(at);
      at += 2;
      for (let j = 0; j < n; j++, at += 6) {
        subsamples.push([buffer.readUInt16BE(at), buffer.readUInt32BE(at + 2)]);
      }
    }
    samples.push(subsamples);
  }
  return samples;
}

describe('the local cbcs packager', () => {
  let workDir: string;
  let clip: string;
  let clearDir: string;
  let protectedDir: string;
  let report: EncryptedRepresentation[];
  let joinedFiles = 0;

  const read = (dir: string, name: string) => fs.readFileSync(path.join(dir, name));
  const filesOf = (dir: string, representation: EncryptedRepresentation) => [representation.initSegment, ...representation.mediaSegments].map((name) => path.join(dir, name));
  const video = () => report.find((representation) => representation.kind === 'video' && representation.height === 360)!;
  const audio = () => report.find((representation) => representation.kind === 'audio')!;

  /** Init and media segments joined into one fragmented MP4, as ffmpeg reads them. */
  function joined(files: readonly string[]): string {
    const file = path.join(workDir, `joined-${joinedFiles++}.mp4`);
    fs.writeFileSync(file, Buffer.concat(files.map((name) => fs.readFileSync(name))));
    return file;
  }

  /** One line per decoded frame (timestamps and an MD5 of the frame), or why ffmpeg failed. */
  async function frameDigests(files: readonly string[], key?: Buffer): Promise<string[]> {
    const args = ['-v', 'error', ...(key ? ['-decryption_key', key.toString('hex')] : []), '-i', joined(files), '-f', 'framemd5', '-'];
    try {
      const { stdout } = await run('ffmpeg', args, { maxBuffer: 64 * 1024 * 1024 });
      return stdout.split('\n').filter((line) => line.length > 0 && !line.startsWith('#'));
    } catch (error) {
      return [`ffmpeg failed: ${(error as { stderr?: string }).stderr ?? String(error)}`];
    }
  }

  beforeAll(async () => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-cbcs-'));
    clip = path.join(workDir, 'clip.mp4');
    execFileSync('ffmpeg', [
      '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', '8', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-shortest', clip,
    ]);
    clearDir = path.join(workDir, 'clear');
    protectedDir = path.join(workDir, 'protected');
    fs.mkdirSync(clearDir);
    // The stand-in's own encode: the same ffmpeg DASH muxer arguments the local platform uses.
    await encodeCodec(clip, await probeSource(clip), 'avc1', clearDir, 'clip-8s');
    fs.cpSync(clearDir, protectedDir, { recursive: true });
    report = await encryptRenditionDirectory(protectedDir, (representation) => KEYS[representation.kind]);
  });

  afterAll(() => {
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('encrypts every representation the MPD lists, video and audio under the different key ids asked for', () => {
    // The ladder's rungs up to 360p, then the audio.
    expect(report.map(({ representationId, kind, kid }) => ({ representationId, kind, kid }))).toEqual([
      { representationId: '0', kind: 'video', kid: KEYS.video.kid },
      { representationId: '1', kind: 'video', kid: KEYS.video.kid },
      { representationId: '2', kind: 'audio', kid: KEYS.audio.kid },
    ]);
    expect(report.map((representation) => representation.height)).toEqual([expect.any(Number), 360, undefined]);
    expect(report.every((representation) => representation.mediaSegments.length === 2 && representation.alreadyProtected.length === 0)).toBe(true);
    for (const representation of report) {
      expect(describeTrack(read(protectedDir, representation.initSegment)).kid).toBe(representation.kid);
      for (const name of representation.mediaSegments) {
        expect(read(protectedDir, name).equals(read(clearDir, name))).toBe(false);
      }
    }
  });

  it('is decrypted by ffmpeg with the key to exactly the frames of the clear encode, video and audio', async () => {
    for (const representation of report) {
      const clear = await frameDigests(filesOf(clearDir, representation));
      const decrypted = await frameDigests(filesOf(protectedDir, representation), KEYS[representation.kind].key);
      expect(clear.length).toBeGreaterThan(100);
      expect(decrypted).toEqual(clear);
    }
  });

  it('does not decode to those frames without the key, nor with the other track\'s key', async () => {
    for (const representation of [video(), audio()]) {
      const clear = await frameDigests(filesOf(clearDir, representation));
      expect(await frameDigests(filesOf(protectedDir, representation))).not.toEqual(clear);
      const otherKey = KEYS[representation.kind === 'video' ? 'audio' : 'video'].key;
      expect(await frameDigests(filesOf(protectedDir, representation), otherKey)).not.toEqual(clear);
    }
  });

  it('signals cbcs in each init segment: encv/enca with frma, schm cbcs 1.0, tenc v1 with the pattern, constant IV and KID, and a common pssh with the key ids', () => {
    for (const [representation, entry, original, pattern] of [
      [video(), 'encv', 'avc1', 0x19],
      [audio(), 'enca', 'mp4a', 0x00],
    ] as const) {
      const init = read(protectedDir, representation.initSegment);
      const key = KEYS[representation.kind];
      const sinf = [...SAMPLE_ENTRY_PATH, entry, 'sinf'];
      const frma = descend(init, [...sinf, 'frma'], INIT_SKIPS);
      expect(init.toString('latin1', frma.body, frma.body + 4)).toBe(original);
      const schm = descend(init, [...sinf, 'schm'], INIT_SKIPS);
      expect(init.toString('latin1', schm.body + 4, schm.body + 8)).toBe('cbcs');
      expect(init.readUInt32BE(schm.body + 8)).toBe(0x00010000);
      const tenc = descend(init, [...sinf, 'schi', 'tenc'], INIT_SKIPS);
      expect(init[tenc.body]).toBe(1); // version
      expect(init[tenc.body + 5]).toBe(pattern); // crypt:skip blocks
      expect(init[tenc.body + 6]).toBe(1); // default_isProtected
      expect(init[tenc.body + 7]).toBe(0); // default_Per_Sample_IV_Size
      expect(init.subarray(tenc.body + 8, tenc.body + 24).toString('hex')).toBe(key.kid);
      expect(init[tenc.body + 24]).toBe(16);
      expect(init.subarray(tenc.body + 25, tenc.body + 41).equals(key.constantIv)).toBe(true);
      expect(tenc.end).toBe(tenc.body + 41);

      const pssh = descend(init, ['moov', 'pssh']);
      expect(init[pssh.body]).toBe(1);
      expect(init.subarray(pssh.body + 4, pssh.body + 20).toString('hex')).toBe(COMMON_PSSH_SYSTEM_ID.replace(/-/g, ''));
      const kidCount = init.readUInt32BE(pssh.body + 20);
      const kids = Array.from({ length: kidCount }, (_, i) => init.subarray(pssh.body + 24 + 16 * i, pssh.body + 40 + 16 * i).toString('hex'));
      expect(kids).toEqual([KEYS.video.kid, KEYS.audio.kid]);
      // Every size up the path was fixed: the file still parses to its end from the top.
      expect(rawBoxes(init).map((box) => box.type)).toEqual(['ftyp', 'moov']);
    }
  });

  it('describes every fragment: senc per trun sample with subsamples covering each sample, saiz/saio at the senc entries, trun data_offset at the mdat payload, sidx sizes of the grown boxes', () => {
    for (const representation of [video(), audio()]) {
      for (const name of representation.mediaSegments) {
        const segment = read(protectedDir, name);
        const top = rawBoxes(segment);
        const moofIndex = top.findIndex((box) => box.type === 'moof');
        const [moof, mdat] = [top[moofIndex], top[moofIndex + 1]];
        expect(mdat.type).toBe('mdat');
        const traf = rawBoxes(segment, moof.body, moof.end).find((box) => box.type === 'traf')!;
        const boxes = rawBoxes(segment, traf.body, traf.end);
        const byType = (type: string) => boxes.find((box) => box.type === type);
        const trun = readTrun(segment, byType('trun')!, tfhdDefaultSize(segment, byType('tfhd')!));
        expect(moof.start + trun.dataOffset).toBe(mdat.body);
        const senc = readSenc(segment, byType('senc')!);
        expect(senc).toHaveLength(trun.count);
        if (representation.kind === 'video') {
          senc.forEach((subsamples, i) => expect(subsamples.reduce((sum, [clear, protectedBytes]) => sum + clear + protectedBytes, 0)).toBe(trun.sizes[i]));
          const saiz = byType('saiz')!;
          expect(segment.readUInt32BE(saiz.body + 5)).toBe(trun.count);
          const saio = byType('saio')!;
          expect(segment.readUInt32BE(saio.body + 4)).toBe(1);
          expect(moof.start + segment.readUInt32BE(saio.body + 8)).toBe(byType('senc')!.body + 8);
        } else {
          expect(senc.every((subsamples) => subsamples.length === 0)).toBe(true);
        }
        const sidx = top.find((box) => box.type === 'sidx')!;
        const wide = segment[sidx.body] === 1 ? 4 : 0; // version 1: 64-bit time and offset
        expect(segment.readUInt32BE(sidx.body + 16 + 2 * wide)).toBe(moof.start - sidx.end); // first_offset
        expect(segment.readUInt32BE(sidx.body + 24 + 2 * wide) & 0x7fffffff).toBe(mdat.end - moof.start);
        expect(top[top.length - 1].end).toBe(segment.length);
      }
    }
  });

  it('leaves each H.264 slice header in the clear and protects the rest of the slice, the header ending where ffmpeg\'s own parser says it does', async () => {
    const representation = video();
    const { stderr } = await run('ffmpeg', ['-hide_banner', '-nostats', '-i', joined(filesOf(clearDir, representation)), '-c', 'copy', '-bsf:v', 'trace_headers', '-f', 'null', '-'], {
      maxBuffer: 256 * 1024 * 1024,
    });
    // trace_headers prints each slice header field with its bit position in the NAL unit.
    const headerBytes: number[] = [];
    let endBit: number | undefined;
    for (const line of stderr.split('\n')) {
      const field = /\]\s+(\d+)\s+(\S+)\s+([01]+) = /.exec(line);
      if (/\] Slice Header$/.test(line) || (!field && endBit !== undefined)) {
        if (endBit !== undefined) {
          headerBytes.push(Math.ceil(endBit / 8));
        }
        endBit = /\] Slice Header$/.test(line) ? 0 : undefined;
      } else if (field && endBit !== undefined && !field[2].startsWith('cabac_alignment')) {
        endBit = Number(field[1]) + field[3].length;
      }
    }
    if (endBit !== undefined) {
      headerBytes.push(Math.ceil(endBit / 8));
    }
    const expected: string[] = [];
    const actual: string[] = [];
    for (const name of representation.mediaSegments) {
      const clear = read(clearDir, name);
      const encrypted = read(protectedDir, name);
      const moof = rawBoxes(clear).find((box) => box.type === 'moof')!;
      const clearTraf = rawBoxes(clear, moof.body, moof.end).find((box) => box.type === 'traf')!;
      const tfhd = rawBoxes(clear, clearTraf.body, clearTraf.end).find((box) => box.type === 'tfhd')!;
      const trun = readTrun(clear, rawBoxes(clear, clearTraf.body, clearTraf.end).find((box) => box.type === 'trun')!, tfhdDefaultSize(clear, tfhd));
      const encryptedMoof = rawBoxes(encrypted).find((box) => box.type === 'moof')!;
      const encryptedTraf = rawBoxes(encrypted, encryptedMoof.body, encryptedMoof.end).find((box) => box.type === 'traf')!;
      const senc = readSenc(encrypted, rawBoxes(encrypted, encryptedTraf.body, encryptedTraf.end).find((box) => box.type === 'senc')!);
      let sampleStart = moof.start + trun.dataOffset;
      trun.sizes.forEach((size, i) => {
        for (let nal = 0; nal < size; nal += 4 + clear.readUInt32BE(sampleStart + nal)) {
          const length = clear.readUInt32BE(sampleStart + nal);
          const type = clear[sampleStart + nal + 4] & 0x1f;
          if (type === 1 || type === 5) {
            expected.push(`sample ${i} protected ${nal + 4 + headerBytes.shift()!}-${nal + 4 + length}`);
          }
        }
        let offset = 0;
        for (const [clearBytes, protectedBytes] of senc[i]) {
          offset += clearBytes;
          if (protectedBytes > 0) {
            actual.push(`sample ${i} protected ${offset}-${offset + protectedBytes}`);
          }
          offset += protectedBytes;
        }
        sampleStart += size;
      });
    }
    expect(expected.length).toBeGreaterThan(100);
    expect(actual).toEqual(expected);
  });

  it('leaves what an earlier run protected alone, and refuses to re-key an init segment already protected under another key id', async () => {
    const again = await encryptRenditionDirectory(protectedDir, (representation) => KEYS[representation.kind]);
    expect(again.every((representation) => representation.alreadyProtected.length === 1 + representation.mediaSegments.length)).toBe(true);
    await expect(encryptRenditionDirectory(protectedDir, () => ({ ...KEYS.audio, kid: 'ffffffffffffffffffffffffffffffff' }))).rejects.toThrow(
      /index_0_init\.m4s: already protected under key id 5d1c3a0e7b2f4e8a9c6d0b1a2f3e4d5c, not ffffffffffffffffffffffffffffffff/,
    );
  });

  describe('malformed input', () => {
    const initName = 'index_1_init.m4s';
    const segmentName = 'index_1_00001.m4s';
    const clearInit = () => read(clearDir, initName);
    const clearSegment = () => read(clearDir, segmentName);
    const track = () => describeTrack(clearInit(), initName);
    /** The bytes with the first `from` four-character code turned into `to`. */
    const renamed = (buffer: Buffer, from: string, to: string) => {
      const copy = Buffer.from(buffer);
      copy.write(to, copy.indexOf(from, 0, 'latin1'), 'latin1');
      return copy;
    };

    it('names the file and the box of a truncated init segment', () => {
      expect(() => encryptInitSegment(clearInit().subarray(0, 400), KEYS.video, { source: initName })).toThrow(
        /^index_1_init\.m4s\/moov: box at byte 28 declares \d+ bytes but only 372 remain \(truncated file\?\)$/,
      );
    });

    it('names the missing moov, the missing trak and the missing sample description', () => {
      expect(() => encryptInitSegment(clearSegment(), KEYS.video, { source: segmentName })).toThrow(`${segmentName}: no 'moov' box; not an init segment`);
      expect(() => encryptInitSegment(renamed(clearInit(), 'trak', 'free'), KEYS.video, { source: initName })).toThrow(
        `${initName}/moov: 0 'trak' boxes; a CMAF init segment carries exactly one track`,
      );
      expect(() => encryptInitSegment(renamed(clearInit(), 'stsd', 'free'), KEYS.video, { source: initName })).toThrow(`${initName}/moov/trak/mdia/minf/stbl: no 'stsd' box in 'stbl'`);
    });

    it('refuses AV1 and unknown codecs by name', () => {
      const av1 = () => encryptInitSegment(renamed(clearInit(), 'avc1', 'av01'), KEYS.video, { source: initName });
      expect(av1).toThrow(UnsupportedCodecError);
      expect(av1).toThrow(/stsd\/av01: AV1 \('av01'\) is not supported by the local cbcs packager: AV1 subsample encryption protects only the tile data/);
      expect(() => encryptMediaSegment(clearSegment(), { ...track(), codec: 'av01' }, KEYS.video, segmentName)).toThrow(/AV1 \('av01'\) is not supported/);
      expect(() => encryptInitSegment(renamed(clearInit(), 'avc1', 'vp09'), KEYS.video, { source: initName })).toThrow(
        /stsd\/vp09: codec 'vp09' is not supported by the local cbcs packager/,
      );
    });

    it('names the box of a truncated media segment and a run that points outside its mdat', () => {
      const segment = clearSegment();
      expect(() => encryptMediaSegment(segment.subarray(0, segment.length - 100), track(), KEYS.video, segmentName)).toThrow(
        /^index_1_00001\.m4s\/mdat: box at byte \d+ declares \d+ bytes but only \d+ remain \(truncated file\?\)$/,
      );
      const moof = rawBoxes(segment).find((box) => box.type === 'moof')!;
      const traf = rawBoxes(segment, moof.body, moof.end).find((box) => box.type === 'traf')!;
      const trun = rawBoxes(segment, traf.body, traf.end).find((box) => box.type === 'trun')!;
      const misplaced = Buffer.from(segment);
      misplaced.writeInt32BE(segment.length, trun.body + 8);
      expect(() => encryptMediaSegment(misplaced, track(), KEYS.video, segmentName)).toThrow(/^index_1_00001\.m4s\/moof@\d+\/traf\/trun: sample 0 at bytes \d+-\d+ lies outside every 'mdat'/);
      const cutTrun = Buffer.from(segment);
      cutTrun.writeUInt32BE(24, trun.start);
      expect(() => encryptMediaSegment(cutTrun, track(), KEYS.video, segmentName)).toThrow(Mp4FormatError);
      expect(() => encryptMediaSegment(cutTrun, track(), KEYS.video, segmentName)).toThrow(/^index_1_00001\.m4s\/moof\/traf\/.*\(truncated file\?\)$/);
    });

    it('refuses a segment that is already protected, and a key that is not 16 bytes', () => {
      expect(() => encryptMediaSegment(read(protectedDir, segmentName), track(), KEYS.video, segmentName)).toThrow(/traf: already carries sample encryption information/);
      expect(() => encryptMediaSegment(clearSegment(), track(), { ...KEYS.video, key: Buffer.alloc(8) }, segmentName)).toThrow('key 5d1c3a0e7b2f4e8a9c6d0b1a2f3e4d5c has 8 bytes; AES-128 needs 16');
    });
  });

  it('encrypts HEVC renditions that ffmpeg decrypts to the frames of the clear encode', async () => {
    const hevcClear = path.join(workDir, 'hevc-clear');
    const hevcProtected = path.join(workDir, 'hevc-protected');
    fs.mkdirSync(hevcClear);
    await encodeCodec(clip, await probeSource(clip), 'hvc1', hevcClear, 'clip-8s');
    fs.cpSync(hevcClear, hevcProtected, { recursive: true });
    const hevc = (await encryptRenditionDirectory(hevcProtected, (representation) => KEYS[representation.kind])).find((representation) => representation.kind === 'video')!;
    expect(describeTrack(read(hevcProtected, hevc.initSegment)).codec).toBe('hvc1');
    const clear = await frameDigests(filesOf(hevcClear, hevc));
    expect(clear.length).toBeGreaterThan(100);
    expect(await frameDigests(filesOf(hevcProtected, hevc), KEYS.video.key)).toEqual(clear);
    expect(await frameDigests(filesOf(hevcProtected, hevc))).not.toEqual(clear);
  });
});
