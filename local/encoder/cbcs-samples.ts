import { createCipheriv } from 'node:crypto';
import { BitstreamError, SliceHeaderParser } from './rbsp-reader';

/**
 * The 'cbcs' scheme of ISO/IEC 23001-7 (10.4) on one sample: AES-128-CBC with a constant IV, the
 * IV reset at each subsample, over a 1:9 pattern of 16-byte blocks for video (one encrypted, nine
 * clear, the CBC chain running through the encrypted blocks only) and over every whole block for
 * audio. A trailing partial block always stays clear.
 */

const BLOCK = 16;
/** default_crypt_byte_block:default_skip_byte_block for video; audio is 0:0, whole blocks. */
export const VIDEO_PATTERN = { cryptBlocks: 1, skipBlocks: 9 } as const;
export const AUDIO_PATTERN = { cryptBlocks: 0, skipBlocks: 0 } as const;
const MAX_CLEAR_BYTES = 0xffff;

export interface Subsample {
  readonly clearBytes: number;
  readonly protectedBytes: number;
}

export interface SampleCipher {
  readonly key: Buffer;
  readonly constantIv: Buffer;
}

/** One CBC chain from the constant IV over `blocks`, a whole number of 16-byte blocks. */
function cbcEncrypt(blocks: Buffer, cipher: SampleCipher): Buffer {
  const aes = createCipheriv('aes-128-cbc', cipher.key, cipher.constantIv).setAutoPadding(false);
  return Buffer.concat([aes.update(blocks), aes.final()]);
}

/** One subsample's protected range, encrypted in place with the 1:9 pattern from the constant IV. */
function encryptPatterned(sample: Buffer, start: number, length: number, cipher: SampleCipher): void {
  const stride = VIDEO_PATTERN.cryptBlocks + VIDEO_PATTERN.skipBlocks;
  const offsets: number[] = [];
  for (let block = 0; (block + 1) * BLOCK <= length; block += stride) {
    offsets.push(start + block * BLOCK);
  }
  if (offsets.length === 0) {
    return;
  }
  const gathered = Buffer.concat(offsets.map((offset) => sample.subarray(offset, offset + BLOCK)));
  const encrypted = cbcEncrypt(gathered, cipher);
  offsets.forEach((offset, i) => encrypted.copy(sample, offset, i * BLOCK, (i + 1) * BLOCK));
}

/** A video sample (length-prefixed NAL units) encrypted in place, subsample by subsample. */
export function encryptVideoSample(sample: Buffer, subsamples: readonly Subsample[], cipher: SampleCipher): void {
  let offset = 0;
  for (const { clearBytes, protectedBytes } of subsamples) {
    offset += clearBytes;
    encryptPatterned(sample, offset, protectedBytes, cipher);
    offset += protectedBytes;
  }
}

/** An audio sample encrypted in place: every whole block, one CBC chain from the constant IV. */
export function encryptAudioSample(sample: Buffer, cipher: SampleCipher): void {
  const whole = sample.length - (sample.length % BLOCK);
  if (whole > 0) {
    cbcEncrypt(sample.subarray(0, whole), cipher).copy(sample, 0);
  }
}

/**
 * The subsamples of one video sample, as shaka-packager cuts them: each video slice NAL unit is
 * clear up to the end of its slice header and protected after it; every other NAL unit is clear
 * and joins the next subsample's clear bytes; clear runs beyond 65535 bytes are split.
 */
export function videoSubsamples(sample: Buffer, nalLengthSize: number, parser: SliceHeaderParser): Subsample[] {
  const subsamples: Subsample[] = [];
  let pendingClear = 0;
  const push = (clearBytes: number, protectedBytes: number) => {
    let clear = clearBytes;
    while (clear > MAX_CLEAR_BYTES) {
      subsamples.push({ clearBytes: MAX_CLEAR_BYTES, protectedBytes: 0 });
      clear -= MAX_CLEAR_BYTES;
    }
    subsamples.push({ clearBytes: clear, protectedBytes });
  };
  let offset = 0;
  while (offset < sample.length) {
    if (offset + nalLengthSize > sample.length) {
      throw new BitstreamError(`${sample.length - offset} byte(s) left at byte ${offset}, too few for a ${nalLengthSize}-byte NAL unit length`);
    }
    const nalLength = sample.readUIntBE(offset, nalLengthSize);
    const nalStart = offset + nalLengthSize;
    if (nalStart + nalLength > sample.length) {
      throw new BitstreamError(`the NAL unit at byte ${offset} declares ${nalLength} bytes but the sample has ${sample.length - nalStart} left`);
    }
    let leader: number | undefined;
    try {
      leader = parser.clearLeaderBytes(sample.subarray(nalStart, nalStart + nalLength));
    } catch (error) {
      throw error instanceof BitstreamError ? new BitstreamError(`the NAL unit at byte ${offset}: ${error.message}`) : error;
    }
    const clear = leader === undefined ? nalLength : Math.min(leader, nalLength);
    pendingClear += nalLengthSize + clear;
    if (nalLength - clear > 0) {
      push(pendingClear, nalLength - clear);
      pendingClear = 0;
    }
    offset = nalStart + nalLength;
  }
  if (pendingClear > 0 || subsamples.length === 0) {
    push(pendingClear, 0);
  }
  return subsamples;
}
