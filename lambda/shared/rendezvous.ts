/**
 * Rendezvous (highest-random-weight) hashing, the platform's one definition: fill planning places
 * each title on the first appliances of its order over the cluster that have room, the synthetic
 * fleet places the same way, the steering snapshot codes holdings relative to that order, and
 * steering recomputes it per decision to read them back. All four must agree bit for bit, so none
 * keeps a copy. Cheap on purpose (two multiplies a score): steering scores a cluster's appliances
 * for every title it looks up, and planning every title on every appliance.
 */

/** FNV-1a, 32 bits, over UTF-16 code units: an id's hash, computed once and kept. */
export function hash32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * The score of a key (a title, a session) on a node (an appliance, a cluster), from their
 * `hash32`s: Murmur3's finalizer over the two. For a given key it is a bijection of the node's
 * hash, so two nodes tie only when their hashes do.
 */
export function rendezvousScore(keyHash: number, nodeHash: number): number {
  let h = (keyHash ^ Math.imul(nodeHash, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Node ids in the order a key prefers them: highest score first, ties by id. */
export function rendezvousOrder(keyId: string, nodeIds: readonly string[]): string[] {
  const keyHash = hash32(keyId);
  return nodeIds
    .map((id) => ({ id, score: rendezvousScore(keyHash, hash32(id)) }))
    .sort((a, b) => b.score - a.score || compareIds(a.id, b.id))
    .map((entry) => entry.id);
}

/** Sort keys pack a 32-bit score above a tie rank of this many bits (exact in a double up to 2^53). */
const TIE_BITS = 20;
const TIES = 2 ** TIE_BITS;

/**
 * `rendezvousOrder` over a fixed set of nodes, for many keys: the node hashes are computed once,
 * and an order costs a score per node and a sort of numbers, allocating nothing. Positions are
 * indices into the ids as given; the order is the same whatever order they are given in.
 */
export class RendezvousNodes {
  readonly hashes: Uint32Array;
  /** By position: the key a tie sorts by, highest for the lowest id, below every score step. */
  private readonly tieKeys: Float64Array;
  /** By id rank: the position. */
  private readonly positionByRank: Int32Array;
  private readonly keys: Float64Array;

  constructor(ids: readonly string[]) {
    if (ids.length > TIES) {
      throw new RangeError(`rendezvous hashing orders at most ${TIES} nodes at once, not ${ids.length}`);
    }
    this.hashes = Uint32Array.from(ids, hash32);
    this.tieKeys = new Float64Array(ids.length);
    this.positionByRank = new Int32Array(ids.length);
    ids
      .map((id, position) => ({ id, position }))
      .sort((a, b) => compareIds(a.id, b.id))
      .forEach(({ position }, rank) => {
        this.tieKeys[position] = TIES - 1 - rank;
        this.positionByRank[rank] = position;
      });
    this.keys = new Float64Array(ids.length);
  }

  get size(): number {
    return this.hashes.length;
  }

  /** The position of the node the key prefers most; -1 if there are none. */
  first(keyHash: number): number {
    const { hashes, tieKeys } = this;
    let best = -1;
    let bestScore = -1;
    for (let position = 0; position < hashes.length; position++) {
      const score = rendezvousScore(keyHash, hashes[position]);
      if (score > bestScore || (score === bestScore && tieKeys[position] > tieKeys[best])) {
        bestScore = score;
        best = position;
      }
    }
    return best;
  }

  /** Fills `out` with every node's position in the key's order, most preferred first. */
  order(keyHash: number, out: Int32Array): void {
    const { hashes, tieKeys, keys } = this;
    const size = hashes.length;
    for (let position = 0; position < size; position++) {
      keys[position] = rendezvousScore(keyHash, hashes[position]) * TIES + tieKeys[position];
    }
    keys.sort();
    for (let at = 0; at < size; at++) {
      out[at] = this.positionOf(keys[size - 1 - at]);
    }
  }

  private positionOf(key: number): number {
    return this.positionByRank[TIES - 1 - (key % TIES)];
  }
}

/** Ties by id: code-unit order, as `rendezvousOrder` breaks them. */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
