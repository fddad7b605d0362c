import { callerName, EnvIo } from '../../../ops/env/commands';
import { DeployedStack } from '../../../ops/env/environments';
import { runEnv } from '../../../ops/env/main';
import type { CredentialCheck } from '../../../ops/aws/credentials';

const IDENTITY = { account: '123456789012', arn: 'arn:aws:sts::123456789012:assumed-role/Deployer/alice', userId: 'AROA:alice' };

/** A terminal and an AWS that record what the command did with them. */
function fakeIo(overrides: Partial<EnvIo> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const calls = { findCredentials: 0, describeStacks: [] as (readonly string[])[], asked: [] as string[] };
  const io: EnvIo = {
    out: (text) => out.push(text),
    err: (line) => err.push(line),
    stdinIsTTY: false,
    ask: async (question) => {
      calls.asked.push(question);
      return 'no';
    },
    now: () => new Date('2026-12-01T12:00:00Z'),
    osUser: () => 'carol',
    findCredentials: async (): Promise<CredentialCheck> => {
      calls.findCredentials++;
      return { ok: true, identity: IDENTITY };
    },
    describeStacks: async (regions) => {
      calls.describeStacks.push(regions);
      return [];
    },
    listLogGroups: async () => [],
    deleteLogGroup: async () => {
      throw new Error('no log groups in these tests');
    },
    signInTestViewer: async () => {
      throw new Error('no test viewer in these tests');
    },
    ...overrides,
  };
  return { io, out, err, calls };
}

const noCredentials = async (): Promise<CredentialCheck> => ({ ok: false, reason: 'no AWS credentials' });

describe('runEnv', () => {
  it('prints usage on --help and exits 0', async () => {
    const { io, out } = fakeIo();
    await expect(runEnv(['--help'], io)).resolves.toBe(0);
    expect(out.join('')).toMatch(/^usage: npm run env -- <command> \[options\]/);
  });

  it('exits 2 with one line on bad usage', async () => {
    const { io, err, out } = fakeIo();
    await expect(runEnv(['create', 'pr-7', '--region', 'x'], io)).resolves.toBe(2);
    expect(err).toEqual(["npm run env: create: unknown option '--region' (--help lists each command's options)"]);
    expect(out).toEqual([]);
  });

  it('prints the environment name of a branch, plain or as JSON', async () => {
    const plain = fakeIo();
    await expect(runEnv(['name', '--branch', 'fix-7'], plain.io)).resolves.toBe(0);
    expect(plain.out).toEqual(['pr-fix-7\n']);
    const json = fakeIo();
    await runEnv(['name', '--branch', 'fix-7', '--json'], json.io);
    expect(JSON.parse(json.out.join(''))).toEqual({ branch: 'fix-7', name: 'pr-fix-7' });
  });

  it('without credentials, prints exactly one line naming what create needs and exits 3', async () => {
    const { io, err, out } = fakeIo({ findCredentials: noCredentials });
    await expect(runEnv(['create', 'pr-7', '--account', '123456789012'], io)).resolves.toBe(3);
    expect(err).toEqual([
      'npm run env -- create pr-7 --account 123456789012: no AWS credentials (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY); ' +
        'the account must be bootstrapped in us-east-1 and us-west-2 (npx cdk bootstrap aws://123456789012/us-east-1 aws://123456789012/us-west-2)',
    ]);
    expect(out).toEqual([]);
  });

  it('checks credentials for destroy and list too', async () => {
    for (const argv of [['destroy', 'pr-7', '--yes'], ['list', '--primary-region', 'eu-west-1', '--secondary-region', 'eu-central-1']]) {
      const { io, err } = fakeIo({ findCredentials: noCredentials });
      await expect(runEnv(argv, io)).resolves.toBe(3);
      expect(err).toHaveLength(1);
    }
  });

  it('refuses to destroy without --yes when stdin is not a terminal, before looking for credentials', async () => {
    const { io, err, calls } = fakeIo();
    await expect(runEnv(['destroy', 'pr-7'], io)).resolves.toBe(2);
    expect(err).toEqual(['npm run env: destroy pr-7: refusing to destroy without confirmation: stdin is not a terminal, so pass --yes']);
    expect(calls.findCredentials).toBe(0);
  });

  it('destroys nothing when the answer at the terminal is not the environment name', async () => {
    const { io, err, calls } = fakeIo({ stdinIsTTY: true });
    await expect(runEnv(['destroy', 'pr-7'], io)).resolves.toBe(1);
    expect(calls.asked).toEqual(['Destroy every stack of pr-7 in account 123456789012 (us-east-1, us-west-2), data included? Type pr-7 to confirm: ']);
    expect(err).toEqual(["not destroyed: the answer was not 'pr-7'"]);
  });

  it('refuses an --account the credentials are not for', async () => {
    const { io, err } = fakeIo();
    await expect(runEnv(['create', 'pr-7', '--account', '999999999999'], io)).resolves.toBe(2);
    expect(err).toEqual([`npm run env: --account 999999999999 is not the account of your AWS credentials (123456789012 as ${IDENTITY.arn})`]);
  });

  it('lists the environments of both regions as JSON', async () => {
    const stacks: DeployedStack[] = [
      { stackName: 'nearstream-pr-7-data', region: 'us-east-1', status: 'CREATE_COMPLETE', tags: { 'nearstream:environment': 'pr-7', 'nearstream:kind': 'ephemeral' } },
    ];
    const { io, out, calls } = fakeIo({ describeStacks: async (regions) => (calls.describeStacks.push(regions), stacks) });
    await expect(runEnv(['list', '--json'], io)).resolves.toBe(0);
    expect(calls.describeStacks).toEqual([['us-east-1', 'us-west-2']]);
    expect(JSON.parse(out.join(''))).toMatchObject({ environments: [{ name: 'pr-7', kind: 'ephemeral', stacks: [{ stackName: 'nearstream-pr-7-data' }] }] });
  });

  it('exits 1 naming the failure when listing fails', async () => {
    const { io, err } = fakeIo({
      describeStacks: async () => {
        throw new Error('DescribeStacks in us-west-2 failed: AccessDenied');
      },
    });
    await expect(runEnv(['list'], io)).resolves.toBe(1);
    expect(err).toEqual(['npm run env -- list failed: DescribeStacks in us-west-2 failed: AccessDenied']);
  });
});

describe('callerName', () => {
  it("takes the user or session name from the caller's ARN", () => {
    expect(callerName('arn:aws:iam::123456789012:user/alice')).toBe('alice');
    expect(callerName('arn:aws:sts::123456789012:assumed-role/Deployer/bob@example.com')).toBe('bob@example.com');
    expect(callerName('arn:aws:iam::123456789012:root')).toBe('root');
  });
});
