import { ClusterHoldings, ClusterHoldingsBuilder, LISTED, MAX_PREFIX, NOT_HELD } from './holder-codes';
import { SnapshotFormatError } from './snapshot-error';

/**
 * The holdings section of a steering snapshot, one cluster at a time, each cluster's holder codes
 * (`holder-codes.ts`: relative to each title's rendezvous order over the cluster); numbers are
 * unsigned LEB128 varints.
 * 1. The codes over the dictionary as runs: a run count, then for each run its code (a byte) and
 *    its length; titles past the last run are not held.
 * 2. For each LISTED title, in dictionary order: how many appliances hold it, then their ranks in
 *    the title's order, as gaps.
 * A cluster planned and filled as fill planning does holds nearly every title on the first
 * appliance of its order, so its codes are a few runs of 1, and the section a few bytes per
 * cluster: inflating and reading it costs next to nothing, where codes per title would be read
 * one by one.
 */

/** Writes the holdings section cluster by cluster. */
export class HoldingsWriter {
  private buffer = new Uint8Array(1 << 16);
  private length = 0;

  bytes(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }

  writeCluster(holdings: ClusterHoldings): void {
    const { codes } = holdings;
    let end = codes.length;
    while (end > 0 && codes[end - 1] === NOT_HELD) {
      end--;
    }
    const runs: number[] = [];
    for (let start = 0; start < end; ) {
      let stop = start + 1;
      while (stop < end && codes[stop] === codes[start]) {
        stop++;
      }
      runs.push(codes[start], stop - start);
      start = stop;
    }
    this.varint(runs.length / 2);
    for (let i = 0; i < runs.length; i += 2) {
      this.reserve(1);
      this.buffer[this.length++] = runs[i];
      this.varint(runs[i + 1]);
    }
    const { listedStarts, listedRanks } = holdings;
    for (let listed = 0; listed + 1 < listedStarts.length; listed++) {
      this.varint(listedStarts[listed + 1] - listedStarts[listed]);
      for (let at = listedStarts[listed], previous = -1; at < listedStarts[listed + 1]; previous = listedRanks[at++]) {
        this.varint(listedRanks[at] - previous - 1);
      }
    }
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

/**
 * Reads the holdings section cluster by cluster. Every count is checked against the dictionary,
 * the cluster's size and the bytes present before it is used.
 */
export class HoldingsReader {
  private offset: number;

  constructor(
    private readonly bytes: Uint8Array,
    offset: number,
    private readonly titleCount: number,
  ) {
    this.offset = offset;
  }

  remaining(): number {
    return this.bytes.length - this.offset;
  }

  /** Reads one cluster of `members` appliances into `codes` (the dictionary's length, all NOT_HELD). */
  readCluster(members: number, codes: Uint8Array, clusterId: string): ClusterHoldings {
    const where = `cluster '${clusterId}'`;
    const runCount = this.varint(where);
    if (runCount > this.titleCount || 2 * runCount > this.remaining()) {
      throw new SnapshotFormatError(`bad holdings in ${where}: ${runCount} runs over ${this.titleCount} titles and ${this.remaining()} bytes left`);
    }
    const maxPrefix = Math.min(members, MAX_PREFIX);
    const listed: number[] = [];
    let title = 0;
    for (let i = 0; i < runCount; i++) {
      if (this.offset >= this.bytes.length) {
        throw new SnapshotFormatError(`truncated: the holdings end inside ${where}`);
      }
      const code = this.bytes[this.offset++];
      if (code !== NOT_HELD && code !== LISTED && code > maxPrefix) {
        throw new SnapshotFormatError(`bad holdings in ${where}: holder code ${code} for a cluster of ${members} appliances`);
      }
      const run = this.varint(where);
      if (run === 0 || title + run > this.titleCount) {
        throw new SnapshotFormatError(
          run === 0 ? `bad holdings in ${where}: a run of no titles` : `bad holdings in ${where}: its runs reach title index ${title + run - 1}, past the dictionary of ${this.titleCount} titles`,
        );
      }
      if (code === LISTED) {
        for (let at = title; at < title + run; at++) {
          listed.push(at);
        }
      } else if (code !== NOT_HELD) {
        codes.fill(code, title, title + run);
      }
      title += run;
    }
    const builder = new ClusterHoldingsBuilder(codes);
    const ranks: number[] = [];
    for (const at of listed) {
      const count = this.varint(where);
      if (count === 0 || count > members) {
        throw new SnapshotFormatError(`bad holdings in ${where}: ${count} holders listed of a cluster of ${members} appliances`);
      }
      ranks.length = 0;
      for (let i = 0, rank = -1; i < count; i++) {
        rank += this.varint(where) + 1;
        if (rank >= members) {
          throw new SnapshotFormatError(`bad holdings in ${where}: rank ${rank} in a cluster of ${members}`);
        }
        ranks.push(rank);
      }
      if (count <= maxPrefix && ranks[count - 1] === count - 1) {
        throw new SnapshotFormatError(`bad holdings in ${where}: title index ${at} lists the first ${count} of its order, which code ${count} says`);
      }
      builder.list(at, ranks);
    }
    return builder.build();
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
