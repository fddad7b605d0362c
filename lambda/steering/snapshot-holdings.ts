import { SnapshotFormatError } from './snapshot-error';

/**
 * The holdings section of a steering snapshot, one cluster at a time; numbers are unsigned LEB128
 * varints.
 * 1. The cluster's titles (those any of its appliances holds) as alternating run lengths over the
 *    dictionary, outside first: a run count, then the runs; titles past the last run are outside.
 * 2. For each of those titles in dictionary order, a code saying which of the cluster's n
 *    appliances (in snapshot order) hold it: k in 1..n for the k-th alone, the common case, as
 *    fill planning places most titles once per cluster; 0 for all of them; n+1 for some. Codes are
 *    packed two to a byte (low nibble first, a zero nibble after an odd count) in clusters of up to
 *    14 appliances, one to a byte in clusters of up to 254, and a varint each in larger ones.
 * 3. For each code n+1, in order: how many appliances hold the title, then their positions as gaps.
 * Packing halves what a snapshot of small clusters inflates to, and the time to inflate it; gzip
 * sees the pair of codes in a byte as one symbol, which costs no more than two. Fixed-width codes
 * are read in place, in one pass that also sets the bits.
 */
const ALL = 0;
/** Codes 0..15 fit a nibble: clusters of up to 14 appliances (codes 0, 1..14 and 15 for "some"). */
const MAX_NIBBLE_MEMBERS = 14;
/** Codes 0..255 fit a byte: clusters of up to 254 appliances. */
const MAX_BYTE_MEMBERS = 254;

/** Writes the holdings section cluster by cluster; scratch space is allocated once, for the whole dictionary. */
export class HoldingsWriter {
  private buffer = new Uint8Array(1 << 16);
  private length = 0;
  private readonly words: number;
  private readonly union: Uint32Array;
  private readonly codes: Int32Array;
  /** By bit of the word in hand: 0, the one appliance holding it (1-based), or SEVERAL. */
  private readonly holder = new Int32Array(32);

  constructor(private readonly titleCount: number) {
    this.words = Math.ceil(titleCount / 32);
    this.union = new Uint32Array(this.words);
    this.codes = new Int32Array(titleCount);
  }

  bytes(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }

  /** Writes one cluster: `holdings` are its appliances' bitsets, in snapshot order. */
  writeCluster(holdings: readonly Uint32Array[]): void {
    const { union, codes, holder } = this;
    const members = holdings.length;
    let titles = 0;
    for (let word = 0; word < this.words; word++) {
      let any = 0;
      for (let member = 0; member < members; member++) {
        any |= holdings[member][word];
      }
      union[word] = any;
    }
    const runs = runsOf(union, this.titleCount);
    this.varint(runs.length);
    runs.forEach((run) => this.varint(run));

    const some: number[] = [];
    for (let word = 0; word < this.words; word++) {
      if (union[word] === 0) {
        continue;
      }
      for (let member = 0; member < members; member++) {
        for (let rest = holdings[member][word]; rest !== 0; rest &= rest - 1) {
          const bit = lowestBit(rest);
          holder[bit] = holder[bit] === 0 ? member + 1 : SEVERAL;
        }
      }
      for (let rest = union[word]; rest !== 0; rest &= rest - 1) {
        const bit = lowestBit(rest);
        codes[titles++] = holder[bit] === SEVERAL ? severalCode(holdings, word, bit, some) : holder[bit];
        holder[bit] = 0;
      }
    }
    if (members <= MAX_NIBBLE_MEMBERS) {
      this.reserve(Math.ceil(titles / 2));
      for (let i = 0; i < titles; i += 2) {
        this.buffer[this.length++] = codes[i] | (i + 1 < titles ? codes[i + 1] << 4 : 0);
      }
    } else if (members <= MAX_BYTE_MEMBERS) {
      this.reserve(titles);
      for (let i = 0; i < titles; i++) {
        this.buffer[this.length++] = codes[i];
      }
    } else {
      for (let i = 0; i < titles; i++) {
        this.varint(codes[i]);
      }
    }
    some.forEach((value) => this.varint(value));
  }

  private varint(value: number): void {
    this.reserve(5);
    let rest = value >>> 0;
    while (rest >= 0x80) {
      this.buffer[this.length++] = (rest & 0x7f) | 0x80;
      rest >>>= 7;
    }
    this.buffer[this.length++] = rest;
  }

  private reserve(bytes: number): void {
    if (this.length + bytes > this.buffer.length) {
      const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + bytes));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
    }
  }
}

const SEVERAL = -1;

/** The code of a title several appliances hold: ALL, or "some" with how many and which appended to `some`. */
function severalCode(holdings: readonly Uint32Array[], word: number, bit: number, some: number[]): number {
  const holders: number[] = [];
  holdings.forEach((bits, member) => {
    if (((bits[word] >>> bit) & 1) !== 0) {
      holders.push(member);
    }
  });
  if (holders.length === holdings.length) {
    return ALL;
  }
  some.push(holders.length, ...holders.map((member, i) => member - (i === 0 ? -1 : holders[i - 1]) - 1));
  return holdings.length + 1;
}

/**
 * Alternating lengths of runs of clear and set bits over the first `count` bits, clear first; the
 * trailing clear run left out. Whole words of one kind, the common case, are taken at once.
 */
function runsOf(bits: Uint32Array, count: number): number[] {
  const runs: number[] = [];
  let inside = false;
  let length = 0;
  for (let word = 0; word < bits.length; word++) {
    const width = Math.min(32, count - word * 32);
    const full = width === 32 ? 0xffffffff : 2 ** width - 1;
    if (bits[word] === (inside ? full : 0)) {
      length += width;
      continue;
    }
    for (let bit = 0; bit < width; bit++) {
      if ((((bits[word] >>> bit) & 1) === 1) !== inside) {
        runs.push(length);
        length = 0;
        inside = !inside;
      }
      length++;
    }
  }
  if (inside) {
    runs.push(length);
  }
  return runs;
}

/**
 * Reads the holdings section cluster by cluster into one shared array of bitsets. Every count is
 * checked against the dictionary and the bytes present before it is used; scratch space is
 * allocated once, for the largest cluster possible (the whole dictionary).
 */
export class HoldingsReader {
  private offset: number;
  private readonly words: number;
  private readonly union: Uint32Array;
  private readonly codes: Int32Array;
  /** Scratch, indexed by code: every code a byte can hold. */
  private readonly gathered = new Int32Array(256);

  constructor(
    private readonly bytes: Uint8Array,
    offset: number,
    private readonly titleCount: number,
  ) {
    this.offset = offset;
    this.words = Math.ceil(titleCount / 32);
    this.union = new Uint32Array(this.words);
    this.codes = new Int32Array(titleCount);
  }

  remaining(): number {
    return this.bytes.length - this.offset;
  }

  /** Reads one cluster into `bits`: member m's words start at `bases[m]`. */
  readCluster(bases: Int32Array, bits: Uint32Array, clusterId: string): void {
    const where = `cluster '${clusterId}'`;
    const members = bases.length;
    const titles = this.readUnion(where);
    // Codes gather into one word per code (the array is indexed by code), so the shared bitsets
    // see one write per appliance and word rather than one per title. Codes past members + 1
    // gather too, and are refused once the cluster is read.
    const gathered = members + 2 <= this.gathered.length ? this.gathered : new Int32Array(members + 2);
    const some: number[] = [];
    const { union, bytes } = this;
    const start = this.offset;
    let position = 0;
    if (members <= MAX_NIBBLE_MEMBERS) {
      this.skip(Math.ceil(titles / 2), where);
      for (let word = 0; word < this.words; word++) {
        for (let rest = union[word]; rest !== 0; rest &= rest - 1, position++) {
          gathered[(bytes[start + (position >>> 1)] >>> ((position & 1) << 2)) & 0xf] |= rest & -rest;
        }
        this.flushWord(gathered, word, bases, bits, some);
      }
    } else if (members <= MAX_BYTE_MEMBERS) {
      this.skip(titles, where);
      for (let word = 0; word < this.words; word++) {
        for (let rest = union[word]; rest !== 0; rest &= rest - 1) {
          gathered[bytes[start + position++]] |= rest & -rest;
        }
        this.flushWord(gathered, word, bases, bits, some);
      }
    } else {
      const codes = this.readVarintCodes(titles, members, where);
      for (let word = 0; word < this.words; word++) {
        for (let rest = union[word]; rest !== 0; rest &= rest - 1) {
          gathered[codes[position++]] |= rest & -rest;
        }
        this.flushWord(gathered, word, bases, bits, some);
      }
    }
    for (let code = members + 2; code < gathered.length; code++) {
      if (gathered[code] !== 0) {
        throw new SnapshotFormatError(`bad holdings in ${where}: holder code ${code} for a cluster of ${members} appliances`);
      }
    }
    if (members <= MAX_NIBBLE_MEMBERS && titles % 2 === 1 && bytes[this.offset - 1] >>> 4 !== 0) {
      throw new SnapshotFormatError(`bad holdings in ${where}: the padding after its last code is not zero`);
    }
    for (const title of some) {
      this.readSomeHolders(title, bases, bits, where);
    }
  }

  /** Moves one word's gathered codes into the appliances' bitsets, and clears the cluster's word of `union`. */
  private flushWord(gathered: Int32Array, word: number, bases: Int32Array, bits: Uint32Array, some: number[]): void {
    if (this.union[word] === 0) {
      return;
    }
    this.union[word] = 0;
    const members = bases.length;
    const toAll = gathered[ALL];
    for (let member = 0; member < members; member++) {
      const held = gathered[member + 1] | toAll;
      if (held !== 0) {
        bits[bases[member] + word] |= held;
        gathered[member + 1] = 0;
      }
    }
    gathered[ALL] = 0;
    for (let rest = gathered[members + 1]; rest !== 0; rest &= rest - 1) {
      some.push(word * 32 + lowestBit(rest));
    }
    gathered[members + 1] = 0;
  }

  /** Steps over `length` bytes of codes, checking first that they are all there. */
  private skip(length: number, where: string): void {
    if (length > this.remaining()) {
      throw new SnapshotFormatError(`truncated: the holdings end inside ${where}`);
    }
    this.offset += length;
  }

  /** The cluster's titles, from their runs, into `union`; answers how many. */
  private readUnion(where: string): number {
    const runCount = this.varint(where);
    if (runCount > this.titleCount + 1 || runCount > this.remaining()) {
      throw new SnapshotFormatError(`bad holdings in ${where}: ${runCount} runs over ${this.titleCount} titles and ${this.remaining()} bytes left`);
    }
    let title = 0;
    let titles = 0;
    for (let i = 0; i < runCount; i++) {
      const run = this.varint(where);
      if (title + run > this.titleCount) {
        throw new SnapshotFormatError(`bad holdings in ${where}: its runs reach title index ${title + run - 1}, past the dictionary of ${this.titleCount} titles`);
      }
      if (i % 2 === 1) {
        setRange(this.union, title, title + run);
        titles += run;
      }
      title += run;
    }
    return titles;
  }

  /** A varint code each; one-byte codes, the common case, read inline. */
  private readVarintCodes(titles: number, members: number, where: string): Int32Array {
    const { bytes, codes } = this;
    for (let position = 0; position < titles; position++) {
      const byte = this.offset < bytes.length ? bytes[this.offset] : 0x80;
      if (byte < 0x80) {
        codes[position] = byte;
        this.offset++;
      } else {
        codes[position] = this.varint(where);
      }
      if (codes[position] > members + 1) {
        throw new SnapshotFormatError(`bad holdings in ${where}: holder code ${codes[position]} for a cluster of ${members} appliances`);
      }
    }
    return codes;
  }

  private readSomeHolders(title: number, bases: Int32Array, bits: Uint32Array, where: string): void {
    const members = bases.length;
    const count = this.varint(where);
    if (count < 2 || count >= members) {
      throw new SnapshotFormatError(`bad holdings in ${where}: ${count} holders listed of a cluster of ${members} appliances`);
    }
    let member = -1;
    for (let i = 0; i < count; i++) {
      member += this.varint(where) + 1;
      if (member >= members) {
        throw new SnapshotFormatError(`bad holdings in ${where}: appliance ${member} of a cluster of ${members}`);
      }
      bits[bases[member] + (title >>> 5)] |= 1 << (title & 31);
    }
  }

  private varint(where: string): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.offset >= this.bytes.length) {
        throw new SnapshotFormatError(`truncated: the holdings end inside ${where}`);
      }
      const byte = this.bytes[this.offset++];
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) {
        return value;
      }
    }
    throw new SnapshotFormatError(`bad holdings in ${where}: a number longer than 5 bytes`);
  }
}

/** Sets bits [start, end) of `bits`. */
function setRange(bits: Uint32Array, start: number, end: number): void {
  for (let bit = start; bit < end; ) {
    const from = bit & 31;
    const to = Math.min(32, from + (end - bit));
    bits[bit >>> 5] |= (to === 32 ? ~0 : (1 << to) - 1) & ~((1 << from) - 1);
    bit += to - from;
  }
}

function lowestBit(word: number): number {
  return 31 - Math.clz32(word & -word);
}
