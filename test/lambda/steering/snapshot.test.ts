import { gunzipSync, gzipSync } from 'node:zlib';
import { decodeSnapshot, encodeSnapshot, HoldingsCodeCache, orderByHolders, SNAPSHOT_FORMAT, SnapshotAppliance, SnapshotFormatError, SteeringSnapshot } from '../../../lambda/steering/snapshot';
import { random } from '../../../simulator/synthetic';

const BUILT_AT_MS = 1_800_000_000_000;
/** Magic and layout version, then four u32 counts: titles, appliances, clusters, header bytes. */
const PREAMBLE_BYTES = 24;

function titles(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `title-${i}`);
}

function bitsOf(titleCount: number, held: readonly number[]): Uint32Array {
  const bits = new Uint32Array(Math.ceil(titleCount / 32));
  for (const bit of held) {
    bits[bit >>> 5] |= 1 << (bit & 31);
  }
  return bits;
}

function heldBy(appliance: SnapshotAppliance, dictionary: readonly string[]): string[] {
  return dictionary.filter((_, bit) => ((appliance.holdings[bit >>> 5] >>> (bit & 31)) & 1) === 1);
}

function appliance(applianceId: string, titleCount: number, held: readonly number[], overrides: Partial<SnapshotAppliance> = {}): SnapshotAppliance {
  return {
    applianceId,
    clusterId: 'isp-a',
    region: 'us-east-1',
    baseUrl: `https://${applianceId}.isp-a.example`,
    prefixes: ['198.51.100.0/24'],
    reportedAtMs: BUILT_AT_MS - 5_000,
    load: 0.25,
    errorRate: 0.001,
    registrationVersion: BUILT_AT_MS - 86_400_000,
    holdingsDigest: 'Zm9vYmFyYmF6cXV4cXV1eA',
    holdings: bitsOf(titleCount, held),
    ...overrides,
  };
}

function snapshot(titleIds: readonly string[], appliances: readonly SnapshotAppliance[]): SteeringSnapshot {
  return { format: SNAPSHOT_FORMAT, region: 'us-east-1', builtAtMs: BUILT_AT_MS, titles: titleIds, appliances };
}

/** Who holds what, by ids: what a snapshot means, whatever its dictionary order. */
function meaning(decoded: SteeringSnapshot) {
  return decoded.appliances.map((entry) => {
    const { holdings: _bits, ...fields } = entry;
    return { ...fields, titles: heldBy(entry, decoded.titles).sort() };
  });
}

/**
 * A seeded fleet exercising every holdings encoding: clusters of 1, 3, 14 (codes two to a byte),
 * 15 (a byte each) and 300 appliances (a varint each), titles held by one, some, all and none.
 */
function mixedFleet(titleCount: number): SteeringSnapshot {
  const next = random(7);
  const dictionary = titles(titleCount);
  const appliances: SnapshotAppliance[] = [];
  for (const [cluster, size] of [1, 3, 14, 15, 300].entries()) {
    const everywhere = Array.from({ length: titleCount }, (_, bit) => bit).filter(() => next() < 0.1);
    for (let i = 0; i < size; i++) {
      const held = Array.from({ length: titleCount }, (_, bit) => bit).filter((bit) => everywhere.includes(bit) || next() < 2 / size);
      appliances.push(appliance(`oca-${cluster}-${i}`, titleCount, held, { clusterId: `isp-${cluster}`, region: cluster % 2 === 0 ? 'us-east-1' : 'eu-west-1', prefixes: [`10.0.${cluster}.0/24`] }));
    }
  }
  return snapshot(dictionary, appliances);
}

/** The parts of an encoded snapshot, once gunzipped, so a test can forge one. */
function parts(bytes: Buffer): { preamble: Buffer; header: Record<string, unknown>; holdings: Buffer } {
  const raw = gunzipSync(bytes);
  const headerBytes = raw.readUInt32LE(PREAMBLE_BYTES - 4);
  return {
    preamble: Buffer.from(raw.subarray(0, PREAMBLE_BYTES)),
    header: JSON.parse(raw.toString('utf8', PREAMBLE_BYTES, PREAMBLE_BYTES + headerBytes)) as Record<string, unknown>,
    holdings: Buffer.from(raw.subarray(PREAMBLE_BYTES + headerBytes)),
  };
}

/** Gzip'd bytes from forged parts; the header's length is set to fit, the counts are left to the caller. */
function forge({ preamble, header, holdings }: { preamble: Buffer; header: unknown; holdings: Buffer }): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const fitted = Buffer.from(preamble);
  fitted.writeUInt32LE(json.length, PREAMBLE_BYTES - 4);
  return gzipSync(Buffer.concat([fitted, json, holdings]));
}

function decodeError(bytes: Uint8Array): Error {
  try {
    decodeSnapshot(bytes);
  } catch (error) {
    return error as Error;
  }
  throw new Error('decoded without an error');
}

describe('steering snapshot encoding', () => {
  it('decodes to the same fleet it encoded: ids, health, registration, holdings', () => {
    const dictionary = titles(5);
    const original = snapshot(dictionary, [
      appliance('oca-1', 5, [0, 2, 4], { prefixes: ['198.51.100.0/24', '2001:db8:100::/48'] }),
      appliance('oca-2', 5, [1], { clusterId: 'isp-b', region: 'eu-west-1', baseUrl: 'https://oca-2.isp-b.example', load: 0.91, errorRate: 0.2 }),
    ]);

    const decoded = decodeSnapshot(encodeSnapshot(original));

    expect({ ...decoded, appliances: meaning(decoded) }).toEqual({ ...original, appliances: meaning(original) });
    expect(decoded.appliances.map((entry) => Array.from(entry.holdings))).toEqual(original.appliances.map((entry) => Array.from(entry.holdings)));
  });

  it('leaves optional fields absent when they were absent, rather than undefined or null', () => {
    const { reportedAtMs: _r, load: _l, errorRate: _e, holdingsDigest: _d, ...bare } = appliance('oca-new', 3, []);

    const [decoded] = decodeSnapshot(encodeSnapshot(snapshot(titles(3), [bare]))).appliances;

    expect(Object.keys(decoded).sort()).toEqual(['applianceId', 'baseUrl', 'clusterId', 'holdings', 'prefixes', 'region', 'registrationVersion']);
  });

  it('round-trips an empty fleet, and a dictionary no appliance holds anything of', () => {
    const empty = decodeSnapshot(encodeSnapshot(snapshot([], [])));
    const idle = decodeSnapshot(encodeSnapshot(snapshot(titles(3), [appliance('oca-idle', 3, [])])));

    expect(empty).toMatchObject({ titles: [], appliances: [], region: 'us-east-1', builtAtMs: BUILT_AT_MS });
    expect(idle.titles).toEqual(titles(3));
    expect(heldBy(idle.appliances[0], idle.titles)).toEqual([]);
  });

  it('keeps holdings exact over a dictionary that is not a multiple of 32, with titles no one holds', () => {
    const dictionary = titles(70);
    const original = snapshot(dictionary, [appliance('oca-1', 70, [0, 31, 32, 63, 64, 69]), appliance('oca-2', 70, [5, 69]), appliance('oca-3', 70, [])]);

    const decoded = decodeSnapshot(encodeSnapshot(original));

    expect(decoded.appliances.map((entry) => heldBy(entry, dictionary))).toEqual([
      ['title-0', 'title-31', 'title-32', 'title-63', 'title-64', 'title-69'],
      ['title-5', 'title-69'],
      [],
    ]);
    expect(decoded.appliances.every((entry) => entry.holdings.length === 3)).toBe(true);
  });

  it('keeps holdings exact in clusters of every size, for titles held by one, some and all appliances of a cluster', () => {
    const original = mixedFleet(101);

    const decoded = decodeSnapshot(encodeSnapshot(original));

    expect(meaning(decoded)).toEqual(meaning(original));
  });

  it('hands out every appliance\'s bitset from one shared buffer', () => {
    const decoded = decodeSnapshot(encodeSnapshot(mixedFleet(40)));

    expect(new Set(decoded.appliances.map((entry) => entry.holdings.buffer)).size).toBe(1);
  });

  it.each([
    ['a bit past the dictionary', (s: SteeringSnapshot) => ({ ...s, appliances: [{ ...s.appliances[0], holdings: bitsOf(40, [40]) }] }), /appliances\[0\]\.holdings: holds a title past the dictionary of 40/],
    ['bitsets of the wrong length', (s: SteeringSnapshot) => ({ ...s, appliances: [{ ...s.appliances[0], holdings: new Uint32Array(1) }] }), /appliances\[0\]\.holdings: must be a Uint32Array of 2 words/],
    ['a title twice in the dictionary', (s: SteeringSnapshot) => ({ ...s, titles: [...s.titles.slice(0, 39), 'title-0'] }), /titles\[39\]: 'title-0' is in the dictionary twice/],
    ['an appliance id twice', (s: SteeringSnapshot) => ({ ...s, appliances: [s.appliances[0], s.appliances[0]] }), /appliances\[1\]\.applianceId: 'oca-1' appears twice/],
    ['a load that is not a number', (s: SteeringSnapshot) => ({ ...s, appliances: [{ ...s.appliances[0], load: Number.NaN }] }), /appliances\[0\]\.load: must be a finite number/],
    ['an empty cluster id', (s: SteeringSnapshot) => ({ ...s, appliances: [{ ...s.appliances[0], clusterId: '' }] }), /appliances\[0\]\.clusterId: must be a non-empty string/],
  ])('refuses to encode %s, naming the field', (_label, spoil, message) => {
    const valid = snapshot(titles(40), [appliance('oca-1', 40, [3])]);

    expect(() => encodeSnapshot(spoil(valid))).toThrow(SnapshotFormatError);
    expect(() => encodeSnapshot(spoil(valid))).toThrow(message);
  });
});

describe('orderByHolders', () => {
  it('puts the most-held titles first, ties by id, and keeps who holds what', () => {
    const dictionary = ['t-rare', 't-none', 't-b-common', 't-a-common', 't-all'];
    const original = snapshot(dictionary, [
      appliance('oca-1', 5, [0, 2, 3, 4]),
      appliance('oca-2', 5, [2, 3, 4]),
      appliance('oca-3', 5, [4], { clusterId: 'isp-b' }),
    ]);

    const ordered = orderByHolders(original);

    expect(ordered.titles).toEqual(['t-all', 't-a-common', 't-b-common', 't-rare', 't-none']);
    expect(meaning(ordered)).toEqual(meaning(original));
    expect(original.titles).toEqual(dictionary);
  });

  it('keeps who holds what over a large seeded fleet, through encoding too', () => {
    const original = mixedFleet(77);

    expect(meaning(decodeSnapshot(encodeSnapshot(orderByHolders(original))))).toEqual(meaning(original));
  });
});

describe('decoding hostile bytes', () => {
  const valid = encodeSnapshot(mixedFleet(45));

  const expectRefused = (bytes: Uint8Array, message: RegExp) => {
    const error = decodeError(bytes);
    expect(error).toBeInstanceOf(SnapshotFormatError);
    expect(error.message).toMatch(message);
  };

  it('refuses random garbage, gzip\'d or not', () => {
    const next = random(11);
    for (const length of [0, 1, 2, 3, 10, 100, 1000, 10_000]) {
      const garbage = Uint8Array.from({ length }, () => Math.floor(next() * 256));
      expectRefused(garbage, /bad magic|corrupt|truncated/);
      expectRefused(Buffer.concat([Buffer.from([0x1f, 0x8b]), garbage]), /corrupt|truncated/);
      expectRefused(gzipSync(garbage), /bad magic|truncated/);
    }
  });

  it('says a snapshot cut short anywhere is truncated', () => {
    for (let length = 0; length < valid.length; length += length < 64 ? 1 : 97) {
      expectRefused(valid.subarray(0, length), /truncated|bad magic/);
    }
  });

  it('refuses any change to the bytes inside the compression with a format error, or decodes a snapshot that is valid', () => {
    const raw = gunzipSync(valid);
    const next = random(3);
    for (let trial = 0; trial < 300; trial++) {
      const spoiled = Buffer.from(raw);
      for (let flips = 1 + Math.floor(next() * 3); flips > 0; flips--) {
        spoiled[Math.floor(next() * spoiled.length)] = Math.floor(next() * 256);
      }
      try {
        encodeSnapshot(decodeSnapshot(gzipSync(spoiled)));
      } catch (error) {
        expect(error).toBeInstanceOf(SnapshotFormatError);
      }
    }
  });

  it.each([
    ['titles', 0],
    ['appliances', 1],
  ])('refuses a preamble claiming 10^9 %s with a small header, before allocating for them', (_label, count) => {
    const forged = parts(valid);
    forged.preamble.writeUInt32LE(1e9, PREAMBLE_BYTES - 16 + 4 * count);

    expectRefused(forge(forged), /bad counts: .*1000000000 .* cannot fit a \d+-byte header/);
  });

  it('refuses a header whose lists disagree with the counts it declares', () => {
    const forged = parts(valid);
    const columns = forged.header.appliances as Record<string, unknown[]>;

    expectRefused(forge({ ...forged, header: { ...forged.header, appliances: { ...columns, load: columns.load.slice(1) } } }), /bad field appliances\.load: \d+ entries where the preamble declares \d+/);
  });

  it('refuses holdings that name a title past the dictionary', () => {
    const forged = parts(encodeSnapshot(snapshot(titles(40), [appliance('oca-1', 40, [39])])));
    forged.preamble.writeUInt32LE(39, PREAMBLE_BYTES - 16);

    expectRefused(forge({ ...forged, header: { ...forged.header, titles: titles(39) } }), /runs reach title index 39, past the dictionary of 39 titles/);
  });

  it('refuses a holder code naming an appliance the cluster does not have', () => {
    const forged = parts(encodeSnapshot(snapshot(titles(2), [appliance('oca-1', 2, [0]), appliance('oca-2', 2, [0, 1])])));
    // Cluster isp-a: two runs of (code, length): title-0 on the first 2 of its order, title-1 on the first 1.
    expect([...forged.holdings]).toEqual([2, 2, 1, 1, 1]);

    expectRefused(forge({ ...forged, holdings: Buffer.from([2, 2, 1, 9, 1]) }), /holder code 9 for a cluster of 2 appliances/);
  });

  it('refuses bytes after the last cluster', () => {
    const forged = parts(valid);

    expectRefused(forge({ ...forged, holdings: Buffer.concat([forged.holdings, Buffer.from([0])]) }), /1 bytes follow the holdings of the last cluster/);
  });

  it.each([
    ['magic', (raw: Buffer) => raw.write('XX', 0, 'latin1'), /bad magic: it does not start with NSSNAP/],
    ['layout version', (raw: Buffer) => raw.writeUInt8(2, 7), /unknown layout version 2/],
  ])('refuses a wrong %s', (_label, spoil, message) => {
    const raw = gunzipSync(valid);
    spoil(raw);

    expectRefused(gzipSync(raw), message);
  });

  it('refuses an unknown format and fields of the wrong type, naming them', () => {
    const forged = parts(valid);
    const columns = forged.header.appliances as Record<string, unknown[]>;

    expectRefused(forge({ ...forged, header: { ...forged.header, format: 'nearstream-steering-snapshot/v2' } }), /unknown format "nearstream-steering-snapshot\/v2"/);
    expectRefused(forge({ ...forged, header: { ...forged.header, appliances: { ...columns, load: ['high', ...columns.load.slice(1)] } } }), /bad field appliances\[0\]\.load: must be a finite number/);
    expectRefused(forge({ ...forged, header: { ...forged.header, appliances: { ...columns, cluster: [99, ...columns.cluster.slice(1)] } } }), /bad field appliances\.cluster\[0\]: 99 is not an index into its table/);
    expectRefused(forge({ ...parts(encodeSnapshot(snapshot([], []))), header: [] }), /bad field header: must be an object/);
  });

  it('refuses a gzip bomb once it has inflated to the cap (256 MiB, 4 times the benchmark fleet\'s snapshot), not after', () => {
    // Gzip members concatenate: 300 of 1 MiB of zeros each, about 1 KB compressed apiece.
    const bomb = Buffer.concat(Array.from({ length: 300 }, () => gzipSync(Buffer.alloc(1024 * 1024))));

    expectRefused(bomb, /too large: it decompresses to more than 268435456 bytes/);
  });
});

describe('a builder\'s holdings code cache', () => {
  const dictionary = titles(70);
  const fleet = (changed?: string) =>
    snapshot(dictionary, [
      appliance('oca-1', 70, [1, 2, 3]),
      appliance('oca-2', 70, changed === 'oca-2' ? [4] : [4, 5]),
      appliance('oca-9', 70, [6, 7], { clusterId: 'isp-b' }),
      appliance('oca-8', 70, [6], { clusterId: 'isp-b', holdingsDigest: undefined }),
    ].map((entry) => (entry.applianceId === changed ? { ...entry, holdingsDigest: 'Y2hhbmdlZA' } : entry)));

  it('codes again only clusters whose appliances\' holdings digests changed, and encodes the same bytes as without it', () => {
    const cache = new HoldingsCodeCache();
    encodeSnapshot(fleet(), cache);
    const firstCoded = cache.coded;
    const unchanged = encodeSnapshot(fleet(), cache);
    const unchangedCoded = cache.coded;
    const changed = encodeSnapshot(fleet('oca-2'), cache);

    // isp-b has an appliance without a digest: its holdings cannot be recognised, so it is always coded.
    expect([firstCoded, unchangedCoded, cache.coded]).toEqual([2, 1, 2]);
    expect(unchanged.equals(encodeSnapshot(fleet()))).toBe(true);
    expect(meaning(decodeSnapshot(changed))).toEqual(meaning(fleet('oca-2')));
  });

  it('keeps the codes of unchanged clusters when titles are only appended, and decodes what the snapshot says', () => {
    const cache = new HoldingsCodeCache();
    encodeSnapshot(fleet(), cache);
    const longer = titles(80);
    const grown = snapshot(longer, [
      ...fleet().appliances.map((entry) => ({ ...entry, holdings: Uint32Array.from({ length: 3 }, (_, word) => entry.holdings[word] ?? 0) })),
      appliance('oca-7', 80, [75, 79], { clusterId: 'isp-c' }),
    ]);
    const bytes = encodeSnapshot(grown, cache);

    // isp-a kept its codes; isp-b (an appliance without a digest) and the new isp-c were coded.
    expect(cache.coded).toBe(2);
    expect(meaning(decodeSnapshot(bytes))).toEqual(meaning(grown));
  });

  it('codes everything again over another dictionary', () => {
    const cache = new HoldingsCodeCache();
    encodeSnapshot(fleet(), cache);
    const reordered = orderByHolders(fleet());
    encodeSnapshot(reordered, cache);
    expect(cache.coded).toBe(2);
    expect(meaning(decodeSnapshot(encodeSnapshot(reordered, cache)))).toEqual(meaning(fleet()));
  });
});

describe('encoding a fleet no decoder would take', () => {
  it('refuses it, naming the limit, rather than writing a snapshot every play function would refuse', () => {
    const dictionary = titles(50_000);
    const shared = new Uint32Array(Math.ceil(dictionary.length / 32));
    // 11,000 sites of one appliance each: one byte of holder code per site and title is over 512 MiB.
    const sites = Array.from({ length: 11_000 }, (_, i) => appliance(`oca-${i}`, 0, [], { clusterId: `isp-${i}`, holdings: shared }));
    expect(() => encodeSnapshot(snapshot(dictionary, sites))).toThrow(/cannot encode: 11000 clusters over 50000 titles need 550000000 bytes of holder codes/);
  });
});
