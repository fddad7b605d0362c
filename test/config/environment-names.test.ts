import { resolveEnvironment } from '../../lib/config/environment';
import { environmentNameForBranch } from '../../lib/config/environment-names';

describe('environmentNameForBranch', () => {
  it('keeps a short branch that is already a valid name readable', () => {
    expect(environmentNameForBranch('feature-x')).toBe('pr-feature-x');
    expect(environmentNameForBranch('7')).toBe('pr-7');
  });

  it('gives branches that differ only in case or punctuation different names', () => {
    const names = ['Main', 'main', 'feature/x', 'feature-x', 'feature_x'].map(environmentNameForBranch);

    expect(new Set(names).size).toBe(names.length);
  });

  it('gives two long branches with one prefix two names, each at most 16 characters', () => {
    const first = environmentNameForBranch('feature/checkout-redesign-part-1');
    const second = environmentNameForBranch('feature/checkout-redesign-part-2');

    expect(first).not.toBe(second);
    expect(first.length).toBeLessThanOrEqual(16);
    expect(second.length).toBeLessThanOrEqual(16);
  });

  it('is the same name every time, so the pipeline that destroys on close finds what the one that created made', () => {
    expect(environmentNameForBranch('dependabot/npm_and_yarn/aws-cdk-lib-2.300.0')).toBe(environmentNameForBranch('dependabot/npm_and_yarn/aws-cdk-lib-2.300.0'));
  });

  it.each(['feature/Login_fix', '---', 'ünïcode-branch', 'a'.repeat(200), 'UPPER', 'x-', '1.2.3'])('makes a name the config accepts from %p', (branch) => {
    const name = environmentNameForBranch(branch);

    expect(resolveEnvironment({ name }).name).toBe(name);
    expect(name.startsWith('pr-')).toBe(true);
  });

  it('refuses an empty branch', () => {
    expect(() => environmentNameForBranch(' ')).toThrow('a branch name is required');
  });
});
