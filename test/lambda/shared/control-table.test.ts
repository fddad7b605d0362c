import { DYNAMODB_LIMITS, FLEET_SHARDS, fleetShardOf, itemKeys, REQUEST_LIMITS } from '../../../lambda/shared/control-table';
import { decimalNumber, ID_PATTERN, SUBJECT_PATTERN, wholeNumber } from '../../../lambda/shared/request-fields';

const bytes = (text: string) => Buffer.byteLength(text, 'utf8');
const id = 'i'.repeat(REQUEST_LIMITS.idChars);
const subject = 's'.repeat(REQUEST_LIMITS.subjectChars);
/** S3 caps an object key at 1024 bytes: the longest encoded object's key. */
const objectKey = 'k'.repeat(1024);

describe('the control table limits', () => {
  it.each([
    ['heartbeat', itemKeys.heartbeat('ap-southeast-5')],
    ['title', itemKeys.title(id)],
    ['plan', itemKeys.plan(subject)],
    ['streamSlot', itemKeys.streamSlot(subject, 99)],
    ['watchPosition', itemKeys.watchPosition(subject, id)],
    ['session', itemKeys.session(id)],
    ['applianceRegistration', itemKeys.applianceRegistration(id)],
    ['applianceHealth', itemKeys.applianceHealth(id)],
    ['applianceHoldings', itemKeys.applianceHoldings(id)],
    ['appliancePlacement', itemKeys.appliancePlacement(id, Number.MAX_SAFE_INTEGER, 9999)],
    ['clusterManifest', itemKeys.clusterManifest(id)],
    ['objectDigest', itemKeys.objectDigest(id, objectKey)],
    ['regionDemand', itemKeys.regionDemand('2026-11-21', 'ap-southeast-5', id)],
    ['clusterDemand', itemKeys.clusterDemand('2026-11-21', id, id)],
  ])('keep the longest %s key a request can build within DynamoDB\'s key limits', (_kind, key) => {
    expect(bytes(key.pk)).toBeLessThanOrEqual(DYNAMODB_LIMITS.partitionKeyBytes);
    expect(bytes(key.sk)).toBeLessThanOrEqual(DYNAMODB_LIMITS.sortKeyBytes);
  });

  it('accept ids and subjects up to their limits and not a character more', () => {
    expect([ID_PATTERN.test(id), ID_PATTERN.test(`${id}x`)]).toEqual([true, false]);
    expect([SUBJECT_PATTERN.test(subject), SUBJECT_PATTERN.test(`${subject}x`)]).toEqual([true, false]);
  });

  it('leave a cursor room for the longest sort key', () => {
    expect(Buffer.alloc(DYNAMODB_LIMITS.sortKeyBytes).toString('base64url')).toHaveLength(REQUEST_LIMITS.cursorChars);
  });

  it('spread health reports over every fleet shard, each appliance always in the same one', () => {
    const shards = Array.from({ length: 20_000 }, (_, i) => fleetShardOf(`oca-${i}`));
    const perShard = Array.from({ length: FLEET_SHARDS }, (_, shard) => shards.filter((s) => s === shard).length);
    expect(Math.min(...perShard)).toBeGreaterThan((20_000 / FLEET_SHARDS) * 0.8);
    expect(Math.max(...perShard)).toBeLessThan((20_000 / FLEET_SHARDS) * 1.2);
    expect(itemKeys.applianceHealth('oca-7')).toEqual(itemKeys.applianceHealth('oca-7'));
  });

  it('sort placement chunks in generation order, whatever the number of digits', () => {
    const keys = [itemKeys.appliancePlacement(id, 10, 0), itemKeys.appliancePlacement(id, 9, 1), itemKeys.appliancePlacement(id, 9, 0)].map((key) => key.sk);
    expect([...keys].sort()).toEqual([keys[2], keys[1], keys[0]]);
  });
});

describe('request numbers', () => {
  it('round decimals to their resolution, so a value too small for DynamoDB becomes 0', () => {
    const share = decimalNumber(0, 1, 6);
    expect([1e-300, 4e-7, 0.3333333333, 1].map((value) => share.parse(value))).toEqual([0, 0, 0.333333, 1]);
  });

  it.each([1e200, -1e-300, Infinity, NaN, '0.5'])('refuse %p outside the bounds or not a number', (value) => {
    expect(decimalNumber(0, 1, 6).safeParse(value).success).toBe(false);
  });

  it('refuse whole numbers with a fraction or beyond their bounds', () => {
    const height = wholeNumber(144, 4320);
    expect([1080, 1080.5, 1e200, 2 ** 60].map((value) => height.safeParse(value).success)).toEqual([true, false, false, false]);
  });

  it('refuse to build a field DynamoDB could not store', () => {
    expect(() => decimalNumber(0, 1, 200)).toThrow(/resolution/);
    expect(() => decimalNumber(0, 1e20, 2)).toThrow(/1e15/);
    expect(() => wholeNumber(0, 2 ** 60)).toThrow(/safe integers/);
  });
});
