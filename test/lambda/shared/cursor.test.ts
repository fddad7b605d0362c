import { CursorShape, decodeCursor, encodeCursor } from '../../../lambda/shared/cursor';
import { HttpError } from '../../../lambda/shared/http';

/** A query over one partition, `list#<owner>`, sorted by `item#<n>`. */
const shape: CursorShape = {
  sortKeyAttribute: 'sk',
  startKey: (sortKey) => (/^item#\d{1,6}$/.test(sortKey) ? { pk: 'list#owner', sk: sortKey } : undefined),
};
const b64url = (text: string | Buffer) => Buffer.from(text).toString('base64url');

function refusal(cursor: string): unknown {
  try {
    decodeCursor(cursor, shape);
  } catch (error) {
    return error instanceof HttpError ? { status: error.statusCode, field: error.details.field } : error;
  }
  return 'accepted';
}

describe('pagination cursors', () => {
  it('carry only the sort key and come back as the start key of the same partition', () => {
    const cursor = encodeCursor({ pk: 'list#owner', sk: 'item#42' }, shape)!;
    expect(Buffer.from(cursor, 'base64url').toString()).toBe('item#42');
    expect(decodeCursor(cursor, shape)).toEqual({ pk: 'list#owner', sk: 'item#42' });
  });

  it('are absent when there is no next page', () => {
    expect([encodeCursor(undefined, shape), decodeCursor(undefined, shape)]).toEqual([undefined, undefined]);
  });

  it.each([
    ['another partition\'s key as JSON', b64url(JSON.stringify({ pk: 'account#alice', sk: 'plan' }))],
    ['a sort key of another shape', b64url('plan')],
    ['an empty cursor', ''],
    ['standard base64 with padding', 'aXRlbSM0Mg=='],
    ['a non-canonical encoding', `${b64url('item#42').slice(0, -1)}z`],
    ['bytes that are not UTF-8', b64url(Buffer.from([0xc3, 0x28]))],
    ['more bytes than a sort key holds', b64url('x'.repeat(1025))],
  ])('refuse %s with a 400 naming the parameter', (_what, cursor) => {
    expect(refusal(cursor)).toEqual({ status: 400, field: 'query.cursor' });
  });
});
