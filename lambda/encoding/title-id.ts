import { createHash } from 'node:crypto';

/**
 * A title's id, derived from where its upload lives: the same object version always gives the
 * same id, so a duplicate event or a replay finds the title it already created.
 */
export function titleIdFor(bucket: string, key: string, versionId: string | undefined): string {
  const digest = createHash('sha256').update(`${bucket}\n${key}\n${versionId ?? 'null'}`).digest('hex');
  return `t${digest.slice(0, 23)}`;
}
