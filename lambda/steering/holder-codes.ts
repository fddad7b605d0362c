import { RendezvousNodes } from '../shared/rendezvous';

/**
 * One cluster's holdings, coded relative to rendezvous hashing: fill planning puts a title on the
 * first appliances of its rendezvous order over the cluster that have room
 * (`lambda/shared/rendezvous.ts`), so "the first k of the order" names almost every holder set in
 * a byte, whose value is nearly always 1, where naming one holder of n directly costs log2(n) bits
 * that no compressor can take back. Steering recomputes the order when it needs the holders.
 *
 * A code per title of the dictionary: NOT_HELD; 1..MAX_PREFIX (at most the cluster's size) for
 * the first k of the order; LISTED for any other set (a node that lost a title, a title that
 * skipped a full appliance, a prefix longer than MAX_PREFIX), whose ranks in the order are listed.
 */
export const NOT_HELD = 0;
export const MAX_PREFIX = 254;
export const LISTED = 255;

export class ClusterHoldings {
  constructor(
    /** By title: its code. */
    readonly codes: Uint8Array,
    /** The LISTED titles, ascending; title i's ranks are `listedRanks[listedStarts[i]..listedStarts[i + 1]]`, ascending. */
    readonly listedTitles: Int32Array,
    readonly listedStarts: Int32Array,
    readonly listedRanks: Int32Array,
  ) {}

  /**
   * Fills `out` (at least the cluster's size long) with the positions of the appliances holding
   * `title`, most preferred first; answers how many.
   */
  holders(title: number, titleHash: number, nodes: RendezvousNodes, out: Int32Array): number {
    const code = this.codes[title];
    if (code === NOT_HELD) {
      return 0;
    }
    if (code === 1) {
      out[0] = nodes.first(titleHash);
      return 1;
    }
    nodes.order(titleHash, out);
    if (code !== LISTED) {
      return code;
    }
    const listed = this.listedAt(title);
    const start = this.listedStarts[listed];
    const count = this.listedStarts[listed + 1] - start;
    // Ranks ascend, so each lands at or before the place it is read from.
    for (let i = 0; i < count; i++) {
      out[i] = out[this.listedRanks[start + i]];
    }
    return count;
  }

  private listedAt(title: number): number {
    const { listedTitles } = this;
    let low = 0;
    let high = listedTitles.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (listedTitles[middle] < title) {
        low = middle + 1;
      } else if (listedTitles[middle] > title) {
        high = middle - 1;
      } else {
        return middle;
      }
    }
    throw new RangeError(`title ${title} is coded as listed but has no list`);
  }
}

/** Collects one cluster's codes and lists, titles in ascending order. */
export class ClusterHoldingsBuilder {
  private readonly titles: number[] = [];
  private readonly starts: number[] = [0];
  private readonly ranks: number[] = [];

  /** `codes` starts all NOT_HELD (a fresh array, or a zeroed slice of a shared one). */
  constructor(readonly codes: Uint8Array) {}

  list(title: number, ranks: ArrayLike<number>): void {
    this.codes[title] = LISTED;
    this.titles.push(title);
    for (let i = 0; i < ranks.length; i++) {
      this.ranks.push(ranks[i]);
    }
    this.starts.push(this.ranks.length);
  }

  build(): ClusterHoldings {
    return new ClusterHoldings(this.codes, Int32Array.from(this.titles), Int32Array.from(this.starts), Int32Array.from(this.ranks));
  }
}

/**
 * Codes a cluster's holdings: `bitsets` are its appliances' (bit i: holds title i), in the order
 * `nodes` was built over; `titleHashes` the dictionary's `hash32`s.
 */
export function codeCluster(bitsets: readonly Uint32Array[], nodes: RendezvousNodes, titleHashes: Uint32Array, codes: Uint8Array): ClusterHoldings {
  const builder = new ClusterHoldingsBuilder(codes);
  const members = bitsets.length;
  const words = Math.ceil(titleHashes.length / 32);
  /** By bit of the word in hand: 0, the one appliance holding it (1-based), or SEVERAL. */
  const holder = new Int32Array(32);
  const order = new Int32Array(members);
  const rankOf = new Int32Array(members);
  const ranks: number[] = [];
  for (let word = 0; word < words; word++) {
    let union = 0;
    for (let member = 0; member < members; member++) {
      const bits = bitsets[member][word];
      union |= bits;
      for (let rest = bits; rest !== 0; rest &= rest - 1) {
        const bit = lowestBit(rest);
        holder[bit] = holder[bit] === 0 ? member + 1 : SEVERAL;
      }
    }
    for (let rest = union; rest !== 0; rest &= rest - 1) {
      const bit = lowestBit(rest);
      const title = word * 32 + bit;
      const titleHash = titleHashes[title];
      const one = holder[bit];
      holder[bit] = 0;
      if (one !== SEVERAL && nodes.first(titleHash) === one - 1) {
        codes[title] = 1;
        continue;
      }
      nodes.order(titleHash, order);
      order.forEach((position, rank) => (rankOf[position] = rank));
      ranks.length = 0;
      for (let member = 0; member < members; member++) {
        if (((bitsets[member][word] >>> bit) & 1) !== 0) {
          ranks.push(rankOf[member]);
        }
      }
      ranks.sort((a, b) => a - b);
      if (ranks.length <= MAX_PREFIX && ranks[ranks.length - 1] === ranks.length - 1) {
        codes[title] = ranks.length;
      } else {
        builder.list(title, ranks);
      }
    }
  }
  return builder.build();
}

/** Sets, in `bits` (the cluster's appliances' words, member m's at `bases[m]`), the bits `holdings` codes. */
export function materialize(holdings: ClusterHoldings, nodes: RendezvousNodes, titleHashes: Uint32Array, bases: readonly number[], bits: Uint32Array): void {
  const out = new Int32Array(nodes.size);
  for (let title = 0; title < titleHashes.length; title++) {
    const count = holdings.holders(title, titleHashes[title], nodes, out);
    for (let i = 0; i < count; i++) {
      bits[bases[out[i]] + (title >>> 5)] |= 1 << (title & 31);
    }
  }
}

const SEVERAL = -1;

function lowestBit(word: number): number {
  return 31 - Math.clz32(word & -word);
}
