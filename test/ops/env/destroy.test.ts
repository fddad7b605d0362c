import { Toolkit } from '@aws-cdk/toolkit-lib';
import type { DestroyResult, ICloudAssemblySource } from '@aws-cdk/toolkit-lib';
import { EnvIo, removeProviderLogGroups } from '../../../ops/env/commands';
import { DeployedStack } from '../../../ops/env/environments';
import { runEnv } from '../../../ops/env/main';

const IDENTITY = { account: '123456789012', arn: 'arn:aws:sts::123456789012:assumed-role/Deployer/alice', userId: 'AROA:alice' };
const REGIONS = ['us-east-1', 'us-west-2'] as const;

/** The log group of a provider function CloudFormation names in `stackName` (see lambda/cleanup/log-groups.ts). */
const providerGroup = (stackName: string, logicalId = 'CustomS3AutoDeleteObjectsCustomResourceProviderHandler9D90184F') => {
  const stackPart = stackName.slice(0, 25);
  return `/aws/lambda/${stackPart}-${logicalId.slice(0, 63 - 14 - stackPart.length)}-Ab12Cd34Ef56`;
};
const EXPORT_WRITER = 'CustomCrossRegionExportWriterCustomResourceProviderHandlerD8786E8A';

const tags = (environment: string) => ({ 'nearstream:environment': environment, 'nearstream:kind': 'ephemeral' });

/**
 * A terminal, CloudFormation and CloudWatch Logs in two regions: `stacks` are what DescribeStacks
 * shows after the destroy, `groups` the log groups, which DeleteLogGroup removes.
 */
function fakeAws(stacks: DeployedStack[], groups: Record<string, string[]>) {
  const out: string[] = [];
  const err: string[] = [];
  const remaining: Record<string, string[]> = structuredClone(groups);
  const calls: string[] = [];
  const io: EnvIo = {
    out: (text) => out.push(text),
    err: (line) => err.push(line),
    stdinIsTTY: false,
    ask: async () => '',
    now: () => new Date('2026-12-01T12:00:00Z'),
    osUser: () => 'carol',
    findCredentials: async () => ({ ok: true, identity: IDENTITY }),
    describeStacks: async (regions) => {
      calls.push(`DescribeStacks ${regions.join(',')}`);
      return stacks.filter((stack) => regions.includes(stack.region));
    },
    listLogGroups: async (region, prefix) => {
      calls.push(`DescribeLogGroups ${region} ${prefix}`);
      return (remaining[region] ?? []).filter((name) => name.startsWith(prefix));
    },
    deleteLogGroup: async (region, logGroupName) => {
      calls.push(`DeleteLogGroup ${region} ${logGroupName}`);
      const present = remaining[region]?.includes(logGroupName) ?? false;
      remaining[region] = (remaining[region] ?? []).filter((name) => name !== logGroupName);
      return present;
    },
    signInTestViewer: async () => {
      throw new Error('no test viewer in these tests');
    },
  };
  return { io, out, err, remaining, calls };
}

const pr1Groups = {
  'us-east-1': [providerGroup('nearstream-pr-1-data'), providerGroup('nearstream-pr-1-data', EXPORT_WRITER), providerGroup('nearstream-pr-1-appliance-image')],
  'us-west-2': [providerGroup('nearstream-pr-1-origin-replica-us-west-2', EXPORT_WRITER)],
};
const othersGroups = {
  'us-east-1': [providerGroup('nearstream-pr-12-data'), providerGroup('nearstream-pr-1-2-data'), providerGroup('nearstream-prod-data')],
  'us-west-2': [providerGroup('nearstream-pr-12-origin-replica-us-west-2', EXPORT_WRITER)],
};
const bothGroups = () => Object.fromEntries(REGIONS.map((region) => [region, [...pr1Groups[region], ...othersGroups[region]]]));
const liveOthers: DeployedStack[] = [
  { stackName: 'nearstream-pr-12-data', region: 'us-east-1', status: 'CREATE_COMPLETE', tags: tags('pr-12') },
  { stackName: 'nearstream-pr-12-origin-replica-us-west-2', region: 'us-west-2', status: 'UPDATE_COMPLETE', tags: tags('pr-12') },
];

describe('npm run env -- destroy', () => {
  let destroy: jest.SpyInstance;
  beforeEach(() => {
    // toolkit-lib itself, which would synthesize the environment and call CloudFormation, is not under test here.
    jest.spyOn(Toolkit.prototype, 'fromAssemblyBuilder').mockResolvedValue({} as ICloudAssemblySource);
    destroy = jest.spyOn(Toolkit.prototype, 'destroy').mockResolvedValue({
      stacks: [
        { stackName: 'nearstream-pr-1-data', stackExisted: true },
        { stackName: 'nearstream-pr-1-origin-replica-us-west-2', stackExisted: true },
      ],
    } as DestroyResult);
  });
  afterEach(() => jest.restoreAllMocks());

  it('after the stacks, deletes the environment\'s provider log groups in both regions and no other environment\'s, and says how many', async () => {
    const aws = fakeAws(liveOthers, bothGroups());

    await expect(runEnv(['destroy', 'pr-1', '--yes'], aws.io)).resolves.toBe(0);

    expect(destroy).toHaveBeenCalledTimes(1);
    expect(aws.remaining).toEqual(othersGroups);
    expect(aws.out.join('')).toBe('destroyed 2 stack(s) of pr-1\ndeleted 4 provider log group(s) that no stack held\n');
    // Each region's stacks are read before its log groups are touched.
    expect(aws.calls.filter((call) => !call.startsWith('DeleteLogGroup'))).toEqual([
      'DescribeStacks us-east-1',
      'DescribeLogGroups us-east-1 /aws/lambda/nearstream-pr-1-',
      'DescribeStacks us-west-2',
      'DescribeLogGroups us-west-2 /aws/lambda/nearstream-pr-1-',
    ]);
  });

  it('deletes none of a region\'s log groups while a stack of the environment remains there, and says which', async () => {
    const leftover: DeployedStack = { stackName: 'nearstream-pr-1-appliances-us-west-2', region: 'us-west-2', status: 'DELETE_FAILED', tags: tags('pr-1') };
    const aws = fakeAws([...liveOthers, leftover], bothGroups());

    await expect(runEnv(['destroy', 'pr-1', '--yes', '--json'], aws.io)).resolves.toBe(0);

    expect(aws.remaining['us-west-2']).toEqual([...pr1Groups['us-west-2'], ...othersGroups['us-west-2']]);
    expect(aws.calls).not.toContainEqual(expect.stringMatching(/^DeleteLogGroup us-west-2/));
    const result = JSON.parse(aws.out.join(''));
    expect(result.logGroupsDeleted).toEqual(pr1Groups['us-east-1'].map((logGroupName) => ({ region: 'us-east-1', logGroupName })).sort((a, b) => a.logGroupName.localeCompare(b.logGroupName)));
    expect(result.logGroupsKept).toEqual([{ region: 'us-west-2', reason: 'its stacks nearstream-pr-1-appliances-us-west-2 remain' }]);
  });

  it('exits 1 saying the stacks are gone and how to retry when the log groups cannot be listed', async () => {
    const aws = fakeAws([], pr1Groups);
    aws.io.listLogGroups = async () => {
      throw new Error('User is not authorized to perform: logs:DescribeLogGroups');
    };

    await expect(runEnv(['destroy', 'pr-1', '--yes'], aws.io)).resolves.toBe(1);

    expect(aws.err).toContain(
      'npm run env -- destroy pr-1 --yes failed: the stacks of pr-1 are gone, but deleting its provider log groups failed: User is not authorized to perform: logs:DescribeLogGroups. `npm run env -- destroy pr-1 --yes` again retries them',
    );
  });
});

describe('removeProviderLogGroups', () => {
  it('never touches prod\'s, staging\'s or dev\'s log groups', async () => {
    for (const environment of ['prod', 'staging', 'dev']) {
      const aws = fakeAws([], { 'us-east-1': [providerGroup(`nearstream-${environment}-data`)] });
      const result = await removeProviderLogGroups(environment, REGIONS, aws.io);
      expect(result.deleted).toEqual([]);
      expect(aws.calls).toEqual([]);
    }
  });

  it('counts a group gone in the meantime as not deleted by it', async () => {
    const aws = fakeAws([], pr1Groups);
    aws.io.deleteLogGroup = async () => false;

    await expect(removeProviderLogGroups('pr-1', REGIONS, aws.io)).resolves.toEqual({ deleted: [], kept: [] });
  });
});
