import { DYNAMODB_LIMITS, itemKeys, REQUEST_LIMITS } from '../../../lambda/shared/control-table';
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
    ['appliance', itemKeys.appliance(id)],
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

  it('give an appliance\'s inventory what its item has left after the largest registration', () => {
    const titleBytes = REQUEST_LIMITS.inventoryTitles * (REQUEST_LIMITS.idChars + 1);
    expect(titleBytes + REQUEST_LIMITS.registrationBodyBytes + REQUEST_LIMITS.principalArnChars).toBeLessThan(DYNAMODB_LIMITS.itemBytes);
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
