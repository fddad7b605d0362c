import { createHash } from 'node:crypto';
import { ID_PATTERN } from '../shared/request-fields';

/**
 * A title's id, derived from where its upload lives: the same object version always gives the
 * same id, so a duplicate event or a replay finds the title it already created.
 */
export function titleIdFor(bucket: string, key: string, versionId: string | undefined): string {
  const digest = createHash('sha256').update(`${bucket}\n${key}\n${versionId ?? 'null'}`).digest('hex');
  return `t${digest.slice(0, 23)}`;
}

/** A title id handed to a step (by the state machine, or an operator re-running it), checked before it names any key. */
export function requireTitleId(value: unknown): string {
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) {
    throw new Error(`titleId must be a title id (letters, digits, '-' and '_', at most 64), got ${JSON.stringify(value)}`);
  }
  return value;
}
