import { ConfigError } from '../../lib/config/config-error';
import { EnvironmentInput, resolveEnvironment, ResolveOptions } from '../../lib/config/environment';
import { creatorTagValue, DEFAULT_TTL_SECONDS, expiryAfter, parseTtl } from '../../lib/config/lifetime';

function problemsOf(input: EnvironmentInput, options?: ResolveOptions): { field: string; rule: string }[] {
  try {
    resolveEnvironment(input, options);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
}

describe('an ephemeral environment\'s lifetime', () => {
  it('is carried into the config when both creator and expiry are given', () => {
    const config = resolveEnvironment({ name: 'pr-7', creator: 'alice', expiresAt: '2026-12-02T12:00:00Z' });

    expect(config.lifetime).toEqual({ creator: 'alice', expiresAt: '2026-12-02T12:00:00Z' });
  });

  it.each([
    [{ expiresAt: '2026-12-02' }, 'expiresAt', 'must be an exact UTC instant'],
    [{ expiresAt: '2026-12-02T12:00:00+02:00' }, 'expiresAt', 'must be an exact UTC instant'],
    [{ expiresAt: '2026-13-45T12:00:00Z' }, 'expiresAt', 'must be an exact UTC instant'],
    [{ creator: 'bob#1', expiresAt: '2026-12-02T12:00:00Z' }, 'creator', 'an AWS tag value'],
    [{ creator: 'alice' }, 'expiresAt', 'creator and expiresAt go together'],
    [{ expiresAt: '2026-12-02T12:00:00Z' }, 'creator', 'creator and expiresAt go together'],
  ])('refuses %p naming %s', (lifetime, field, rule) => {
    const problems = problemsOf({ name: 'pr-7', ...lifetime });

    expect(problems).toContainEqual({ field, rule: expect.stringContaining(rule) });
  });

  it.each(['dev', 'staging', 'prod'])('refuses an expiry on the named environment %s, which the cleanup never destroys', (name) => {
    const problems = problemsOf({ name, viewerEmailFrom: 'no-reply@example.com', creator: 'alice', expiresAt: '2026-12-02T12:00:00Z' });

    expect(problems).toEqual([{ field: 'expiresAt', rule: expect.stringContaining('applies only to ephemeral environments') }]);
  });

  it('is required where an ephemeral environment is deployed, with the command that sets it', () => {
    const problems = problemsOf({ name: 'pr-7' }, { requireLifetime: true });

    expect(problems).toEqual([{ field: 'expiresAt', rule: expect.stringContaining('npm run env -- create pr-7') }]);
    expect(resolveEnvironment({ name: 'dev' }, { requireLifetime: true }).lifetime).toBeUndefined();
  });
});

describe('parseTtl', () => {
  it.each([
    ['90m', 5400],
    ['12h', 43_200],
    ['3d', 259_200],
    [' 30d ', 2_592_000],
  ])('reads %s as %d seconds', (text, seconds) => {
    expect(parseTtl(text)).toBe(seconds);
  });

  it.each([['3'], ['3 days'], ['1.5h'], ['-2d'], ['30m'], ['31d'], ['']])('refuses %p naming the option', (text) => {
    expect(() => parseTtl(text)).toThrow(/^--ttl '.*' must be/);
  });

  it('defaults to three days', () => {
    expect(DEFAULT_TTL_SECONDS).toBe(parseTtl('3d'));
  });
});

describe('expiryAfter', () => {
  it('adds the ttl and writes a UTC instant to the second, which the config accepts', () => {
    const expiresAt = expiryAfter(new Date('2026-11-29T12:34:56.789Z'), parseTtl('3d'));

    expect(expiresAt).toBe('2026-12-02T12:34:56Z');
    expect(resolveEnvironment({ name: 'pr-7', creator: 'alice', expiresAt }).lifetime?.expiresAt).toBe(expiresAt);
  });
});

describe('creatorTagValue', () => {
  it('keeps what a tag value allows and replaces the rest, so any caller identity can be a creator', () => {
    expect(creatorTagValue('arn:aws:sts::123456789012:assumed-role/Dev/alice@example.com')).toBe('arn:aws:sts::123456789012:assumed-role/Dev/alice@example.com');
    expect(creatorTagValue('bob#1 (laptop)')).toBe('bob-1 -laptop-');
    expect(creatorTagValue('')).toBe('unknown');
    expect(creatorTagValue('x'.repeat(300))).toHaveLength(256);
    expect(resolveEnvironment({ name: 'pr-7', creator: creatorTagValue('bob#1 (laptop)'), expiresAt: '2026-12-02T12:00:00Z' }).lifetime?.creator).toBe('bob-1 -laptop-');
  });
});
