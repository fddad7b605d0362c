import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Whether a licensed key really opens a protected segment, checked as a CDM would find out: by
 * decoding it. ffmpeg (5.1 and later read cbcs) decodes the init segment and the media segment
 * joined, once with the key and once without. The key opens the segment when the keyed decode is
 * clean (exit 0, no decoder error) and yields frames, and the decode without it fails, reports
 * errors, or yields other frames. Decoder errors are the usual sign: an H.264 slice decrypted
 * with no key or a wrong one is noise after its header.
 *
 * The key travels to ffmpeg on its command line only; nothing here repeats the command line, whose
 * text Node puts in an exec error's message, in what it returns.
 */

export interface DecryptionCheck {
  readonly decrypted: boolean;
  /** One line on what the decodes did, naming no key. */
  readonly detail: string;
  /** The check could not be made here (an ffmpeg that cannot read cbcs): no verdict either way. */
  readonly skipped?: boolean;
}

/** ffmpeg's major version, read once; undefined when it cannot be run or read. */
let ffmpegMajor: Promise<number | undefined> | undefined;
function ffmpegMajorVersion(): Promise<number | undefined> {
  ffmpegMajor ??= new Promise((resolve) => {
    execFile('ffmpeg', ['-version'], { timeout: 5_000 }, (error, stdout) => {
      const major = /ffmpeg version n?(\d+)\./.exec(stdout ?? '')?.[1];
      resolve(error || major === undefined ? undefined : Number(major));
    });
  });
  return ffmpegMajor;
}

interface Decode {
  readonly ok: boolean;
  /** One MD5 per decoded frame. */
  readonly frames: readonly string[];
  /** The decoder's first complaint, if any. */
  readonly firstError?: string;
}

const DECODE_TIMEOUT_MS = 20_000;

function decode(file: string, key: Buffer | undefined): Promise<Decode> {
  const args = ['-nostdin', '-v', 'error', ...(key ? ['-decryption_key', key.toString('hex')] : []), '-i', file, '-f', 'framemd5', '-'];
  return new Promise((resolve) => {
    execFile('ffmpeg', args, { maxBuffer: 64 * 1024 * 1024, timeout: DECODE_TIMEOUT_MS }, (error, stdout, stderr) => {
      const frames = stdout
        .split('\n')
        .filter((line) => line.length > 0 && !line.startsWith('#'))
        .map((line) => line.slice(line.lastIndexOf(',') + 1).trim());
      const firstError = stderr.split('\n').find((line) => line.trim() !== '')?.trim().slice(0, 160);
      const status = error ? (typeof error.code === 'number' ? `exit ${error.code}` : error.killed ? `killed after ${DECODE_TIMEOUT_MS} ms` : 'could not run ffmpeg') : undefined;
      resolve({ ok: !error && firstError === undefined, frames, ...(firstError || status ? { firstError: firstError ?? status } : {}) });
    });
  });
}

/** Decodes `init` + `segment` with and without `key`; see the module comment for what counts. */
export async function checkDecryption(init: Buffer, segment: Buffer, key: Buffer): Promise<DecryptionCheck> {
  const major = await ffmpegMajorVersion();
  if (major !== undefined && major < 5) {
    return { decrypted: false, skipped: true, detail: `not checked: ffmpeg ${major} cannot read cbcs (5.1 and later can)` };
  }
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'nearstream-decrypt-'));
  const file = path.join(dir, 'first-segment.mp4');
  try {
    await fs.promises.writeFile(file, Buffer.concat([init, segment]));
    const [keyed, unkeyed] = await Promise.all([decode(file, key), decode(file, undefined)]);
    if (!keyed.ok || keyed.frames.length === 0) {
      return { decrypted: false, detail: `ffmpeg could not decode it with the licensed key: ${keyed.firstError ?? 'no frame decoded'}` };
    }
    if (unkeyed.ok && unkeyed.frames.join() === keyed.frames.join()) {
      return { decrypted: false, detail: `it decodes to the same ${keyed.frames.length} frames without the key: it is not encrypted` };
    }
    const without = unkeyed.ok ? 'decodes to other frames' : `fails (${unkeyed.firstError})`;
    return { decrypted: true, detail: `${keyed.frames.length} frames decoded cleanly with the licensed key; without it the decode ${without}` };
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}
