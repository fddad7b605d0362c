import { createHash } from 'node:crypto';
import { constants, gunzipSync, gzipSync } from 'node:zlib';
import type { SteeredAppliance } from '../playback/steering';
import { hash32, RendezvousNodes } from '../shared/rendezvous';
import { ClusterHoldings, codeCluster, materialize } from './holder-codes';
import { HoldingsReader, HoldingsWriter } from './snapshot-holdings';
import { SnapshotFormatError } from './snapshot-error';

export { SnapshotFormatError } from './snapshot-error';

/**
 * The steering snapshot: one region's fleet as play functions steer by it, written by the region's
 * builder to S3 and decoded by every play function straight into the steering index.
 *
 * Layout, once gunzipped (two gzip members, concatenated: one gzip stream to any reader):
 * - 24 bytes: magic `NSSNAP`, 0, layout version 1; then, u32 little-endian, the counts of titles,
 *   appliances and clusters, and the header's length in bytes.
 * - The header, UTF-8 JSON: format, region, builtAtMs, the title dictionary, tables of clusters,
 *   regions and prefix lists, and the appliances column by column (ids, indices into the tables,
 *   health, registration version, holdings digest), `null` for a field left out.
 * - The holdings, cluster by cluster in the header's table order (`snapshot-holdings.ts`): for each
 *   title, which of the cluster's appliances hold it, coded relative to the title's rendezvous
 *   order over them (`holder-codes.ts`), as runs.
 *
 * The header is compressed with LZ77 (its ids and URLs repeat); the holdings with run-length
 * matching only. Fill planning places a title on the first appliances of that order with room, so
 * nearly every code is "the first one" and a cluster's holdings take a few bytes: measured on the
 * benchmark fleet (20,000 appliances in 2,109 clusters, 50,000 titles, nearly every cluster
 * holding the whole catalog once), the holdings fell from 42.8 MB, naming holders directly (near
 * the log2(n) bits per cluster and title that choosing one of n carries), to a few kilobytes.
 *
 * Decoded, a snapshot keeps the codes (`codedClusters`), which the steering index reads as they
 * are; an appliance's `holdings` bitset is only computed, for every appliance at once, when first
 * asked for (the builder seeding itself does).
 */
export const SNAPSHOT_FORMAT = 'nearstream-steering-snapshot/v1';

/** An appliance as steering sees it, and what the builder needs to reuse its entry. */
export interface SnapshotAppliance extends SteeredAppliance {
  /** Opaque to steering: the builder reuses an entry whose registration version it already has. */
  readonly registrationVersion: number;
  /** Opaque to steering: the digest of the holdings report the holdings came from. */
  readonly holdingsDigest?: string;
  /**
   * Bit i set: holds `titles[i]`. Length Math.ceil(titles.length / 32) words (may be a subarray of
   * one shared buffer). In a decoded snapshot, computed on first access.
   */
  readonly holdings: Uint32Array;
}

export interface SteeringSnapshot {
  readonly format: typeof SNAPSHOT_FORMAT;
  /** The region that built it. */
  readonly region: string;
  readonly builtAtMs: number;
  /** The dictionary, in the builder's order (append-only, so unchanged clusters keep their codes; `orderByHolders` gives most-held first). */
  readonly titles: readonly string[];
  readonly appliances: readonly SnapshotAppliance[];
}

const MAGIC = Buffer.from('NSSNAP\0', 'latin1');
const LAYOUT_VERSION = 1;
const PREAMBLE_BYTES = MAGIC.length + 1 + 4 * 4;
/**
 * The most a snapshot may decompress to: 4 times the 67 MB of the benchmark fleet's (20,000
 * appliances, 50,000 titles). A gzip stream that inflates past it is refused once it has, rather
 * than inflated on.
 */
const MAX_RAW_BYTES = 256 * 1024 * 1024;
/**
 * The most the decoded bitsets may take, should they be asked for: 4 times the benchmark fleet's
 * 125 MB. Counts are checked against the bytes present before anything is allocated; this bounds
 * their product.
 */
const MAX_BITSET_BYTES = 512 * 1024 * 1024;
/** The most the decoded holder codes (a byte per cluster and title) may take: about 5 times the benchmark fleet's 105 MB. */
const MAX_CODE_BYTES = 512 * 1024 * 1024;
/** The shortest JSON a title or an appliance can take in the header (`"x",`, and an id plus its columns). */
const MIN_TITLE_HEADER_BYTES = 4;
const MIN_APPLIANCE_HEADER_BYTES = 20;
/** Bytes per inflated chunk: fewer, larger chunks inflate the 100 MB snapshot about 15% faster. */
const INFLATE_CHUNK_BYTES = 1024 * 1024;

interface Header {
  readonly format: string;
  readonly region: string;
  readonly builtAtMs: number;
  readonly titles: readonly string[];
  readonly clusters: readonly string[];
  readonly regions: readonly string[];
  readonly prefixSets: readonly (readonly string[])[];
  readonly appliances: {
    readonly applianceId: readonly string[];
    readonly cluster: readonly number[];
    readonly region: readonly number[];
    readonly baseUrl: readonly string[];
    readonly prefixSet: readonly number[];
    readonly reportedAtMs: readonly (number | null)[];
    readonly load: readonly (number | null)[];
    readonly errorRate: readonly (number | null)[];
    readonly registrationVersion: readonly number[];
    readonly holdingsDigest: readonly (string | null)[];
  };
}

const APPLIANCE_COLUMNS = ['applianceId', 'cluster', 'region', 'baseUrl', 'prefixSet', 'reportedAtMs', 'load', 'errorRate', 'registrationVersion', 'holdingsDigest'] as const;

/**
 * What a builder keeps between encodings: each cluster's codes, by a fingerprint of its appliances'
 * ids and holdings digests over the same dictionary (or one with titles appended: a cluster whose
 * holdings did not change holds none of them, and codes past a cluster's end read as not held). Coding a cluster means a rendezvous order per
 * title it holds (about a billion scores for 20,000 appliances and 50,000 titles); between two
 * builds few clusters' holdings change, so few are coded again.
 */
export class HoldingsCodeCache {
  private readonly clusters = new Map<string, { readonly key: string; readonly holdings: ClusterHoldings }>();
  private titles?: readonly string[];
  private titlesKey = '';
  /** Clusters coded (not found in the cache) by the last encoding. */
  coded = 0;

  /** The cached codes of a cluster whose appliances and their holdings are as `members` says. */
  lookup(snapshot: Pick<SteeringSnapshot, 'titles' | 'appliances'>, clusterId: string, members: readonly number[]): { key: string; holdings?: ClusterHoldings } {
    if (this.titles !== snapshot.titles) {
      // Titles appended keep every other title's position, and so every cached code: the key stays.
      const previous = this.titles;
      const appended = previous !== undefined && previous.length <= snapshot.titles.length && previous.every((titleId, i) => snapshot.titles[i] === titleId);
      if (!appended) {
        this.titlesKey = createHash('sha256').update(snapshot.titles.join('\n')).digest('base64url');
      }
      this.titles = snapshot.titles;
    }
    const fingerprint = members.map((member) => {
      const { applianceId, holdingsDigest } = snapshot.appliances[member];
      // Without a digest the holdings say nothing about themselves: never reuse them.
      return holdingsDigest === undefined ? undefined : `${applianceId}=${holdingsDigest}`;
    });
    if (fingerprint.includes(undefined)) {
      return { key: '' };
    }
    const key = `${this.titlesKey}|${fingerprint.join(',')}`;
    const cached = this.clusters.get(clusterId);
    return { key, holdings: cached?.key === key ? cached.holdings : undefined };
  }

  remember(clusterId: string, key: string, holdings: ClusterHoldings): void {
    this.coded++;
    if (key !== '') {
      this.clusters.set(clusterId, { key, holdings });
    }
  }

  /** Forgets clusters that are not in `clusterIds` any more. */
  keepOnly(clusterIds: ReadonlySet<string>): void {
    for (const clusterId of this.clusters.keys()) {
      if (!clusterIds.has(clusterId)) {
        this.clusters.delete(clusterId);
      }
    }
  }
}

/** The snapshot as gzip'd bytes. Throws SnapshotFormatError, naming the field, for a snapshot its decoder would refuse. */
export function encodeSnapshot(snapshot: SteeringSnapshot, cache?: HoldingsCodeCache): Buffer {
  // Never write what every decoder would refuse: the builder keeps the last good snapshot instead.
  checkSizes(snapshot.titles.length, snapshot.appliances.length, new Set(snapshot.appliances.map((appliance) => appliance.clusterId)).size, 'cannot encode');
  checkSnapshot(snapshot, 'cannot encode');
  const clusters = tableOf(snapshot.appliances.map((appliance) => appliance.clusterId));
  const regions = tableOf(snapshot.appliances.map((appliance) => appliance.region));
  const prefixSets = tableOf(snapshot.appliances.map((appliance) => JSON.stringify(appliance.prefixes)));
  const header: Header = {
    format: snapshot.format,
    region: snapshot.region,
    builtAtMs: snapshot.builtAtMs,
    titles: snapshot.titles,
    clusters: clusters.values,
    regions: regions.values,
    prefixSets: prefixSets.values.map((text) => JSON.parse(text) as string[]),
    appliances: {
      applianceId: snapshot.appliances.map((appliance) => appliance.applianceId),
      cluster: clusters.indices,
      region: regions.indices,
      baseUrl: snapshot.appliances.map((appliance) => appliance.baseUrl),
      prefixSet: prefixSets.indices,
      reportedAtMs: snapshot.appliances.map((appliance) => appliance.reportedAtMs ?? null),
      load: snapshot.appliances.map((appliance) => appliance.load ?? null),
      errorRate: snapshot.appliances.map((appliance) => appliance.errorRate ?? null),
      registrationVersion: snapshot.appliances.map((appliance) => appliance.registrationVersion),
      holdingsDigest: snapshot.appliances.map((appliance) => appliance.holdingsDigest ?? null),
    },
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const preamble = Buffer.alloc(PREAMBLE_BYTES);
  MAGIC.copy(preamble);
  preamble.writeUInt8(LAYOUT_VERSION, MAGIC.length);
  [snapshot.titles.length, snapshot.appliances.length, clusters.values.length, json.length].forEach((count, i) => preamble.writeUInt32LE(count, MAGIC.length + 1 + 4 * i));

  const writer = new HoldingsWriter();
  for (const cluster of codedClusters(snapshot, cache)) {
    writer.writeCluster(cluster.holdings);
  }
  const holdings = writer.bytes();
  if (preamble.length + json.length + holdings.length > MAX_RAW_BYTES) {
    throw new SnapshotFormatError(`cannot encode: it would decompress to ${preamble.length + json.length + holdings.length} bytes, more than the ${MAX_RAW_BYTES} a decoder accepts`);
  }
  return Buffer.concat([gzipSync(Buffer.concat([preamble, json])), gzipSync(holdings, { strategy: constants.Z_RLE })]);
}

/** Reads a snapshot; anything malformed is a SnapshotFormatError saying what is wrong. */
export function decodeSnapshot(bytes: Uint8Array): SteeringSnapshot {
  const raw = inflate(bytes);
  if (raw.length < PREAMBLE_BYTES) {
    throw new SnapshotFormatError(raw.length < MAGIC.length || !raw.subarray(0, MAGIC.length).equals(MAGIC) ? 'bad magic: it does not start with NSSNAP' : `truncated: ${raw.length} bytes, shorter than its ${PREAMBLE_BYTES}-byte preamble`);
  }
  if (!raw.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new SnapshotFormatError('bad magic: it does not start with NSSNAP');
  }
  if (raw[MAGIC.length] !== LAYOUT_VERSION) {
    throw new SnapshotFormatError(`unknown layout version ${raw[MAGIC.length]}; this reader reads version ${LAYOUT_VERSION}`);
  }
  const [titleCount, applianceCount, clusterCount, headerBytes] = [0, 1, 2, 3].map((i) => raw.readUInt32LE(MAGIC.length + 1 + 4 * i));
  const headerEnd = PREAMBLE_BYTES + headerBytes;
  if (headerEnd > raw.length) {
    throw new SnapshotFormatError(`truncated: the header declares ${headerBytes} bytes, ${raw.length - PREAMBLE_BYTES} are present`);
  }
  if (titleCount * MIN_TITLE_HEADER_BYTES + applianceCount * MIN_APPLIANCE_HEADER_BYTES > headerBytes) {
    throw new SnapshotFormatError(`bad counts: ${titleCount} titles and ${applianceCount} appliances cannot fit a ${headerBytes}-byte header`);
  }
  if (clusterCount > applianceCount) {
    throw new SnapshotFormatError(`bad counts: ${clusterCount} clusters for ${applianceCount} appliances`);
  }
  if (clusterCount > raw.length - headerEnd) {
    throw new SnapshotFormatError(`truncated: ${clusterCount} clusters need at least as many bytes of holdings, ${raw.length - headerEnd} are present`);
  }
  checkSizes(titleCount, applianceCount, clusterCount, 'bad counts');
  const words = Math.ceil(titleCount / 32);
  const header = parseHeader(raw.toString('utf8', PREAMBLE_BYTES, headerEnd));
  checkCounts(header, titleCount, applianceCount, clusterCount);

  const codes = new Uint8Array(clusterCount * titleCount);
  const reader = new HoldingsReader(raw, headerEnd, titleCount);
  const clusters = membersByCluster(header.appliances.cluster, clusterCount).map((members, cluster): CodedCluster => {
    if (members.length === 0) {
      throw new SnapshotFormatError(`bad field clusters[${cluster}]: no appliance is in cluster '${header.clusters[cluster]}'`);
    }
    const clusterCodes = codes.subarray(cluster * titleCount, (cluster + 1) * titleCount);
    const holdings = reader.readCluster(members.length, clusterCodes, header.clusters[cluster]);
    return { clusterId: header.clusters[cluster], members, nodes: new RendezvousNodes(members.map((member) => header.appliances.applianceId[member])), holdings };
  });
  if (reader.remaining() !== 0) {
    throw new SnapshotFormatError(`${reader.remaining()} bytes follow the holdings of the last cluster`);
  }

  let bits: Uint32Array | undefined;
  const bitsets = (): Uint32Array => (bits ??= bitsetsOf(clusters, header.titles, applianceCount));
  const columns = header.appliances;
  const appliances = columns.applianceId.map((applianceId, i): SnapshotAppliance => {
    const appliance = {
      applianceId,
      clusterId: header.clusters[columns.cluster[i]],
      region: header.regions[columns.region[i]],
      baseUrl: columns.baseUrl[i],
      prefixes: header.prefixSets[columns.prefixSet[i]],
      ...optional('reportedAtMs', columns.reportedAtMs[i]),
      ...optional('load', columns.load[i]),
      ...optional('errorRate', columns.errorRate[i]),
      registrationVersion: columns.registrationVersion[i],
      ...optional('holdingsDigest', columns.holdingsDigest[i]),
    };
    let holdings: Uint32Array | undefined;
    return Object.defineProperty(appliance, 'holdings', { enumerable: true, get: () => (holdings ??= bitsets().subarray(i * words, (i + 1) * words)) }) as SnapshotAppliance;
  });
  Object.freeze(appliances);
  const snapshot: SteeringSnapshot = { format: SNAPSHOT_FORMAT, region: header.region, builtAtMs: header.builtAtMs, titles: header.titles, appliances };
  checkSnapshot(snapshot, 'bad field', false);
  decoded.set(appliances, { titles: header.titles, clusters });
  return snapshot;
}

/** One cluster as the codec and the steering index see it. */
export interface CodedCluster {
  readonly clusterId: string;
  /** Its appliances' positions in the snapshot, in snapshot order. */
  readonly members: readonly number[];
  /** Rendezvous hashing over its appliances' ids, positions in `members` order. */
  readonly nodes: RendezvousNodes;
  readonly holdings: ClusterHoldings;
}

/** The clusters of decoded snapshots, by their appliance lists: what `codedClusters` answers without computing. */
const decoded = new WeakMap<readonly SnapshotAppliance[], { titles: readonly string[]; clusters: readonly CodedCluster[] }>();

/**
 * A snapshot's clusters, in order of first appearance, with their holder codes: as decoded, for a
 * snapshot `decodeSnapshot` returned; otherwise coded from the bitsets.
 */
export function codedClusters(snapshot: Pick<SteeringSnapshot, 'titles' | 'appliances'>, cache?: HoldingsCodeCache): readonly CodedCluster[] {
  const known = decoded.get(snapshot.appliances);
  if (known && known.titles === snapshot.titles) {
    return known.clusters;
  }
  const titleCount = snapshot.titles.length;
  const titleHashes = Uint32Array.from(snapshot.titles, hash32);
  const clusters = tableOf(snapshot.appliances.map((appliance) => appliance.clusterId));
  if (cache) {
    cache.coded = 0;
    cache.keepOnly(new Set(clusters.values));
  }
  return membersByCluster(clusters.indices, clusters.values.length).map((members, cluster) => {
    const clusterId = clusters.values[cluster];
    const nodes = new RendezvousNodes(members.map((member) => snapshot.appliances[member].applianceId));
    const known = cache?.lookup(snapshot, clusterId, members);
    if (known?.holdings) {
      return { clusterId, members, nodes, holdings: known.holdings };
    }
    const holdings = codeCluster(
      members.map((member) => snapshot.appliances[member].holdings),
      nodes,
      titleHashes,
      new Uint8Array(titleCount),
    );
    cache?.remember(clusterId, known!.key, holdings);
    return { clusterId, members, nodes, holdings };
  });
}

/** Every appliance's bitset, in one shared buffer, from the clusters' codes. */
function bitsetsOf(clusters: readonly CodedCluster[], titles: readonly string[], applianceCount: number): Uint32Array {
  const words = Math.ceil(titles.length / 32);
  const bits = new Uint32Array(applianceCount * words);
  const titleHashes = Uint32Array.from(titles, hash32);
  for (const cluster of clusters) {
    materialize(
      cluster.holdings,
      cluster.nodes,
      titleHashes,
      cluster.members.map((member) => member * words),
      bits,
    );
  }
  return bits;
}

/** Orders a dictionary by how many appliances hold each title (most first, then id), remapping bitsets: what the builder calls before encoding. */
export function orderByHolders(snapshot: SteeringSnapshot): SteeringSnapshot {
  checkSnapshot(snapshot, 'cannot order');
  const titleCount = snapshot.titles.length;
  const holders = new Int32Array(titleCount);
  for (const { holdings } of snapshot.appliances) {
    for (let word = 0; word < holdings.length; word++) {
      for (let rest = holdings[word]; rest !== 0; rest &= rest - 1) {
        holders[word * 32 + 31 - Math.clz32(rest & -rest)]++;
      }
    }
  }
  const order = Array.from({ length: titleCount }, (_, title) => title).sort((a, b) => holders[b] - holders[a] || compareIds(snapshot.titles[a], snapshot.titles[b]));
  if (order.every((title, position) => title === position)) {
    return snapshot;
  }
  const newIndex = new Int32Array(titleCount);
  order.forEach((title, position) => (newIndex[title] = position));
  const words = Math.ceil(titleCount / 32);
  const bits = new Uint32Array(snapshot.appliances.length * words);
  const appliances = snapshot.appliances.map((appliance, i) => {
    const holdings = bits.subarray(i * words, (i + 1) * words);
    for (let word = 0; word < words; word++) {
      for (let rest = appliance.holdings[word]; rest !== 0; rest &= rest - 1) {
        const bit = newIndex[word * 32 + 31 - Math.clz32(rest & -rest)];
        holdings[bit >>> 5] |= 1 << (bit & 31);
      }
    }
    return { ...appliance, holdings };
  });
  return { ...snapshot, titles: order.map((title) => snapshot.titles[title]), appliances };
}

function inflate(bytes: Uint8Array): Buffer {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) {
    throw new SnapshotFormatError(`bad magic: not gzip-compressed (${bytes.length < 2 ? `${bytes.length} bytes` : `it starts with 0x${Buffer.from(bytes.subarray(0, 2)).toString('hex')}`})`);
  }
  try {
    return gunzipSync(bytes, { maxOutputLength: MAX_RAW_BYTES, chunkSize: INFLATE_CHUNK_BYTES });
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    if (code === 'ERR_BUFFER_TOO_LARGE') {
      throw new SnapshotFormatError(`too large: it decompresses to more than ${MAX_RAW_BYTES} bytes`);
    }
    throw new SnapshotFormatError(code === 'Z_BUF_ERROR' ? 'truncated: the gzip stream ends early' : `corrupt gzip stream: ${message}`);
  }
}

function parseHeader(text: string): Header {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new SnapshotFormatError(`the header is not JSON: ${(error as Error).message}`);
  }
  const header = record(value, 'header');
  if (header.format !== SNAPSHOT_FORMAT) {
    throw new SnapshotFormatError(`unknown format ${JSON.stringify(header.format)}; this reader reads ${SNAPSHOT_FORMAT}`);
  }
  const appliances = record(header.appliances, 'appliances');
  for (const name of ['titles', 'clusters', 'regions', 'prefixSets']) {
    list(header[name], name);
  }
  for (const name of APPLIANCE_COLUMNS) {
    list(appliances[name], `appliances.${name}`);
  }
  return value as Header;
}

/** Checks that the columns have one entry per appliance and every table index is in its table. */
/** What a decoder may allocate for a snapshot's bitsets and codes: both sides hold snapshots to it. */
function checkSizes(titleCount: number, applianceCount: number, clusterCount: number, problem: string): void {
  const words = Math.ceil(titleCount / 32);
  if (applianceCount * words * 4 > MAX_BITSET_BYTES) {
    throw new SnapshotFormatError(`${problem}: ${applianceCount} appliances over ${titleCount} titles need ${applianceCount * words * 4} bytes of bitsets, more than the ${MAX_BITSET_BYTES} allowed`);
  }
  if (clusterCount * titleCount > MAX_CODE_BYTES) {
    throw new SnapshotFormatError(`${problem}: ${clusterCount} clusters over ${titleCount} titles need ${clusterCount * titleCount} bytes of holder codes, more than the ${MAX_CODE_BYTES} allowed`);
  }
}

function checkCounts(header: Header, titleCount: number, applianceCount: number, clusterCount: number): void {
  const expect = (name: string, length: number, wanted: number) => {
    if (length !== wanted) {
      throw new SnapshotFormatError(`bad field ${name}: ${length} entries where the preamble declares ${wanted}`);
    }
  };
  expect('titles', header.titles.length, titleCount);
  expect('clusters', header.clusters.length, clusterCount);
  for (const name of APPLIANCE_COLUMNS) {
    expect(`appliances.${name}`, header.appliances[name].length, applianceCount);
  }
  const clusters = new Set<unknown>();
  header.clusters.forEach((clusterId, i) => {
    if (clusters.has(clusterId)) {
      throw new SnapshotFormatError(`bad field clusters[${i}]: ${JSON.stringify(clusterId)} is in the table twice`);
    }
    clusters.add(clusterId);
  });
  const tables = { cluster: header.clusters, region: header.regions, prefixSet: header.prefixSets } as const;
  for (const [name, table] of Object.entries(tables)) {
    header.appliances[name as keyof typeof tables].forEach((index, i) => {
      if (!Number.isInteger(index) || index < 0 || index >= table.length) {
        throw new SnapshotFormatError(`bad field appliances.${name}[${i}]: ${JSON.stringify(index)} is not an index into its table of ${table.length}`);
      }
    });
  }
}

/**
 * What both sides refuse: ids and URLs that are not non-empty strings, numbers that are not
 * finite, a title twice in the dictionary, an appliance id twice, and holdings that are not one
 * bit per title (a bit past the dictionary included). A decoded snapshot's holdings are left out
 * (`withHoldings` false): their codes were checked as they were read, and looking at the bitsets
 * would compute them.
 */
function checkSnapshot(snapshot: SteeringSnapshot, problem: string, withHoldings = true): void {
  const fail = (field: string, rule: string) => {
    throw new SnapshotFormatError(`${problem} ${field}: ${rule}`);
  };
  if (snapshot.format !== SNAPSHOT_FORMAT) {
    fail('format', `must be ${SNAPSHOT_FORMAT}, not ${JSON.stringify(snapshot.format)}`);
  }
  if (!isId(snapshot.region)) {
    fail('region', 'must be a non-empty string');
  }
  if (!Number.isFinite(snapshot.builtAtMs)) {
    fail('builtAtMs', 'must be a finite number');
  }
  const titles = new Set<string>();
  snapshot.titles.forEach((titleId, i) => {
    if (!isId(titleId) || titles.has(titleId)) {
      fail(`titles[${i}]`, titles.has(titleId) ? `'${titleId}' is in the dictionary twice` : 'must be a non-empty string');
    }
    titles.add(titleId);
  });
  const words = Math.ceil(snapshot.titles.length / 32);
  const lastWordMask = snapshot.titles.length % 32 === 0 ? 0 : ~0 << snapshot.titles.length % 32;
  const ids = new Set<string>();
  snapshot.appliances.forEach((appliance, i) => {
    const field = (name: string) => `appliances[${i}].${name}`;
    for (const name of ['applianceId', 'clusterId', 'region', 'baseUrl'] as const) {
      if (!isId(appliance[name])) {
        fail(field(name), 'must be a non-empty string');
      }
    }
    if (ids.has(appliance.applianceId)) {
      fail(field('applianceId'), `'${appliance.applianceId}' appears twice`);
    }
    ids.add(appliance.applianceId);
    if (!Array.isArray(appliance.prefixes) || !appliance.prefixes.every((prefix) => typeof prefix === 'string')) {
      fail(field('prefixes'), 'must be a list of strings');
    }
    for (const name of ['reportedAtMs', 'load', 'errorRate'] as const) {
      if (appliance[name] !== undefined && !Number.isFinite(appliance[name])) {
        fail(field(name), 'must be a finite number or absent');
      }
    }
    if (!Number.isFinite(appliance.registrationVersion)) {
      fail(field('registrationVersion'), 'must be a finite number');
    }
    if (appliance.holdingsDigest !== undefined && !isId(appliance.holdingsDigest)) {
      fail(field('holdingsDigest'), 'must be a non-empty string or absent');
    }
    if (!withHoldings) {
      return;
    }
    if (!(appliance.holdings instanceof Uint32Array) || appliance.holdings.length !== words) {
      fail(field('holdings'), `must be a Uint32Array of ${words} words, one bit per title`);
    }
    if (words > 0 && (appliance.holdings[words - 1] & lastWordMask) !== 0) {
      fail(field('holdings'), `holds a title past the dictionary of ${snapshot.titles.length}`);
    }
  });
}

/** Appliance positions by cluster index, in appliance order. */
function membersByCluster(clusterOf: readonly number[], clusterCount: number): number[][] {
  const members = Array.from({ length: clusterCount }, (): number[] => []);
  clusterOf.forEach((cluster, appliance) => members[cluster].push(appliance));
  return members;
}

/** Distinct values in order of first appearance, and each input's index among them. */
function tableOf(values: readonly string[]): { values: string[]; indices: number[] } {
  const positions = new Map<string, number>();
  const indices = values.map((value) => {
    let position = positions.get(value);
    if (position === undefined) {
      position = positions.size;
      positions.set(value, position);
    }
    return position;
  });
  return { values: [...positions.keys()], indices };
}

function optional<K extends string, V>(name: K, value: V | null): { [key in K]?: V } {
  return (value === null ? {} : { [name]: value }) as { [key in K]?: V };
}

function record(value: unknown, name: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SnapshotFormatError(`bad field ${name}: must be an object`);
  }
  return value as Record<string, unknown>;
}

function list(value: unknown, name: string): unknown[] {
  if (!Array.isArray(value)) {
    throw new SnapshotFormatError(`bad field ${name}: must be a list`);
  }
  return value;
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
