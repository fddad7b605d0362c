import { CloudFormationClient, DeleteStackCommand, DescribeStacksCommand, ListStacksCommand, Stack } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient, DeleteLogGroupCommand, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { CleanupSummary, createCleanupHandler, invocationOf } from '../../../lambda/cleanup/handler';
import { logger } from '../../../lambda/shared/powertools';
import { ENVIRONMENT_TAGS } from '../../../lib/config/lifetime';

const cloudFormationMock = mockClient(CloudFormationClient);
const stsMock = mockClient(STSClient);
const snsMock = mockClient(SNSClient);
const logsMock = mockClient(CloudWatchLogsClient);

const ACCOUNT = '123456789012';
const REGIONS = ['us-east-1', 'us-west-2'] as const;
const TOPIC = `arn:aws:sns:us-east-1:${ACCOUNT}:cleanup-reports`;
const NOW = new Date('2026-12-02T12:00:00Z');
const deployRole = (region: string) => `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-deploy-role-${ACCOUNT}-${region}`;
const executionRole = (region: string) => `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-${region}`;
/** Each region's deploy role session gets its own key, so a call made with the wrong one shows. */
const sessionKey = (region: string) => `ASIA${region.replace(/-/g, '').toUpperCase()}`;

/** A stack as DescribeStacks returns it. */
function stack(stackName: string, tags: Record<string, string>, status = 'CREATE_COMPLETE', more: Partial<Stack> = {}): Stack {
  return {
    StackName: stackName,
    StackStatus: status as Stack['StackStatus'],
    CreationTime: NOW,
    StackId: `stack-id/${stackName}`,
    Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    ...more,
  };
}

/** Tags of an environment's stacks; an empty `expiresAt` leaves the expiry tag off. */
const tagsOf = (environment: string, kind = 'ephemeral', expiresAt = '2026-12-01T00:00:00Z') => ({
  [ENVIRONMENT_TAGS.environment]: environment,
  [ENVIRONMENT_TAGS.kind]: kind,
  ...(expiresAt ? { [ENVIRONMENT_TAGS.expiresAt]: expiresAt } : {}),
});

/** An expired environment's stacks by region; appliances in both. */
function expiredEnvironment(name: string): Record<string, Stack[]> {
  const tags = tagsOf(name);
  return {
    'us-east-1': ['data', 'encoding', 'appliance-image', 'control-plane-us-east-1', 'appliances-us-east-1'].map((part) => stack(`nearstream-${name}-${part}`, tags)),
    'us-west-2': ['origin-replica-us-west-2', 'control-plane-us-west-2', 'appliances-us-west-2'].map((part) => stack(`nearstream-${name}-${part}`, tags)),
  };
}

/** The clock of a run: sleeping moves it on at once, so a run's waiting takes no time. */
class FakeClock {
  readonly sleeps: number[] = [];
  constructor(public current: Date) {}
  now = () => this.current;
  sleep = async (ms: number) => {
    this.sleeps.push(ms);
    this.current = new Date(this.current.getTime() + ms);
  };
}
const clock = new FakeClock(NOW);

/**
 * CloudFormation in two regions, as far as the cleanup sees it: DescribeStacks in pages of two, or
 * of one stack by name or id; DeleteStack starting a deletion that completes when `completesAt`
 * says (by the run's clock), or never. Both refuse a client whose credentials are not the session
 * of that region's deploy role, as IAM would.
 */
class CloudFormationModel {
  readonly stacks: Record<string, Stack[]>;
  readonly deleted: { region: string; stackName: string; roleArn?: string }[] = [];
  /** When each deletion completes, by stack name; one not here never does. */
  readonly completesAt = new Map<string, Date>();
  /** When each deletion fails instead. */
  readonly failsAt = new Map<string, Date>();
  readonly gone: Stack[] = [];
  /** What ListStacks keeps of deleted stacks (90 days), by region. */
  readonly deletedSummaries: { region: string; StackName: string; DeletionTime: Date }[] = [];

  constructor(stacks: Record<string, Stack[]>) {
    this.stacks = { 'us-east-1': [], 'us-west-2': [], ...structuredClone(stacks) };
    stsMock.on(AssumeRoleCommand).callsFake((input) => {
      const region = REGIONS.find((candidate) => deployRole(candidate) === input.RoleArn);
      if (!region) {
        throw Object.assign(new Error(`not authorized to assume ${input.RoleArn}`), { name: 'AccessDenied' });
      }
      return { Credentials: { AccessKeyId: sessionKey(region), SecretAccessKey: 'secret', SessionToken: 'token', Expiration: new Date(NOW.getTime() + 900_000) } };
    });
    cloudFormationMock.on(DescribeStacksCommand).callsFake(async (input, getClient) => {
      const region = await this.authorizedRegion(getClient());
      this.advance();
      if (input.StackName) {
        const byName = this.stacks[region].find((candidate) => candidate.StackName === input.StackName || candidate.StackId === input.StackName);
        const byId = this.gone.find((candidate) => candidate.StackId === input.StackName);
        if (!byName && !byId) {
          throw Object.assign(new Error(`Stack with id ${input.StackName} does not exist`), { name: 'ValidationError' });
        }
        return { Stacks: [byName ?? byId!] };
      }
      const start = Number(input.NextToken ?? 0);
      const page = this.stacks[region].slice(start, start + 2);
      return { Stacks: page, NextToken: start + 2 < this.stacks[region].length ? String(start + 2) : undefined };
    });
    cloudFormationMock.on(ListStacksCommand).callsFake(async (input, getClient) => {
      const region = await this.authorizedRegion(getClient());
      expect(input.StackStatusFilter).toEqual(['DELETE_COMPLETE']);
      const summaries = this.deletedSummaries
        .filter((summary) => summary.region === region)
        .map(({ StackName, DeletionTime }) => ({ StackName, DeletionTime, StackStatus: 'DELETE_COMPLETE' as const, CreationTime: NOW }));
      const start = Number(input.NextToken ?? 0);
      return { StackSummaries: summaries.slice(start, start + 2), NextToken: start + 2 < summaries.length ? String(start + 2) : undefined };
    });
    cloudFormationMock.on(DeleteStackCommand).callsFake(async (input, getClient) => {
      const region = await this.authorizedRegion(getClient());
      const found = this.stacks[region].find((candidate) => candidate.StackName === input.StackName);
      if (!found) {
        throw Object.assign(new Error(`Stack ${input.StackName} does not exist`), { name: 'ValidationError' });
      }
      found.StackStatus = 'DELETE_IN_PROGRESS';
      this.deleted.push({ region, stackName: input.StackName, roleArn: input.RoleARN });
      return {};
    });
  }

  /** Completes or fails the deletions whose time has come. */
  private advance(): void {
    for (const region of Object.keys(this.stacks)) {
      for (const stack of [...this.stacks[region]]) {
        const completes = this.completesAt.get(stack.StackName!);
        const fails = this.failsAt.get(stack.StackName!);
        if (stack.StackStatus === 'DELETE_IN_PROGRESS' && completes && completes <= clock.now()) {
          this.stacks[region] = this.stacks[region].filter((candidate) => candidate !== stack);
          this.gone.push({ ...stack, StackStatus: 'DELETE_COMPLETE' });
          this.deletedSummaries.push({ region, StackName: stack.StackName!, DeletionTime: clock.now() });
        } else if (stack.StackStatus === 'DELETE_IN_PROGRESS' && fails && fails <= clock.now()) {
          stack.StackStatus = 'DELETE_FAILED';
        }
      }
    }
  }

  private async authorizedRegion(client: { config: { region: unknown; credentials: unknown } }): Promise<string> {
    const region = await (client.config.region as () => Promise<string>)();
    const credentials = await (client.config.credentials as () => Promise<{ accessKeyId: string }>)();
    if (credentials.accessKeyId !== sessionKey(region)) {
      throw Object.assign(new Error(`${credentials.accessKeyId} is not the deploy role of ${region}`), { name: 'AccessDenied' });
    }
    return region;
  }
}

/**
 * CloudWatch Logs in two regions: DescribeLogGroups by prefix in pages of two, DeleteLogGroup
 * removing one or saying it is not there.
 */
class LogsModel {
  readonly groups: Record<string, string[]>;

  constructor(groups: Record<string, string[]> = {}) {
    this.groups = { 'us-east-1': [], 'us-west-2': [], ...structuredClone(groups) };
    logsMock.on(DescribeLogGroupsCommand).callsFake(async (input, getClient) => {
      const region = await (getClient().config.region as () => Promise<string>)();
      const matching = this.groups[region].filter((name) => name.startsWith(input.logGroupNamePrefix ?? ''));
      const start = Number(input.nextToken ?? 0);
      return { logGroups: matching.slice(start, start + 2).map((logGroupName) => ({ logGroupName })), nextToken: start + 2 < matching.length ? String(start + 2) : undefined };
    });
    logsMock.on(DeleteLogGroupCommand).callsFake(async (input, getClient) => {
      const region = await (getClient().config.region as () => Promise<string>)();
      if (!this.groups[region].includes(input.logGroupName!)) {
        throw Object.assign(new Error('The specified log group does not exist.'), { name: 'ResourceNotFoundException' });
      }
      this.groups[region] = this.groups[region].filter((name) => name !== input.logGroupName);
      return {};
    });
  }
}

const RUN_TIMEOUT_MS = 15 * 60_000;

/** One run at `now` of a function with a 15-minute timeout; its clock goes on from `now` as it waits. */
const cleanup = (now = NOW) => {
  clock.current = now;
  return createCleanupHandler({
    regions: REGIONS,
    qualifier: 'hnb659fds',
    topicArn: TOPIC,
    sts: new STSClient({ region: 'us-east-1' }),
    sns: new SNSClient({ region: 'us-east-1' }),
    cloudFormation: (region, credentials) => new CloudFormationClient({ region, credentials }),
    logs: (region) => new CloudWatchLogsClient({ region }),
    now: clock.now,
    sleep: clock.sleep,
  })({ account: ACCOUNT, partition: 'aws', timesOutAt: new Date(now.getTime() + RUN_TIMEOUT_MS) });
};

/** The summaries published to the topic. */
function published(): CleanupSummary[] {
  return snsMock.commandCalls(PublishCommand).map(({ args: [command] }) => {
    expect(command.input.TopicArn).toBe(TOPIC);
    return JSON.parse(command.input.Message!) as CleanupSummary;
  });
}

describe('the cleanup handler', () => {
  beforeEach(() => {
    cloudFormationMock.reset();
    stsMock.reset();
    snsMock.reset();
    logsMock.reset();
    new LogsModel();
    clock.sleeps.length = 0;
    snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  it('acts in each region as its deploy role, lists every page, and deletes the first layer there with the execution role', async () => {
    const stacks = expiredEnvironment('pr-feature-x');
    stacks['us-west-2'].push(stack('CDKToolkit', {}), stack('nearstream-untagged-data', {}));
    const model = new CloudFormationModel(stacks);

    const summary = await cleanup();

    expect(stsMock.commandCalls(AssumeRoleCommand).map(({ args: [command] }) => command.input.RoleArn).sort()).toEqual(REGIONS.map(deployRole));
    // Five stacks in us-east-1 in pages of two: three pages; the appliances of us-east-1 are on the last.
    expect(cloudFormationMock.commandCalls(DescribeStacksCommand).map(({ args: [command] }) => command.input.NextToken ?? '')).toEqual(expect.arrayContaining(['', '2', '4']));
    expect(model.deleted.sort((a, b) => a.region.localeCompare(b.region))).toEqual([
      { region: 'us-east-1', stackName: 'nearstream-pr-feature-x-appliances-us-east-1', roleArn: executionRole('us-east-1') },
      { region: 'us-west-2', stackName: 'nearstream-pr-feature-x-appliances-us-west-2', roleArn: executionRole('us-west-2') },
    ]);
    expect(summary).toMatchObject({ at: NOW.toISOString(), lastLayerStarted: [], waiting: ['pr-feature-x'], failed: [], refused: [], skipped: [] });
    expect(summary.started.map((started) => started.stackName).sort()).toEqual(['nearstream-pr-feature-x-appliances-us-east-1', 'nearstream-pr-feature-x-appliances-us-west-2']);
    expect(published()).toEqual([JSON.parse(JSON.stringify(summary))]);
    expect(snsMock.commandCalls(PublishCommand)[0].args[0].input.Subject).toBe('Nearstream cleanup: 2 stacks deleting');
  });

  it('issues nothing again on the next run while the layer is deleting, and stays quiet', async () => {
    const model = new CloudFormationModel(expiredEnvironment('pr-41'));
    await cleanup();
    snsMock.resetHistory();

    const second = await cleanup();

    expect(model.deleted).toHaveLength(2);
    expect(second.started).toEqual([]);
    expect(second.inProgress).toHaveLength(2);
    expect(second.waiting).toEqual(['pr-41']);
    expect(published()).toEqual([]);
  });

  it('publishes nothing when nothing is expired', async () => {
    new CloudFormationModel({
      'us-east-1': [stack('nearstream-prod-data', tagsOf('prod', 'prod')), stack('nearstream-pr-9-data', tagsOf('pr-9', 'ephemeral', '2026-12-09T00:00:00Z'))],
      'us-west-2': [stack('nearstream-dev-origin-replica-us-west-2', tagsOf('dev', 'ephemeral', ''))],
    });

    const summary = await cleanup();

    expect(summary.skipped.map((skip) => [skip.environment, skip.reason])).toEqual([['dev', 'no-expiry'], ['pr-9', 'not-expired'], ['prod', 'protected-kind']]);
    expect(cloudFormationMock.commandCalls(DeleteStackCommand)).toEqual([]);
    expect(published()).toEqual([]);
  });

  it('publishes a stack skipped for a bad tag, naming it', async () => {
    new CloudFormationModel({ 'us-east-1': [stack('nearstream-pr-7-data', tagsOf('pr-7', 'ephemeral', 'next tuesday'))] });

    const summary = await cleanup();

    expect(cloudFormationMock.commandCalls(DeleteStackCommand)).toEqual([]);
    expect(published()).toEqual([expect.objectContaining({ skipped: [expect.objectContaining({ environment: 'pr-7', reason: 'bad-expiry', stacks: [{ stackName: 'nearstream-pr-7-data', region: 'us-east-1' }] })] })]);
    expect(summary.skipped[0].detail).toContain("'next tuesday'");
    expect(snsMock.commandCalls(PublishCommand)[0].args[0].input.Subject).toBe('Nearstream cleanup: 1 skipped for bad tags');
  });

  describe('a failed deletion', () => {
    const REASON = 'The following resource(s) failed to delete: [MediaBucket83908E77]. ';
    /** pr-3's data stack, whose deletion began at `deletionStartedAt` and failed. */
    const failedData = (deletionStartedAt: string) => ({
      'us-east-1': [stack('nearstream-pr-3-data', tagsOf('pr-3'), 'DELETE_FAILED', { StackStatusReason: REASON, DeletionTime: new Date(deletionStartedAt) })],
    });

    it('is published in the first run after it failed, with CloudFormation\'s reason and how to retry, and left for the daily retry', async () => {
      const model = new CloudFormationModel(failedData('2026-12-02T11:45:04Z'));

      const summary = await cleanup();

      expect(model.deleted).toEqual([]);
      expect(summary.failed).toEqual([
        { stackName: 'nearstream-pr-3-data', region: 'us-east-1', statusReason: REASON, retried: false, announced: true, fix: expect.stringContaining('CloudFormation says: The following resource(s) failed to delete: [MediaBucket83908E77]. Remove') },
      ]);
      expect(summary.failed[0].fix).toContain(`aws cloudformation delete-stack --region us-east-1 --stack-name nearstream-pr-3-data --role-arn ${executionRole('us-east-1')}`);
      expect(summary.failed[0].fix).toContain('09:00 UTC');
      expect(summary).toMatchObject({ started: [], lastLayerStarted: [], waiting: ['pr-3'] });
      expect(published()).toEqual([JSON.parse(JSON.stringify(summary))]);
      expect(snsMock.commandCalls(PublishCommand)[0].args[0].input.Subject).toBe('Nearstream cleanup: 1 stacks failed');
    });

    it('is not published again by the runs after that', async () => {
      const model = new CloudFormationModel(failedData('2026-12-02T11:45:04Z'));

      const later = await cleanup(new Date('2026-12-02T12:15:00Z'));
      const nextMorning = await cleanup(new Date('2026-12-03T08:45:00Z'));

      expect(model.deleted).toEqual([]);
      expect([later.failed, nextMorning.failed]).toEqual([[expect.objectContaining({ announced: false, retried: false })], [expect.objectContaining({ announced: false, retried: false })]]);
      expect(published()).toEqual([]);
    });

    it('is retried and published once a day, in the first run of 09:00 UTC, and not the run after when the retry fails too', async () => {
      const model = new CloudFormationModel(failedData('2026-12-01T16:30:04Z'));

      const daily = await cleanup(new Date('2026-12-02T09:07:00Z'));

      expect(model.deleted).toEqual([{ region: 'us-east-1', stackName: 'nearstream-pr-3-data', roleArn: executionRole('us-east-1') }]);
      expect(daily.failed).toEqual([expect.objectContaining({ stackName: 'nearstream-pr-3-data', statusReason: REASON, retried: true, announced: true })]);
      expect(daily).toMatchObject({ started: [], lastLayerStarted: ['pr-3'], waiting: [] });
      expect(published()).toEqual([expect.objectContaining({ failed: daily.failed, lastLayerStarted: ['pr-3'] })]);
      expect(snsMock.commandCalls(PublishCommand)[0].args[0].input.Subject).toBe('Nearstream cleanup: 1 environments deleting their last stacks, 1 stacks failed');

      snsMock.resetHistory();
      model.stacks['us-east-1'][0] = { ...model.stacks['us-east-1'][0], StackStatus: 'DELETE_FAILED', DeletionTime: new Date('2026-12-02T09:07:05Z') };
      await cleanup(new Date('2026-12-02T09:22:00Z'));
      expect(published()).toEqual([]);
    });

    it('is reported without a reason when DescribeStacks gives none', async () => {
      new CloudFormationModel({ 'us-east-1': [stack('nearstream-pr-3-data', tagsOf('pr-3'), 'DELETE_FAILED')] });

      const summary = await cleanup(new Date('2026-12-02T09:07:00Z'));

      expect(summary.failed[0].fix).toMatch(/^CloudFormation gave no reason: read the stack's events\./);
    });
  });

  it('says an environment is deleting its last stacks when its last layer starts, never that it is removed', async () => {
    new CloudFormationModel({ 'us-west-2': [stack('nearstream-pr-3-origin-replica-us-west-2', tagsOf('pr-3'))] });

    const summary = await cleanup();

    expect(summary).toMatchObject({ lastLayerStarted: ['pr-3'], waiting: [] });
    expect(snsMock.commandCalls(PublishCommand)[0].args[0].input.Subject).toBe('Nearstream cleanup: 1 stacks deleting, 1 environments deleting their last stacks');
    expect(JSON.stringify(published())).not.toMatch(/removed/i);
  });

  it('tears down an environment whose stacks disagree on the expiry once the latest has passed, without reporting a bad tag', async () => {
    const earlier = tagsOf('pr-8', 'ephemeral', '2026-12-01T00:00:00Z');
    const extended = tagsOf('pr-8', 'ephemeral', '2026-12-02T06:00:00Z');
    const model = new CloudFormationModel({
      'us-east-1': [stack('nearstream-pr-8-data', extended), stack('nearstream-pr-8-appliances-us-east-1', earlier)],
      'us-west-2': [stack('nearstream-pr-8-origin-replica-us-west-2', extended)],
    });

    const summary = await cleanup();

    expect(model.deleted.map((deleted) => deleted.stackName)).toEqual(['nearstream-pr-8-appliances-us-east-1']);
    expect(summary.skipped).toEqual([]);
    expect(snsMock.commandCalls(PublishCommand)[0].args[0].input.Subject).toBe('Nearstream cleanup: 1 stacks deleting');
  });

  it('goes on with the other stacks when CloudFormation refuses one, and does not say the environment is deleting its last stacks', async () => {
    const model = new CloudFormationModel({ 'us-east-1': [stack('nearstream-pr-5-control-plane-us-east-1', tagsOf('pr-5')), stack('nearstream-pr-5-appliance-image', tagsOf('pr-5'))] });
    cloudFormationMock.on(DeleteStackCommand, { StackName: 'nearstream-pr-5-control-plane-us-east-1' }).rejects(Object.assign(new Error('Stack is in UPDATE_ROLLBACK_FAILED state'), { name: 'ValidationError' }));

    const summary = await cleanup();

    expect(model.deleted.map((deleted) => deleted.stackName)).toEqual(['nearstream-pr-5-appliance-image']);
    expect(summary.refused).toEqual([{ stackName: 'nearstream-pr-5-control-plane-us-east-1', region: 'us-east-1', error: 'Stack is in UPDATE_ROLLBACK_FAILED state' }]);
    expect(summary).toMatchObject({ lastLayerStarted: [], waiting: ['pr-5'] });
    expect(published()).toHaveLength(1);
  });

  it('deletes nothing anywhere when a region cannot be listed, and says which', async () => {
    const model = new CloudFormationModel(expiredEnvironment('pr-41'));
    cloudFormationMock.on(DescribeStacksCommand).callsFake(async (_input, getClient) => {
      if ((await getClient().config.region()) === 'us-west-2') {
        throw Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $retryable: {} });
      }
      return { Stacks: model.stacks['us-east-1'] };
    });

    await expect(cleanup()).rejects.toThrow('Listing the stacks of us-west-2 failed, so nothing was deleted: Rate exceeded');
    expect(cloudFormationMock.commandCalls(DeleteStackCommand)).toEqual([]);
    expect(published()).toEqual([]);
  });

  describe('the end of an environment', () => {
    const REPLICA = 'nearstream-pr-3-origin-replica-us-west-2';
    const minutes = (count: number, from = NOW) => new Date(from.getTime() + count * 60_000);
    /** The log group Lambda creates for a provider function CloudFormation names in `stackName`. */
    const providerGroup = (stackName: string, logicalId = 'CustomS3AutoDeleteObjectsCustomResourceProviderHandler9D90184F') => {
      const stackPart = stackName.slice(0, 25);
      return `/aws/lambda/${stackPart}-${logicalId.slice(0, 63 - 14 - stackPart.length)}-Ab12Cd34Ef56`;
    };
    const pr3Groups = {
      'us-east-1': [providerGroup('nearstream-pr-3-data'), providerGroup('nearstream-pr-3-data', 'CustomCrossRegionExportWriterCustomResourceProviderHandlerD8786E8A'), providerGroup('nearstream-pr-3-appliance-image', 'CustomVpcRestrictDefaultSGCustomResourceProviderHandlerDC833E5E')],
      'us-west-2': [providerGroup(REPLICA), providerGroup(REPLICA, 'CustomCrossRegionExportWriterCustomResourceProviderHandlerD8786E8A')],
    };
    /** Groups of other environments, live or not, that the end of pr-3 must leave. */
    const othersGroups = {
      'us-east-1': [providerGroup('nearstream-pr-31-data'), providerGroup('nearstream-prod-data'), providerGroup('nearstream-pr-3-x-encoding'), '/aws/lambda/nearstream-pr-3-data'],
      'us-west-2': [providerGroup('nearstream-pr-31-origin-replica-us-west-2'), providerGroup('nearstream-dev-origin-replica-us-west-2')],
    };
    const allGroups = () => ({ 'us-east-1': [...pr3Groups['us-east-1'], ...othersGroups['us-east-1']], 'us-west-2': [...pr3Groups['us-west-2'], ...othersGroups['us-west-2']] });
    const live = { 'us-east-1': [stack('nearstream-pr-31-data', tagsOf('pr-31', 'ephemeral', '2026-12-09T00:00:00Z')), stack('nearstream-prod-data', tagsOf('prod', 'prod'))] };

    it('waits for the last stack it starts deleting, then deletes the environment\'s provider log groups in both regions, and no other\'s', async () => {
      const model = new CloudFormationModel({ 'us-west-2': [stack(REPLICA, tagsOf('pr-3'))], ...live });
      model.completesAt.set(REPLICA, minutes(4));
      const logs = new LogsModel(allGroups());

      const summary = await cleanup();

      expect(model.deleted.map((deleted) => deleted.stackName)).toEqual([REPLICA]);
      // Polled every 15 seconds until DescribeStacks by id said DELETE_COMPLETE at 4 minutes.
      expect(clock.sleeps).toEqual(Array(16).fill(15_000));
      expect(cloudFormationMock.commandCalls(DescribeStacksCommand).filter(({ args: [command] }) => command.input.StackName === `stack-id/${REPLICA}`)).toHaveLength(17);
      expect(summary).toMatchObject({ lastLayerStarted: ['pr-3'], lastLayerDeleted: ['pr-3'], logGroupsKept: [] });
      expect(summary.logGroupsDeleted).toEqual(
        expect.arrayContaining([...pr3Groups['us-east-1'].map((logGroupName) => ({ environment: 'pr-3', region: 'us-east-1', logGroupName })), ...pr3Groups['us-west-2'].map((logGroupName) => ({ environment: 'pr-3', region: 'us-west-2', logGroupName }))]),
      );
      expect(summary.logGroupsDeleted).toHaveLength(5);
      expect(logs.groups).toEqual(othersGroups);
      // Five groups under the prefix in us-east-1 and two in us-west-2, in pages of two.
      expect(logsMock.commandCalls(DescribeLogGroupsCommand).map(({ args: [command] }) => command.input.logGroupNamePrefix)).toEqual(Array(4).fill('/aws/lambda/nearstream-pr-3-'));
      expect(snsMock.commandCalls(PublishCommand)[0].args[0].input.Subject).toBe('Nearstream cleanup: 1 stacks deleting, 1 environments deleted');
      expect(published()).toEqual([JSON.parse(JSON.stringify(summary))]);
    });

    it('deletes the provider log groups of an environment whose last stack finished deleting between runs, and of none deleted over a day ago, live or protected', async () => {
      const model = new CloudFormationModel(live);
      model.deletedSummaries.push(
        { region: 'us-west-2', StackName: REPLICA, DeletionTime: minutes(-90) },
        { region: 'us-east-1', StackName: 'nearstream-pr-3-data', DeletionTime: minutes(-200) },
        { region: 'us-west-2', StackName: 'nearstream-pr-31-origin-replica-us-west-2', DeletionTime: minutes(-30) },
        { region: 'us-west-2', StackName: 'nearstream-dev-origin-replica-us-west-2', DeletionTime: minutes(-30) },
        { region: 'us-east-1', StackName: 'nearstream-pr-3-x-encoding', DeletionTime: minutes(-25 * 60) },
        { region: 'us-east-1', StackName: 'unrelated-stack', DeletionTime: minutes(-5) },
      );
      const logs = new LogsModel(allGroups());

      const summary = await cleanup();

      expect(model.deleted).toEqual([]);
      expect(summary.logGroupsDeleted.map((group) => group.logGroupName).sort()).toEqual([...pr3Groups['us-east-1'], ...pr3Groups['us-west-2']].sort());
      // pr-31 still has its data stack; dev is protected; pr-3-x was deleted more than a day ago.
      expect(logs.groups).toEqual(othersGroups);
      expect(summary.logGroupsKept).toEqual([]);
    });

    it('waits no longer than 3 minutes before the function times out, and the next run, finding the stack still deleting, waits again and finishes', async () => {
      const model = new CloudFormationModel({ 'us-west-2': [stack(REPLICA, tagsOf('pr-3'))] });
      model.completesAt.set(REPLICA, minutes(20));
      const logs = new LogsModel(pr3Groups);

      const first = await cleanup();

      expect(clock.now().getTime()).toBeLessThanOrEqual(minutes(12).getTime());
      expect(clock.sleeps).toHaveLength(48);
      expect(first).toMatchObject({ lastLayerStarted: ['pr-3'], lastLayerDeleted: [], logGroupsDeleted: [] });
      expect(logsMock.commandCalls(DescribeLogGroupsCommand)).toEqual([]);

      clock.sleeps.length = 0;
      const second = await cleanup(minutes(15));

      expect(model.deleted).toHaveLength(1);
      expect(second).toMatchObject({ started: [], inProgress: [{ stackName: REPLICA }], lastLayerStarted: [], lastLayerDeleted: ['pr-3'] });
      expect(clock.sleeps).toHaveLength(20);
      expect(second.logGroupsDeleted).toHaveLength(5);
      expect(logs.groups).toEqual({ 'us-east-1': [], 'us-west-2': [] });
    });

    it('deletes no log group while a stack of the environment remains, and does not wait for a layer that is not its last', async () => {
      const model = new CloudFormationModel({
        'us-east-1': [stack('nearstream-pr-3-data', tagsOf('pr-3'))],
        'us-west-2': [stack(REPLICA, tagsOf('pr-3'))],
      });
      model.completesAt.set('nearstream-pr-3-data', minutes(1));
      const logs = new LogsModel(pr3Groups);

      const summary = await cleanup();

      expect(model.deleted.map((deleted) => deleted.stackName)).toEqual(['nearstream-pr-3-data']);
      expect(clock.sleeps).toEqual([]);
      expect(summary).toMatchObject({ waiting: ['pr-3'], lastLayerDeleted: [], logGroupsDeleted: [] });
      expect(logsMock.commandCalls(DescribeLogGroupsCommand)).toEqual([]);
      expect(logs.groups).toEqual(pr3Groups);
    });

    it('stops waiting when the last stack fails to delete, and keeps the log groups for the run that sees it deleted', async () => {
      const model = new CloudFormationModel({ 'us-west-2': [stack(REPLICA, tagsOf('pr-3'))] });
      model.failsAt.set(REPLICA, minutes(2));
      const logs = new LogsModel(pr3Groups);

      const summary = await cleanup();

      expect(clock.sleeps).toHaveLength(8);
      expect(summary).toMatchObject({ lastLayerStarted: ['pr-3'], lastLayerDeleted: [], logGroupsDeleted: [] });
      expect(logs.groups).toEqual(pr3Groups);
    });

    it('keeps, and reports, a group whose cut name a live stack of another environment shares, and deletes the rest', async () => {
      const sharing = stack('nearstream-pr-3-origin-rex-data', tagsOf('pr-3-origin-rex', 'ephemeral', '2026-12-09T00:00:00Z'));
      const model = new CloudFormationModel({ 'us-west-2': [stack(REPLICA, tagsOf('pr-3')), sharing] });
      model.completesAt.set(REPLICA, minutes(1));
      const logs = new LogsModel(pr3Groups);

      const summary = await cleanup();

      expect(summary.logGroupsKept).toEqual(
        [...pr3Groups['us-west-2']].sort().map((logGroupName) => ({ environment: 'pr-3', region: 'us-west-2', logGroupName, reason: expect.stringContaining('stack nearstream-pr-3-origin-rex-data has the same first 25 characters') })),
      );
      expect(summary.logGroupsDeleted.map((group) => group.logGroupName).sort()).toEqual([...pr3Groups['us-east-1']].sort());
      expect(logs.groups['us-west-2']).toEqual(pr3Groups['us-west-2']);
      expect(snsMock.commandCalls(PublishCommand)[0].args[0].input.Subject).toBe("Nearstream cleanup: 1 stacks deleting, 1 environments deleted, 1 environments' log groups kept");
    });

    it('reports, rather than fails on, log groups CloudWatch Logs would not let it list', async () => {
      const model = new CloudFormationModel({ 'us-west-2': [stack(REPLICA, tagsOf('pr-3'), 'DELETE_IN_PROGRESS')] });
      model.completesAt.set(REPLICA, minutes(1));
      new LogsModel(pr3Groups);
      logsMock.on(DescribeLogGroupsCommand).rejects(Object.assign(new Error('not authorized to perform: logs:DescribeLogGroups'), { name: 'AccessDeniedException' }));

      const summary = await cleanup();

      expect(summary).toMatchObject({ lastLayerDeleted: ['pr-3'], logGroupsDeleted: [] });
      expect(summary.logGroupsKept.map((kept) => [kept.region, kept.reason])).toEqual(REGIONS.map((region) => [region, expect.stringContaining('not authorized to perform: logs:DescribeLogGroups')]));
      expect(published()).toHaveLength(1);
    });
  });

  it('logs one line per decision', async () => {
    new CloudFormationModel({
      'us-east-1': [
        stack('nearstream-pr-1-appliances-us-east-1', tagsOf('pr-1'), 'DELETE_IN_PROGRESS'),
        stack('nearstream-pr-1-data', tagsOf('pr-1')),
        stack('nearstream-prod-data', tagsOf('prod', 'prod')),
      ],
      'us-west-2': [stack('nearstream-pr-1-appliances-us-west-2', tagsOf('pr-1'))],
    });
    const info = jest.spyOn(logger, 'info');
    const warn = jest.spyOn(logger, 'warn');
    try {
      await cleanup();
      const lines = [...info.mock.calls, ...warn.mock.calls].map(([message, fields]) => [message, (fields as { stackName?: string; environment?: string }).stackName ?? (fields as { environment: string }).environment]);
      expect(lines.sort()).toEqual(
        [
          ['deleting stack', 'nearstream-pr-1-appliances-us-west-2'],
          ['stack deletion in progress', 'nearstream-pr-1-appliances-us-east-1'],
          ['environment waiting for its current layer to go', 'pr-1'],
          ['environment skipped', 'prod'],
        ].sort(),
      );
    } finally {
      info.mockRestore();
      warn.mockRestore();
    }
  });
});

describe('invocationOf', () => {
  it('reads the account and partition from the invoked function\'s ARN, and when the run times out from its context', () => {
    const context = { invokedFunctionArn: 'arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:cleanup', getRemainingTimeInMillis: () => 899_000 };
    expect(invocationOf(context, NOW)).toEqual({ account: '123456789012', partition: 'aws-us-gov', timesOutAt: new Date('2026-12-02T12:14:59Z') });
    expect(() => invocationOf({ ...context, invokedFunctionArn: 'cleanup' }, NOW)).toThrow("invokedFunctionArn 'cleanup' does not name a partition and a 12-digit account");
  });
});
