import { resolveEnvironment } from '../../../lib/config/environment';
import { parseEnvArgs, UsageError } from '../../../ops/env/args';
import { DEFAULT_TTL_SECONDS } from '../../../lib/config/lifetime';

function usageError(argv: string[]): string {
  try {
    parseEnvArgs(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`parseEnvArgs(${argv.join(' ')}) accepted the arguments`);
}

describe('npm run env arguments', () => {
  it('reads create NAME with the default lifetime and the config default regions', () => {
    expect(parseEnvArgs(['create', 'pr-7'])).toEqual({
      command: 'create',
      target: { name: 'pr-7', account: undefined, primaryRegion: 'us-east-1', secondaryRegion: 'us-west-2' },
      lifetime: { ttlSeconds: DEFAULT_TTL_SECONDS, creator: undefined },
      json: false,
    });
  });

  it('takes --ttl, --creator, --account and both regions', () => {
    expect(
      parseEnvArgs(['create', 'alice', '--ttl', '12h', '--creator', 'alice', '--account', '123456789012', '--primary-region', 'eu-west-1', '--secondary-region', 'eu-central-1', '--json']),
    ).toEqual({
      command: 'create',
      target: { name: 'alice', account: '123456789012', primaryRegion: 'eu-west-1', secondaryRegion: 'eu-central-1' },
      lifetime: { ttlSeconds: 12 * 3600, creator: 'alice' },
      json: true,
    });
  });

  it('names the environment of a branch for create, destroy and diff, and prints it with name --branch', () => {
    expect(parseEnvArgs(['name', '--branch', 'feature-x'])).toEqual({ command: 'name', branch: 'feature-x', json: false });
    for (const command of ['create', 'destroy', 'diff']) {
      expect(parseEnvArgs([command, '--branch', 'feature-x'])).toMatchObject({ command, target: { name: 'pr-feature-x' } });
    }
  });

  it('refuses an unknown option, naming it', () => {
    expect(usageError(['create', 'pr-7', '--tll', '3d'])).toBe("create: unknown option '--tll' (--help lists each command's options)");
  });

  it("refuses another command's option: --yes belongs to destroy, --ttl to create", () => {
    expect(usageError(['create', 'pr-7', '--yes'])).toMatch(/unknown option '--yes'/);
    expect(usageError(['destroy', 'pr-7', '--ttl', '1d'])).toMatch(/unknown option '--ttl'/);
  });

  it('refuses a missing name, two names, and a name together with --branch', () => {
    expect(usageError(['create'])).toBe('create: which environment? give NAME (like pr-7) or --branch BRANCH');
    expect(usageError(['destroy', 'pr-7', 'pr-8'])).toMatch(/one environment at a time/);
    expect(usageError(['diff', 'pr-7', '--branch', 'x'])).toBe('diff: give NAME or --branch, not both');
    expect(usageError(['name'])).toMatch(/--branch is required/);
  });

  it("refuses a bad name with the config's own rule", () => {
    expect(usageError(['create', 'PR_7'])).toBe(
      "create: env: 'PR_7' must be 1-16 lower-case letters, digits or single hyphens, starting with a letter and not ending with a hyphen",
    );
  });

  it('refuses a bad account or region with the config rule', () => {
    expect(usageError(['list', '--account', '12345'])).toBe("list: account: '12345' must be exactly 12 digits");
    expect(usageError(['synth', 'pr-7', '--secondary-region', 'us-east-1'])).toMatch(/secondaryRegion: must differ from primaryRegion/);
  });

  it('refuses a bad ttl with the rule', () => {
    expect(usageError(['create', 'pr-7', '--ttl', '3w'])).toBe("--ttl '3w' must be a whole number of minutes, hours or days, like 90m, 12h or 3d");
    expect(usageError(['create', 'pr-7', '--ttl', '45d'])).toBe("--ttl '45d' must be between 1h and 30d");
  });

  it('turns any creator into a valid tag value, so a pull request from branch fix/#12 (it\'s) still gets its environment', () => {
    const command = parseEnvArgs(['create', 'pr-7', '--creator', "pull-request/fix/#12 (it's)"]);
    expect(command).toMatchObject({ lifetime: { creator: 'pull-request/fix/-12 -it-s-' } });
    expect(resolveEnvironment({ name: 'pr-7', creator: (command as { lifetime: { creator: string } }).lifetime.creator, expiresAt: '2026-12-02T12:00:00Z' }).lifetime).toBeDefined();
    expect(usageError(['create', 'pr-7', '--creator', '  '])).toBe('--creator must name someone (a person, a role, pull-request/<branch>)');
  });

  it('refuses to destroy prod, staging or dev, and to create them', () => {
    for (const name of ['prod', 'staging', 'dev']) {
      expect(usageError(['destroy', name, '--yes'])).toBe(`destroy: '${name}' is a named environment and is never destroyed by this command: only ephemeral environments are`);
      expect(usageError(['create', name])).toMatch(new RegExp(`^create: '${name}' is a named environment: create makes ephemeral environments only.*npx cdk deploy -c env=${name}`));
    }
  });

  it('synthesizes a named environment without a lifetime, and refuses one for it', () => {
    expect(parseEnvArgs(['synth', 'dev'])).toMatchObject({ command: 'synth', target: { name: 'dev' }, lifetime: undefined, bundling: true });
    expect(usageError(['diff', 'dev', '--ttl', '1d'])).toBe("diff: --ttl and --creator apply only to ephemeral environments: 'dev' never expires");
  });

  it('reads --no-bundling and --out for synth', () => {
    expect(parseEnvArgs(['synth', 'pr-7', '--no-bundling', '--out', 'x'])).toMatchObject({ bundling: false, outdir: 'x' });
  });

  it('answers --help anywhere, and refuses an unknown command', () => {
    expect(parseEnvArgs([])).toEqual({ command: 'help' });
    expect(parseEnvArgs(['--help'])).toEqual({ command: 'help' });
    expect(parseEnvArgs(['create', '-h'])).toEqual({ command: 'help' });
    expect(usageError(['deploy', 'pr-7'])).toMatch(/^unknown command 'deploy': choose create, destroy, list, diff, synth or name/);
  });
});
