import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Reads protected CMAF the way a test should: boxes walked by hand (not through the packager's own
 * parser), segments decoded by ffmpeg.
 */

interface Box {
  readonly type: string;
  readonly start: number;
  readonly body: number;
  readonly end: number;
}

function boxes(buffer: Buffer, start: number, end: number): Box[] {
  const found: Box[] = [];
  for (let at = start; at + 8 <= end; ) {
    const size = buffer.readUInt32BE(at);
    if (size < 8 || at + size > end) {
      break;
    }
    found.push({ type: buffer.toString('latin1', at + 4, at + 8), start: at, body: at + 8, end: at + size });
    at += size;
  }
  return found;
}

/** Bytes between a sample entry's header and its child boxes: visual 78, audio 28 (ISO/IEC 14496-12). */
const SAMPLE_ENTRY_FIELDS: Readonly<Record<string, number>> = { encv: 78, avc1: 78, hvc1: 78, av01: 78, enca: 28, mp4a: 28 };

export interface InitProtection {
  /** `encv`/`enca` when protected, else the clear format. */
  readonly sampleEntry: string;
  /** schm's scheme type: `cbcs`, `cenc`. */
  readonly scheme?: string;
  /** tenc's default key id, 32 hex digits. */
  readonly kid?: string;
}

/** The sample entry of an init segment's one track, and its protection scheme and key id if any. */
export function initProtection(init: Buffer): InitProtection {
  let level = boxes(init, 0, init.length);
  for (const type of ['moov', 'trak', 'mdia', 'minf', 'stbl']) {
    const box = level.find((candidate) => candidate.type === type);
    if (!box) {
      throw new Error(`init segment: no '${type}' box on the path to stsd`);
    }
    level = boxes(init, box.body, box.end);
  }
  const stsd = level.find((box) => box.type === 'stsd');
  if (!stsd) {
    throw new Error("init segment: no 'stsd' box");
  }
  const [entry] = boxes(init, stsd.body + 8, stsd.end);
  const sinf = boxes(init, entry.body + (SAMPLE_ENTRY_FIELDS[entry.type] ?? 0), entry.end).find((box) => box.type === 'sinf');
  if (!sinf) {
    return { sampleEntry: entry.type };
  }
  const inSinf = boxes(init, sinf.body, sinf.end);
  const schm = inSinf.find((box) => box.type === 'schm');
  const schi = inSinf.find((box) => box.type === 'schi');
  const tenc = schi && boxes(init, schi.body, schi.end).find((box) => box.type === 'tenc');
  return {
    sampleEntry: entry.type,
    ...(schm ? { scheme: init.toString('latin1', schm.body + 4, schm.body + 8) } : {}),
    ...(tenc ? { kid: init.subarray(tenc.body + 8, tenc.body + 24).toString('hex') } : {}),
  };
}

export interface DecodedFrames {
  /** Exit 0 with nothing on stderr: every frame decoded without a decoder error. */
  readonly clean: boolean;
  /** One MD5 per frame. */
  readonly frames: readonly string[];
}

/** ffmpeg's decode of `init` + `segment` (with `key` as -decryption_key when given), frame by frame. */
export async function decodeFrames(init: Buffer, segment: Buffer, key?: Buffer): Promise<DecodedFrames> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-decode-'));
  const file = path.join(dir, 'joined.mp4');
  fs.writeFileSync(file, Buffer.concat([init, segment]));
  try {
    return await new Promise((resolve) => {
      const args = ['-nostdin', '-v', 'error', ...(key ? ['-decryption_key', key.toString('hex')] : []), '-i', file, '-f', 'framemd5', '-'];
      execFile('ffmpeg', args, { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
        const frames = stdout.split('\n').filter((line) => line.length > 0 && !line.startsWith('#')).map((line) => line.slice(line.lastIndexOf(',') + 1).trim());
        resolve({ clean: !error && stderr.trim() === '', frames });
      });
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
