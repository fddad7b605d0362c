import {
  environmentOfStackName,
  environmentStackNames,
  isProviderLogGroupOf,
  logGroupSearchPrefix,
  planLogGroupCleanup,
  RegionStack,
  stackPartOfLogGroup,
} from '../../../lambda/cleanup/log-groups';
import { ENVIRONMENT_TAGS } from '../../../lib/config/lifetime';

const REGIONS = ['us-east-1', 'us-west-2'];

/**
 * The log group of a function CloudFormation names in `stackName`: the stack name cut to 25
 * characters, the logical ID cut to what is left of 63, 12 random characters.
 */
function providerGroup(stackName: string, logicalId = 'CustomS3AutoDeleteObjectsCustomResourceProviderHandler9D90184F', suffix = 'AbCdEf123456'): string {
  const stackPart = stackName.slice(0, 25);
  return `/aws/lambda/${stackPart}-${logicalId.slice(0, 63 - 12 - 2 - stackPart.length)}-${suffix}`;
}

const EXPORT_WRITER = 'CustomCrossRegionExportWriterCustomResourceProviderHandlerD8786E8A';
const RESTRICT_SG = 'CustomVpcRestrictDefaultSGCustomResourceProviderHandlerDC833E5E';

describe('the provider log groups of an environment', () => {
  it('are what CloudFormation names the functions of its stacks, whole stack names when short', () => {
    expect(providerGroup('nearstream-pr-1-data')).toBe('/aws/lambda/nearstream-pr-1-data-CustomS3AutoDeleteObjectsCust-AbCdEf123456');
    expect(providerGroup('nearstream-pr-1-data')).toHaveLength('/aws/lambda/'.length + 63);
    for (const group of [
      providerGroup('nearstream-pr-1-data'),
      providerGroup('nearstream-pr-1-data', EXPORT_WRITER),
      providerGroup('nearstream-pr-1-encoding'),
      providerGroup('nearstream-pr-1-appliance-image', RESTRICT_SG),
      providerGroup('nearstream-pr-1-origin-replica-us-west-2', EXPORT_WRITER),
      providerGroup('nearstream-pr-1-appliances-us-east-1', RESTRICT_SG),
    ]) {
      expect([group, isProviderLogGroupOf(group, 'pr-1', REGIONS)]).toEqual([group, true]);
    }
  });

  it('are never another environment\'s whose name starts with this one\'s: pr-1 never takes pr-12\'s or pr-1-data\'s', () => {
    const others = [
      providerGroup('nearstream-pr-12-data'),
      providerGroup('nearstream-pr-12-origin-replica-us-west-2', EXPORT_WRITER),
      providerGroup('nearstream-pr-12-appliances-us-east-1', RESTRICT_SG),
      providerGroup('nearstream-pr-1-data-data'),
      providerGroup('nearstream-pr-1-2-encoding'),
      providerGroup('nearstream-pr-1x-data'),
    ];
    for (const group of others) {
      expect([group, isProviderLogGroupOf(group, 'pr-1', REGIONS)]).toEqual([group, false]);
    }
    expect(isProviderLogGroupOf(providerGroup('nearstream-pr-12-data'), 'pr-12', REGIONS)).toBe(true);
    expect(isProviderLogGroupOf(providerGroup('nearstream-pr-1-data-data'), 'pr-1-data', REGIONS)).toBe(true);
  });

  it('are matched on the stack name cut to 25 characters, as CloudFormation cuts it, even when that cuts the environment\'s name', () => {
    // 16 characters, the longest name: `nearstream-pr-feature-log` is all that is left of every stack.
    const group = providerGroup('nearstream-pr-feature-login-origin-replica-us-west-2', EXPORT_WRITER);
    expect(group).toBe('/aws/lambda/nearstream-pr-feature-log-CustomCrossRegionExportW-AbCdEf123456');
    expect(stackPartOfLogGroup(group)).toBe('nearstream-pr-feature-log');
    expect(isProviderLogGroupOf(group, 'pr-feature-login', REGIONS)).toBe(true);
    expect(logGroupSearchPrefix('pr-feature-login')).toBe('/aws/lambda/nearstream-pr-feature-log');
    expect(group.startsWith(logGroupSearchPrefix('pr-feature-login'))).toBe(true);
    // Cut mid-part: the part is still checked as far as it goes.
    expect(isProviderLogGroupOf(providerGroup('nearstream-pr-1-origin-replica-us-west-2'), 'pr-1', REGIONS)).toBe(true);
    expect(isProviderLogGroupOf('/aws/lambda/nearstream-pr-1-origin-rx-CustomCrossRegionExportWr-AbCdEf123456', 'pr-1', REGIONS)).toBe(false);
  });

  it('are not a whole name that only starts like the cut one, nor the environment\'s own uncut groups read as cut ones', () => {
    expect(isProviderLogGroupOf('/aws/lambda/nearstream-pr-feature-login-data-CustomS3AutoDe-AbCdEf123456', 'pr-feature-login', REGIONS)).toBe(false);
    expect(isProviderLogGroupOf('/aws/lambda/nearstream-pr-feature-log-CustomS3AutoDeleteObject-AbCdEf123456', 'pr-feature-log', REGIONS)).toBe(true);
  });

  it('are found under the prefix of the whole environment name and its hyphen when that fits in 25 characters', () => {
    expect(logGroupSearchPrefix('pr-1')).toBe('/aws/lambda/nearstream-pr-1-');
  });

  it('are never prod\'s, staging\'s or dev\'s, nor any group under their prefixes', () => {
    for (const environment of ['prod', 'staging', 'dev']) {
      for (const stackName of environmentStackNames(environment, REGIONS)) {
        expect([stackName, isProviderLogGroupOf(providerGroup(stackName), environment, REGIONS)]).toEqual([stackName, false]);
      }
    }
    // An ephemeral environment named like one of them cannot take their groups, nor its own under their prefix.
    expect(isProviderLogGroupOf(providerGroup('nearstream-prod-origin-replica-us-west-2'), 'prod-origin-re', REGIONS)).toBe(false);
    expect(isProviderLogGroupOf(providerGroup('nearstream-dev-x-data'), 'dev-x', REGIONS)).toBe(false);
  });

  it('are not groups of other shapes: functions named by hand, other prefixes', () => {
    for (const group of ['/aws/lambda/nearstream-pr-1-data', '/aws/lambda/nearstream-pr-1-data-', '/aws/codebuild/nearstream-pr-1-data-Project-AbCdEf123456', 'nearstream-pr-1-data-CustomS3-AbCdEf123456']) {
      expect([group, isProviderLogGroupOf(group, 'pr-1', REGIONS)]).toEqual([group, false]);
    }
  });
});

describe('planLogGroupCleanup', () => {
  const stack = (stackName: string, status = 'CREATE_COMPLETE', environment?: string): RegionStack => ({
    stackName,
    status,
    tags: environment ? { [ENVIRONMENT_TAGS.environment]: environment } : {},
  });
  const pr1Groups = [providerGroup('nearstream-pr-1-data'), providerGroup('nearstream-pr-1-appliance-image', RESTRICT_SG)];
  const logGroupNames = [...pr1Groups, providerGroup('nearstream-pr-12-data'), providerGroup('nearstream-prod-data')];

  it('deletes only the environment\'s groups once none of its stacks is left in the region', () => {
    const plan = planLogGroupCleanup({
      environment: 'pr-1',
      regions: REGIONS,
      stacks: [stack('nearstream-pr-12-data', 'CREATE_COMPLETE', 'pr-12'), stack('nearstream-prod-data', 'UPDATE_COMPLETE', 'prod'), stack('nearstream-pr-1-data', 'DELETE_COMPLETE', 'pr-1')],
      logGroupNames,
    });
    expect(plan).toEqual({ remainingStacks: [], deletable: [...pr1Groups].sort(), kept: [] });
  });

  it('deletes nothing while a stack of the environment remains, by its tag or by its name', () => {
    for (const remaining of [stack('nearstream-pr-1-origin-replica-us-west-2', 'DELETE_IN_PROGRESS', 'pr-1'), stack('nearstream-pr-1-encoding', 'DELETE_FAILED'), stack('nearstream-pr-1-odd', 'CREATE_COMPLETE', 'pr-1')]) {
      const plan = planLogGroupCleanup({ environment: 'pr-1', regions: REGIONS, stacks: [remaining], logGroupNames });
      expect(plan).toEqual({ remainingStacks: [remaining.stackName], deletable: [], kept: [] });
    }
  });

  it('keeps, and says why, a group whose cut name a live stack of another environment shares', () => {
    const shared = providerGroup('nearstream-pr-1-origin-replica-us-west-2', EXPORT_WRITER);
    const plan = planLogGroupCleanup({
      environment: 'pr-1',
      regions: REGIONS,
      stacks: [stack('nearstream-pr-1-origin-rex-data', 'CREATE_COMPLETE', 'pr-1-origin-rex')],
      logGroupNames: [shared, ...pr1Groups],
    });
    expect(plan.deletable).toEqual([...pr1Groups].sort());
    expect(plan.kept).toEqual([{ logGroupName: shared, reason: 'stack nearstream-pr-1-origin-rex-data has the same first 25 characters, so its functions may write it' }]);
  });
});

describe('environmentOfStackName', () => {
  const regions = ['us-east-1', 'us-west-2'];

  it.each([
    ['nearstream-pr-7-data', 'pr-7'],
    ['nearstream-pr-7-control-plane-us-west-2', 'pr-7'],
    ['nearstream-pr-feature-x-origin-replica-us-west-2', 'pr-feature-x'],
    ['nearstream-alice-appliances-us-east-1', 'alice'],
    ['nearstream-data-data', 'data'],
  ])('reads %s as environment %s', (stackName, environment) => {
    expect(environmentOfStackName(stackName, regions)).toBe(environment);
  });

  it.each([['nearstream-pipeline'], ['nearstream-pr-7-control-plane-eu-west-1'], ['other-pr-7-data'], ['nearstream--data'], ['nearstream-data']])('reads %s as no environment', (stackName) => {
    expect(environmentOfStackName(stackName, regions)).toBeUndefined();
  });
});
