import * as fs from 'node:fs';
import * as path from 'node:path';
import { REQUEST_LIMITS } from '../../../lambda/shared/control-table';
import { checkManifest, FillManifest, ManifestExpectations, ManifestRejectedError, objectKeyProblem, objectsForAppliance, placementOrder, signManifest, verifyManifest } from '../../../lambda/shared/fill-manifest';
import { parseKeyring } from '../../../lambda/shared/url-token';
import { TEST_KEYRING } from '../../support/fixtures';

const NOW = Date.parse('2026-11-21T02:00:00Z');
const object = (key: string, size = 10, titleId = 't1') => ({ key, size, sha256: 'a'.repeat(64), titleId });
const base = {
  clusterId: 'isp-a',
  generation: 5,
  createdAt: '2026-11-21T01:00:00.000Z',
  validUntil: '2026-11-22T01:00:00.000Z',
  objects: [object('titles/t1/avc1/index.m3u8'), object('titles/t1/avc1/seg-1.m4s', 100)],
};
const expectations = { keyring: TEST_KEYRING, clusterId: 'isp-a', currentGeneration: 4, nowMs: NOW, diskBudgetBytes: 1000, applianceId: 'oca-1' };

function rejection(text: string, overrides: Partial<ManifestExpectations> = {}): string {
  try {
    verifyManifest(text, { ...expectations, ...overrides });
  } catch (error) {
    expect(error).toBeInstanceOf(ManifestRejectedError);
    return (error as ManifestRejectedError).reason;
  }
  throw new Error('expected the manifest to be rejected');
}

const signed = (changes: Partial<Omit<FillManifest, 'format'>> = {}) => JSON.stringify(signManifest({ ...base, ...changes }, TEST_KEYRING));

describe('fill manifests', () => {
  it('round-trips: what the planner signs, the appliance accepts', () => {
    expect(verifyManifest(signed(), expectations)).toMatchObject({ clusterId: 'isp-a', generation: 5, objects: base.objects });
  });

  it('accepts the same generation again, so an interrupted fill resumes', () => {
    expect(verifyManifest(signed(), { ...expectations, currentGeneration: 5 }).generation).toBe(5);
  });

  it('verifies manifests signed with an older key still in the ring', () => {
    const old = parseKeyring(JSON.stringify({ activeKeyId: 'k0', k0: 'z'.repeat(40) }));
    const both = parseKeyring(JSON.stringify({ activeKeyId: 'k1', k0: 'z'.repeat(40), k1: 'test-signing-key-'.padEnd(48, 'x') }));
    expect(verifyManifest(JSON.stringify(signManifest(base, old)), { ...expectations, keyring: both }).signature.keyId).toBe('k0');
  });

  it.each([
    ['malformed JSON', '{"format":', /^malformed JSON/],
    ['a missing signature', JSON.stringify({ ...JSON.parse(signed()), signature: undefined }), /^signature is missing$/],
    ['an unknown key id', JSON.stringify({ ...JSON.parse(signed()), signature: { ...JSON.parse(signed()).signature, keyId: 'k9' } }), /key id 'k9' is not in the key ring/],
    ['an edited object', signed().replace('"size":100', '"size":101'), /^signature does not match$/],
    ['an edited generation', signed().replace('"generation":5', '"generation":6'), /^signature does not match$/],
    ['another cluster', signed({ clusterId: 'isp-b' }), /is for cluster 'isp-b', not 'isp-a'/],
    ['an expired manifest', signed({ validUntil: '2026-11-21T01:59:59.000Z' }), /^expired at/],
    ['an older generation', signed({ generation: 3 }), /generation 3 is older than the applied generation 4/],
    ['an absolute path', signed({ objects: [object('/etc/passwd')] }), /'\/etc\/passwd' is an absolute path/],
    ['a .. segment', signed({ objects: [object('titles/../../etc/passwd')] }), /has an empty, '\.' or '\.\.' path segment/],
    ['a duplicate key', signed({ objects: [object('titles/t1/a'), object('titles/t1/a')] }), /'titles\/t1\/a' is listed twice/],
    ['more bytes than the disk budget', signed({ objects: [object('titles/t1/big', 2000)] }), /places 2000 bytes on 'oca-1'; the disk budget is 1000/],
    ['a bad object entry', signed({ objects: [{ key: 'titles/t1/a', size: -1, sha256: 'x', titleId: 't1' }] }), /objects\[0\] needs/],
    ['edited placements', signed({ placements: { 'oca-1': ['t1'] } }).replace('"oca-1":["t1"]', '"oca-1":["t2"]'), /^signature does not match$/],
    ['placements that are not title lists', signed({ placements: { 'oca-1': 't1' } as never }), /placements\.oca-1 must be a list of title ids/],
  ])('rejects %s, naming the reason', (_label, text, reason) => {
    expect(rejection(text)).toMatch(reason);
  });

  it.each([
    ['a generation past 2^53, where n and n+1 are one number', signed({ generation: 2 ** 60 }), /^generation must be a whole number from 1 to 9007199254740991 \(got 1152921504606847000\)$/],
    ['a generation of zero', signed({ generation: 0 }), /^generation must be a whole number/],
    ['a generation that is a string', signed({ generation: '6' as never }), /^generation must be a whole number/],
    ['a createdAt that is not a timestamp', signed({ createdAt: 'yesterday' }), /^createdAt must be an ISO 8601 UTC instant like .* \(got 'yesterday'\)$/],
    ['a date that does not exist', signed({ createdAt: '2026-02-30T01:00:00.000Z' }), /^createdAt must be an ISO 8601 UTC instant/],
    ['a local time', signed({ validUntil: '2026-11-22T01:00:00+02:00' }), /^validUntil must be an ISO 8601 UTC instant/],
    ['a validUntil before createdAt', signed({ createdAt: '2026-11-21T01:30:00.000Z', validUntil: '2026-11-21T01:00:00.000Z' }), /^validUntil .* is not after createdAt/],
    ['a validity of a year', signed({ validUntil: '2027-11-21T01:00:00.000Z' }), /^it is valid for 8760 hours; the most is 168$/],
    ['a createdAt an hour ahead of the node', signed({ createdAt: '2026-11-21T03:00:00.000Z' }), /^createdAt 2026-11-21T03:00:00.000Z is in the future \(this node's clock says 2026-11-21T02:00:00.000Z\)$/],
    ['a size past 2^53', signed({ objects: [object('titles/t1/a', 2 ** 60)] }), /^objects\[0\] needs/],
    ['a fractional size', signed({ objects: [object('titles/t1/a', 1.5)] }), /^objects\[0\] needs/],
    ['a key outside titles/', signed({ objects: [object('index.html')] }), /'index\.html' is not under titles\/t1\/, where the edge serves title 't1'/],
    ['a key under another title', signed({ objects: [object('titles/t2/a')] }), /is not under titles\/t1\//],
    ['a key that is only its title\'s directory', signed({ objects: [object('titles/t1')] }), /is not under titles\/t1\//],
    ['a NUL', signed({ objects: [object('titles/t1/a\u0000.m4s')] }), /^object key 'titles\/t1\/a\\u\{0\}\.m4s' contains the invisible or control character U\+0000$/],
    ['a newline', signed({ objects: [object('titles/t1/a\n.m4s')] }), /control character U\+000A/],
    ['a zero-width space', signed({ objects: [object('titles/t1/a\u200b.m4s')] }), /U\+200B/],
    ['a no-break space', signed({ objects: [object('titles/t1/a\u00a0.m4s')] }), /U\+00A0/],
    ['a lone surrogate', signed({ objects: [object('titles/t1/a\ud800.m4s')] }), /U\+D800/],
    ['a backslash', signed({ objects: [object('titles/t1/..\\..\\x')] }), /contains a backslash/],
    ['a leading space', signed({ objects: [object('titles/t1/ a.m4s')] }), /leading or trailing spaces/],
    ['a trailing space on a directory', signed({ objects: [object('titles/t1/avc1 /a.m4s')] }), /leading or trailing spaces/],
    ['decomposed Unicode', signed({ objects: [object('titles/t1/cafe\u0301.m4s')] }), /normalization form C/],
    ['a 256-byte file name', signed({ objects: [object(`titles/t1/${'x'.repeat(256)}`)] }), /has a path segment of 256 bytes; file names are at most 255/],
    ['a key of 1,025 bytes', signed({ objects: [object(`titles/t1/${'x/'.repeat(507)}x`)] }), /is 1025 bytes long; S3 keys are at most 1024/],
    ['a key over 4,096 bytes', signed({ objects: [object(`titles/t1/${'x/'.repeat(2043)}xx`)] }), /is 4098 bytes long/],
    ['a key that is another\'s directory', signed({ objects: [object('titles/t1/avc1/a'), object('titles/t1/avc1')] }), /^object key 'titles\/t1\/avc1' is also a directory of 'titles\/t1\/avc1\/a'$/],
    ['the same key with two digests', signed({ objects: [object('titles/t1/a'), { ...object('titles/t1/a'), sha256: 'b'.repeat(64) }] }), /listed twice/],
    ['a placement for a non-id', signed({ placements: { 'oca-1': ['t1'], '../x': ['t1'] } }), /placements: '\.\.\/x' is not an appliance id/],
  ])('rejects %s, naming the reason', (_label, text, reason) => {
    expect(rejection(text)).toMatch(reason);
  });

  it('follows a planner whose numbering restarted: a lower generation made after the applied one is the newer plan', () => {
    expect(verifyManifest(signed({ generation: 1 }), { ...expectations, currentCreatedAt: '2026-11-21T00:30:00.000Z' }).generation).toBe(1);
    expect(rejection(signed({ generation: 3 }), { currentCreatedAt: '2026-11-21T01:00:00.000Z' })).toBe('generation 3 is older than the applied generation 4');
  });

  it('refuses a newer generation made before the applied one, which would otherwise pin the node to a clock in the future', () => {
    expect(rejection(signed({ generation: 6 }), { currentCreatedAt: '2026-11-21T01:30:00.000Z' })).toBe(
      'generation 6 was created at 2026-11-21T01:00:00.000Z, before the applied generation 4 (2026-11-21T01:30:00.000Z)',
    );
    expect(verifyManifest(signed({ generation: 5 }), { ...expectations, currentCreatedAt: '2026-11-21T00:30:00.000Z' }).generation).toBe(5);
  });

  it.each([
    'titles/t1/avc1/index_0_00001.m4s',
    'titles/t1/avc1/index.cap720.m3u8',
    `titles/t1/${'x'.repeat(255)}`,
    `titles/t1/${'x/'.repeat(248)}xx`,
    'titles/t1/__proto__',
  ])('accepts the key %s', (key) => {
    expect(objectKeyProblem(key, 't1')).toBeUndefined();
    expect(verifyManifest(signed({ objects: [object(key)] }), expectations).objects[0].key).toBe(key);
  });

  it.each([
    ['titles/t1/avc1/.hidden', "path segment '.hidden' the edge would not serve"],
    ['titles/t1/avc1/seg 1.m4s', "path segment 'seg 1.m4s' the edge would not serve"],
    ['titles/t1/caf\u00e9/seg.m4s', 'the edge would not serve'],
    ['titles/t1/avc1/50%.m4s', 'the edge would not serve'],
    ['titles/t1/avc1/a?b', 'the edge would not serve'],
    ['titles/t1/avc1/x#y', 'the edge would not serve'],
    ['titles/t1/avc1/a+b~c.m4s', 'the edge would not serve'],
    [`titles/t1/${'x/'.repeat(252)}x`, 'the edge serves keys of at most 512'],
  ])('refuses the key %s, which the edge would refuse to serve', (key, reason) => {
    expect(objectKeyProblem(key, 't1')).toContain(reason);
    expect(rejection(signed({ objects: [object(key)] }))).toContain(reason);
  });

  it('accepts exactly the keys the edge serves behind the longest token (token.js RAW_PATH and MAX_RAW_PATH)', () => {
    const tokenJs = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'appliance-image', 'nginx', 'token.js'), 'utf8');
    const rawPath = new RegExp(/var RAW_PATH = \/(.+)\/;/.exec(tokenJs)![1]);
    const maxRawPath = Number(/var MAX_RAW_PATH = (\d+);/.exec(tokenJs)![1]);
    const longestToken = ['v1', 'k'.repeat(64), '9'.repeat(10), 'a'.repeat(64), 't'.repeat(64), '4320', 'S'.repeat(43)].join('.');
    const samples = ['seg.m4s', '.hidden', 'a..b', '-x', '_x', 'a b', 'a%20b', 'caf\u00e9', 'x.', 'index.cap720.mpd', 'a/b/c.m4s', 'x'.repeat(240), `${'x/'.repeat(250)}x`];
    for (const sample of samples) {
      const key = `titles/t1/${sample}`;
      const served = `/t/${longestToken}/${key}`;
      const edge = served.length <= maxRawPath && rawPath.test(served);
      expect({ key, manifest: objectKeyProblem(key, 't1') === undefined }).toEqual({ key, manifest: edge });
    }
  });

  it('checks a manifest before signing by the same rules, so a planner never signs what appliances refuse', () => {
    expect(() => checkManifest(base)).not.toThrow();
    expect(() => checkManifest({ ...base, validUntil: '2026-12-21T01:00:00.000Z' })).toThrow(ManifestRejectedError);
    expect(() => checkManifest({ ...base, objects: [object('titles/t2/a')] })).toThrow("fill manifest rejected: object key 'titles/t2/a' is not under titles/t1/");
  });

  it('verifies a manifest of 100,000 objects in seconds, not minutes', () => {
    const objects = Array.from({ length: 100_000 }, (_, i) => object(`titles/t${i % 400}/avc1/index_0_${String(i).padStart(6, '0')}.m4s`, 1, `t${i % 400}`));
    const text = signed({ objects });

    const started = performance.now();
    const manifest = verifyManifest(text, { ...expectations, diskBudgetBytes: 1e12 });

    expect(manifest.objects).toHaveLength(100_000);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  describe('with placements', () => {
    const placed = {
      ...base,
      objects: [object('titles/t1/a', 600, 't1'), object('titles/t2/a', 600, 't2')],
      placements: { 'oca-1': ['t1'], 'oca-2': ['t1', 't2'] },
    };

    it('gives each appliance only its titles\' objects, and every object when there are none', () => {
      expect(objectsForAppliance(placed, 'oca-1').map((o) => o.key)).toEqual(['titles/t1/a']);
      expect(objectsForAppliance(placed, 'oca-2').map((o) => o.key)).toEqual(['titles/t1/a', 'titles/t2/a']);
      expect(objectsForAppliance(placed, 'oca-9')).toEqual([]);
      expect(objectsForAppliance(base, 'oca-9')).toHaveLength(2);
    });

    it('checks the disk budget against the verifying appliance\'s share', () => {
      const text = JSON.stringify(signManifest(placed, TEST_KEYRING));
      expect(verifyManifest(text, expectations).placements).toEqual(placed.placements);
      expect(rejection(text, { applianceId: 'oca-2' })).toBe("it places 1200 bytes on 'oca-2'; the disk budget is 1000");
      // A node the plan did not include keeps its cache rather than evicting everything.
      expect(rejection(text, { applianceId: 'oca-3' })).toBe("it places nothing on 'oca-3', which the plan did not include");
      expect(rejection(text, { applianceId: 'constructor' })).toMatch(/places nothing on 'constructor'/);
    });

    it('names each appliance\'s placement in order, the list its holdings reports are bits over', () => {
      expect([placementOrder(placed, 'oca-2'), placementOrder(placed, 'oca-9'), placementOrder(placed, 'constructor')]).toEqual([['t1', 't2'], [], []]);
      expect(placementOrder({ ...base, objects: [object('titles/t2/a', 1, 't2'), ...base.objects, object('titles/t2/b', 1, 't2')] }, 'oca-9')).toEqual(['t2', 't1']);
    });

    it('refuses placements holdings could not describe: a title twice, or more titles than the control plane tracks', () => {
      const many = Array.from({ length: REQUEST_LIMITS.placementTitles + 1 }, (_, i) => `t${i}`);
      expect(() => checkManifest({ ...placed, placements: { 'oca-1': ['t1', 't1'] } })).toThrow('placements.oca-1 lists a title twice');
      expect(() => checkManifest({ ...placed, placements: { 'oca-1': many } })).toThrow(`placements.oca-1 places ${many.length} titles on one appliance; the most is ${REQUEST_LIMITS.placementTitles}`);
      expect(() => checkManifest({ ...base, objects: many.map((titleId) => object(`titles/${titleId}/a`, 1, titleId)) })).toThrow(/every appliance holds every title\) places 32769 titles/);
    });
  });
});
