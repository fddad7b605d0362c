import { DYNAMODB_LIMITS, REQUEST_LIMITS } from './control-table';
import { invalid } from './http';

/**
 * One paginated query's cursors. A cursor carries the sort-key value of a page's last item and
 * nothing else: the start key is rebuilt from the query's own partition, so whatever bytes a caller
 * sends, a cursor can name a position inside that partition and nowhere else. Every such position
 * is one the caller could reach by paging, so cursors need no signature (and survive key rotation).
 */
export interface CursorShape {
  /** The attribute that orders the query's partition. */
  readonly sortKeyAttribute: string;
  /** The query's `ExclusiveStartKey` after the item with this sort key, or undefined when none of its items could have it. */
  readonly startKey: (sortKey: string) => Record<string, string> | undefined;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The cursor for the page after `lastKey`, DynamoDB's LastEvaluatedKey of a query of this shape. */
export function encodeCursor(lastKey: Record<string, unknown> | undefined, shape: CursorShape): string | undefined {
  if (!lastKey) {
    return undefined;
  }
  const sortKey = lastKey[shape.sortKeyAttribute];
  if (typeof sortKey !== 'string') {
    throw new Error(`LastEvaluatedKey has no string ${shape.sortKeyAttribute}`);
  }
  return Buffer.from(sortKey, 'utf8').toString('base64url');
}

/** The start key a cursor of this shape names; anything this API could not have issued is a 400 naming the parameter. */
export function decodeCursor(cursor: string | undefined, shape: CursorShape, field = 'query.cursor'): Record<string, string> | undefined {
  if (cursor === undefined) {
    return undefined;
  }
  const rejected = invalid(field, 'is not a cursor this API issued');
  if (cursor.length > REQUEST_LIMITS.cursorChars || !BASE64URL.test(cursor)) {
    throw rejected;
  }
  const bytes = Buffer.from(cursor, 'base64url');
  if (bytes.length > DYNAMODB_LIMITS.sortKeyBytes || bytes.toString('base64url') !== cursor) {
    throw rejected;
  }
  let sortKey: string;
  try {
    sortKey = strictUtf8.decode(bytes);
  } catch {
    throw rejected;
  }
  const startKey = shape.startKey(sortKey);
  if (!startKey) {
    throw rejected;
  }
  return startKey;
}
