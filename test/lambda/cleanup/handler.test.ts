import { CloudFormationClient, DeleteStackCommand, DescribeStacksCommand, Stack } from '@aws-sdk/client-cloudformation';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { CleanupSummary, createCleanupHandler, invocationOf } from '../../../lambda/cleanup/handler';
import { logger } from '../../../lambda/shared/powertools';
import { ENVIRONMENT_TAGS } from '../../../lib/config/lifetime';

const cloudFormationMock = mockClient(CloudFormationClient);
const stsMock = mockClient(STSClient);
const snsMock = mockClient(SNSClient);

const ACCOUNT = '123456789012';
const REGIONS = ['us-east-1', 'us-west-2'] as const;
const TOPIC = `arn:aws:sns:us-east-1:${ACCOUNT}:cleanup-reports`;
const NOW = new Date('2026-12-02T12:00:00Z');
const deployRole = (region: string) => `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-deploy-role-${ACCOUNT}-${region}`;
const executionRole = (region: string) => `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-${region}`;
/** Each region's deploy role session gets its own key, so a call made with the wrong one shows. */
const sessionKey = (region: string) => `ASIA${region.replace(/-/g, '').toUpperCase()}`;

/** A stack as DescribeStacks returns it. */
function stack(stackName: string, tags: Record<string, string>, status = 'CREATE_COMPLETE'): Stack {
  return {
    StackName: stackName,
    StackStatus: status as Stack['StackStatus'],
    CreationTime: NOW,
    Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
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

/**
 * CloudFormation in two regions, as far as the cleanup sees it: DescribeStacks in pages of two,
 * DeleteStack starting a deletion. Both refuse a client whose credentials are not the session of
 * that region's deploy role, as IAM would.
 */
class CloudFormationModel {
  readonly stacks: Record<string, Stack[]>;
  readonly deleted: { region: string; stackName: string; roleArn?: string }[] = [];

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
      const start = Number(input.NextToken ?? 0);
      const page = this.stacks[region].slice(start, start + 2);
      return { Stacks: page, NextToken: start + 2 < this.stacks[region].length ? String(start + 2) : undefined };
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

  private async authorizedRegion(client: { config: { region: unknown; credentials: unknown } }): Promise<string> {
    const region = await (client.config.region as () => Promise<string>)();
    const credentials = await (client.config.credentials as () => Promise<{ accessKeyId: string }>)();
    if (credentials.accessKeyId !== sessionKey(region)) {
      throw Object.assign(new Error(`${credentials.accessKeyId} is not the deploy role of ${region}`), { name: 'AccessDenied' });
    }
    return region;
  }
}

const run = createCleanupHandler({
  regions: REGIONS,
  qualifier: 'hnb659fds',
  topicArn: TOPIC,
  sts: new STSClient({ region: 'us-east-1' }),
  sns: new SNSClient({ region: 'us-east-1' }),
  cloudFormation: (region, credentials) => new CloudFormationClient({ region, credentials }),
  now: () => NOW,
});
const cleanup = () => run({ account: ACCOUNT, partition: 'aws' });

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
    expect(summary).toMatchObject({ at: NOW.toISOString(), removed: [], waiting: ['pr-feature-x'], failed: [], refused: [], skipped: [] });
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

  it('retries a failed deletion and reports it', async () => {
    const model = new CloudFormationModel({ 'us-east-1': [stack('nearstream-pr-3-data', tagsOf('pr-3'), 'DELETE_FAILED')] });

    const summary = await cleanup();

    expect(model.deleted).toEqual([{ region: 'us-east-1', stackName: 'nearstream-pr-3-data', roleArn: executionRole('us-east-1') }]);
    expect(summary.failed).toEqual([{ stackName: 'nearstream-pr-3-data', region: 'us-east-1' }]);
    expect(summary.started).toEqual([]);
    expect(published()).toEqual([expect.objectContaining({ failed: summary.failed, removed: ['pr-3'] })]);
  });

  it('reports an environment removed when its last layer starts deleting', async () => {
    new CloudFormationModel({ 'us-west-2': [stack('nearstream-pr-3-origin-replica-us-west-2', tagsOf('pr-3'))] });

    const summary = await cleanup();

    expect(summary).toMatchObject({ removed: ['pr-3'], waiting: [] });
    expect(snsMock.commandCalls(PublishCommand)[0].args[0].input.Subject).toBe('Nearstream cleanup: 1 stacks deleting, 1 environments removed');
  });

  it('goes on with the other stacks when CloudFormation refuses one, and does not call the environment removed', async () => {
    const model = new CloudFormationModel({ 'us-east-1': [stack('nearstream-pr-5-encoding', tagsOf('pr-5')), stack('nearstream-pr-5-appliance-image', tagsOf('pr-5'))] });
    cloudFormationMock.on(DeleteStackCommand, { StackName: 'nearstream-pr-5-encoding' }).rejects(Object.assign(new Error('Stack is in UPDATE_ROLLBACK_FAILED state'), { name: 'ValidationError' }));

    const summary = await cleanup();

    expect(model.deleted.map((deleted) => deleted.stackName)).toEqual(['nearstream-pr-5-appliance-image']);
    expect(summary.refused).toEqual([{ stackName: 'nearstream-pr-5-encoding', region: 'us-east-1', error: 'Stack is in UPDATE_ROLLBACK_FAILED state' }]);
    expect(summary).toMatchObject({ removed: [], waiting: ['pr-5'] });
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
  it('reads the account and partition from the invoked function\'s ARN', () => {
    expect(invocationOf({ invokedFunctionArn: 'arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:cleanup' })).toEqual({ account: '123456789012', partition: 'aws-us-gov' });
    expect(() => invocationOf({ invokedFunctionArn: 'cleanup' })).toThrow("invokedFunctionArn 'cleanup' does not name a partition and a 12-digit account");
  });
});
