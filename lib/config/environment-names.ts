import { createHash } from 'node:crypto';

const MAX_NAME_LENGTH = 16;
const PREFIX = 'pr-';

/**
 * The ephemeral environment of a pull request's source branch: `pr-` and the branch in lower case
 * with every run of other characters as one `-` (`feature/Login_fix` → `pr-feature-login`), cut to
 * 16 characters with a 4-hex hash of the whole branch when it is longer, so two long branches with
 * one prefix still get two environments. The same branch always gives the same name: the pipeline
 * that opens the environment and the one that destroys it on close compute it independently.
 */
export function environmentNameForBranch(branch: string): string {
  if (branch.trim() === '') {
    throw new Error('a branch name is required to name its environment');
  }
  const slug = branch.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  const room = MAX_NAME_LENGTH - PREFIX.length;
  if (slug.length > 0 && slug.length <= room && slug === branch) {
    return `${PREFIX}${slug}`;
  }
  const hash = createHash('sha256').update(branch).digest('hex').slice(0, 4);
  const head = slug.slice(0, room - hash.length - 1).replace(/-+$/, '');
  return head.length > 0 ? `${PREFIX}${head}-${hash}` : `${PREFIX}${hash}`;
}
