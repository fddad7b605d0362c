import { FillManifest, ManifestRejectedError, objectsForAppliance, signManifest, verifyManifest } from '../../../lambda/shared/fill-manifest';
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

function rejection(text: string, overrides: Partial<typeof expectations> = {}): string {
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
  });
});
