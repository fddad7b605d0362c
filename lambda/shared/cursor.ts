import { invalid } from './http';

/** Opaque pagination cursors: DynamoDB's LastEvaluatedKey, base64url-encoded JSON. */
export function encodeCursor(lastKey: Record<string, unknown> | undefined): string | undefined {
  return lastKey ? Buffer.from(JSON.stringify(lastKey), 'utf8').toString('base64url') : undefined;
}

/** Decodes a cursor this API issued; anything else is a 400 naming the parameter. */
export function decodeCursor(cursor: string | undefined, field = 'query.cursor'): Record<string, unknown> | undefined {
  if (cursor === undefined) {
    return undefined;
  }
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof key === 'object' && key !== null && !Array.isArray(key) && Object.values(key).every((v) => typeof v === 'string')) {
      return key;
    }
  } catch {
    // fall through to the 400 below
  }
  throw invalid(field, 'is not a cursor this API issued');
}
