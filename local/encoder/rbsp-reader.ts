/**
 * Reads the bits of one H.264/H.265 NAL unit's payload as the codec specs define them: Exp-Golomb
 * codes, fixed-width fields, and emulation-prevention bytes (0x000003) skipped. It counts the raw
 * bytes it has consumed, emulation-prevention bytes included, which is what a subsample's clear
 * size is measured in.
 */

/** A NAL unit the slice-header parsers cannot read: the message says which field or rule. */
export class BitstreamError extends Error {}

export class RbspReader {
  private position: number;
  private current = 0;
  private bitsLeft = 0;
  private zeroRun = 0;

  constructor(
    private readonly data: Buffer,
    private readonly start: number,
    private readonly end: number,
  ) {
    this.position = start;
  }

  private load(): void {
    if (this.position >= this.end) {
      throw new BitstreamError('the NAL unit ended inside its header');
    }
    let byte = this.data[this.position++];
    if (this.zeroRun >= 2 && byte === 3) {
      this.zeroRun = 0;
      if (this.position >= this.end) {
        throw new BitstreamError('the NAL unit ended after an emulation-prevention byte');
      }
      byte = this.data[this.position++];
    }
    this.zeroRun = byte === 0 ? this.zeroRun + 1 : 0;
    this.current = byte;
    this.bitsLeft = 8;
  }

  bit(): number {
    if (this.bitsLeft === 0) {
      this.load();
    }
    this.bitsLeft -= 1;
    return (this.current >> this.bitsLeft) & 1;
  }

  flag(): boolean {
    return this.bit() === 1;
  }

  /** An unsigned field of `count` bits (at most 32). */
  bits(count: number): number {
    let value = 0;
    for (let i = 0; i < count; i++) {
      value = value * 2 + this.bit();
    }
    return value;
  }

  skipBits(count: number): void {
    for (let i = 0; i < count; i++) {
      this.bit();
    }
  }

  /** ue(v): unsigned Exp-Golomb. */
  ue(): number {
    let leadingZeros = 0;
    while (this.bit() === 0) {
      leadingZeros += 1;
      if (leadingZeros > 31) {
        throw new BitstreamError('an Exp-Golomb code longer than 32 bits');
      }
    }
    return 2 ** leadingZeros - 1 + this.bits(leadingZeros);
  }

  /** se(v): signed Exp-Golomb. */
  se(): number {
    const code = this.ue();
    return code % 2 === 1 ? (code + 1) / 2 : -(code / 2);
  }

  isByteAligned(): boolean {
    return this.bitsLeft === 0;
  }

  /** Raw bytes read so far from `start`, a partly read byte counted whole. */
  rawBytesConsumed(): number {
    return this.position - this.start;
  }
}

/** Ceil(Log2(value)): the width of a field that numbers `value` things. */
export function ceilLog2(value: number): number {
  let bits = 0;
  while (2 ** bits < value) {
    bits += 1;
  }
  return bits;
}

/**
 * What a subsample generator asks of a codec: how many bytes at the start of a NAL unit (its
 * header and, for a slice, the slice header) stay clear; undefined for a NAL unit that is not
 * video slice data and stays wholly clear. Parameter sets met on the way are remembered.
 */
export interface SliceHeaderParser {
  clearLeaderBytes(nal: Buffer): number | undefined;
}
