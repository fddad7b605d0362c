import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { Stack } from 'aws-cdk-lib';
import { mockClient } from 'aws-sdk-client-mock';
import { resolveEnvironment } from '../../../lib/config/environment';
import { regionOf, SMOKE_OUTPUTS, smokeCfnOutputs, smokeOutputsFor, stackNameOf } from '../../../ops/smoke/outputs';
import { cloudFormationOutputs, resolveTarget } from '../../../ops/smoke/target';
import { synthEnvironment, SynthesizedEnvironment } from '../../support/synth';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

describe('the smoke test\'s variables and the stacks\' outputs', () => {
  const environments: [string, SynthesizedEnvironment][] = [
    ['its own Cognito pool', synthEnvironment({ name: 'pr-7', secondaryRegion: 'eu-west-1' })],
    ['an external issuer', synthEnvironment({ name: 'pr-8', jwtIssuer: 'https://login.example.com/', jwtAudiences: ['nearstream'] })],
  ];

  it.each(environments)('names, for an environment with %s, stacks that have every output it reads', (_, synthesized) => {
    const { environment } = synthesized;
    expect(synthesized.synthError).toBeUndefined();
    const stacks = environment.node.findAll().filter((node): node is Stack => node instanceof Stack);
    const outputs = smokeOutputsFor(environment.config);

    for (const output of outputs) {
      const stack = stacks.find((candidate) => candidate.stackName === stackNameOf(output, environment.config));
      expect({ variable: output.variable, stack: stack?.stackName, region: stack?.region }).toEqual({
        variable: output.variable,
        stack: stackNameOf(output, environment.config),
        region: regionOf(output, environment.config),
      });
      expect(Object.keys(synthesized.template(stack!).toJSON().Outputs ?? {})).toContain(output.outputKey);
    }
    expect(Object.keys(smokeCfnOutputs(environment)).sort()).toEqual(outputs.map((output) => output.variable).sort());
  });

  it('leaves the Cognito outputs out only where the stack has no pool', () => {
    const [[, pool], [, external]] = environments;

    expect(smokeOutputsFor(pool.environment.config)).toHaveLength(SMOKE_OUTPUTS.length);
    expect(smokeOutputsFor(external.environment.config).map((output) => output.variable)).not.toEqual(expect.arrayContaining(['USER_POOL_ID']));
    expect(Object.keys(smokeCfnOutputs(external.environment))).toEqual(['PRIMARY_API_URL', 'SECONDARY_API_URL', 'CONTROL_TABLE_NAME', 'SOURCE_BUCKET_NAME']);
  });
});

describe('reading the outputs of an environment from a laptop', () => {
  const config = resolveEnvironment({ name: 'pr-7' });
  const client = new CloudFormationClient({ region: 'us-east-1' });
  const cloudFormation = mockClient(client);
  const regionsAsked: string[] = [];
  const reader = cloudFormationOutputs((region) => {
    regionsAsked.push(region);
    return client;
  });
  const outputs = (values: Record<string, string>) => ({ Stacks: [{ StackName: 's', CreationTime: new Date(), StackStatus: 'UPDATE_COMPLETE' as const, Outputs: Object.entries(values).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })) }] });

  beforeEach(() => {
    cloudFormation.reset();
    regionsAsked.length = 0;
    cloudFormation.on(DescribeStacksCommand, { StackName: 'nearstream-pr-7-data' }).resolves(
      outputs({ ViewerUserPoolId: 'us-east-1_Pool', PlayerClientId: 'client', ControlTableName: 'nearstream-pr-7-control', SourceBucketName: 'source-bucket', OriginBucketName: 'o' }),
    );
    cloudFormation.on(DescribeStacksCommand, { StackName: 'nearstream-pr-7-control-plane-us-east-1' }).resolves(outputs({ ApiUrl: 'https://a.execute-api.us-east-1.amazonaws.com/' }));
    cloudFormation.on(DescribeStacksCommand, { StackName: 'nearstream-pr-7-control-plane-us-west-2' }).resolves(outputs({ ApiUrl: 'https://b.execute-api.us-west-2.amazonaws.com/' }));
  });

  afterAll(() => client.destroy());

  it('reads each stack once, in its own region, when no variable is set', async () => {
    const target = await resolveTarget(config, {}, reader);

    expect(target).toEqual({
      env: 'pr-7',
      regions: [
        { name: 'us-east-1', apiUrl: 'https://a.execute-api.us-east-1.amazonaws.com/' },
        { name: 'us-west-2', apiUrl: 'https://b.execute-api.us-west-2.amazonaws.com/' },
      ],
      controlTableName: 'nearstream-pr-7-control',
      sourceBucketName: 'source-bucket',
      userPool: { userPoolId: 'us-east-1_Pool', playerClientId: 'client' },
      readFromStacks: SMOKE_OUTPUTS.map((output) => output.variable),
    });
    expect(cloudFormation.commandCalls(DescribeStacksCommand).map((call) => call.args[0].input.StackName).sort()).toEqual([
      'nearstream-pr-7-control-plane-us-east-1',
      'nearstream-pr-7-control-plane-us-west-2',
      'nearstream-pr-7-data',
    ]);
    expect([...new Set(regionsAsked)].sort()).toEqual(['us-east-1', 'us-west-2']);
  });

  it('asks CloudFormation nothing when the pipeline set every required variable', async () => {
    const variables = { PRIMARY_API_URL: 'https://x/', SECONDARY_API_URL: 'https://y/', CONTROL_TABLE_NAME: 't', SOURCE_BUCKET_NAME: 'b' };

    const target = await resolveTarget(config, variables, reader);

    expect(target).toMatchObject({ controlTableName: 't', sourceBucketName: 'b', readFromStacks: [] });
    expect(target.userPool).toBeUndefined();
    expect(cloudFormation.commandCalls(DescribeStacksCommand)).toHaveLength(0);
  });

  it('reads what a blank variable lacks from the stacks, keeping what the others give', async () => {
    const variables = { PRIMARY_API_URL: 'https://x/', SECONDARY_API_URL: 'https://y/', CONTROL_TABLE_NAME: 't', SOURCE_BUCKET_NAME: ' ' };

    const target = await resolveTarget(config, variables, reader);

    expect(target).toMatchObject({ regions: [{ apiUrl: 'https://x/' }, { apiUrl: 'https://y/' }], controlTableName: 't', sourceBucketName: 'source-bucket' });
    expect(target.readFromStacks).toEqual(['USER_POOL_ID', 'PLAYER_CLIENT_ID', 'SOURCE_BUCKET_NAME']);
    expect(cloudFormation.commandCalls(DescribeStacksCommand).map((call) => call.args[0].input.StackName)).toEqual(['nearstream-pr-7-data']);
  });

  it('names the stack and region when the environment is not deployed', async () => {
    cloudFormation.on(DescribeStacksCommand, { StackName: 'nearstream-pr-7-control-plane-us-east-1' }).rejects(
      Object.assign(new Error('Stack with id nearstream-pr-7-control-plane-us-east-1 does not exist'), { name: 'ValidationError' }),
    );

    await expect(resolveTarget(config, {}, reader)).rejects.toThrow(
      "PRIMARY_API_URL is not set and stack nearstream-pr-7-control-plane-us-east-1 does not exist in us-east-1: is environment 'pr-7' deployed there (npm run env -- list)?",
    );
  });

  it('names the variable and output a stack lacks, and a URL that is not one', async () => {
    cloudFormation.on(DescribeStacksCommand, { StackName: 'nearstream-pr-7-data' }).resolves(outputs({ ControlTableName: 't' }));
    await expect(resolveTarget(config, {}, reader)).rejects.toThrow("SOURCE_BUCKET_NAME is not set and stack nearstream-pr-7-data in us-east-1 has no output 'SourceBucketName'");

    await expect(resolveTarget(config, { PRIMARY_API_URL: 'api.example.com', SECONDARY_API_URL: 'https://y/', CONTROL_TABLE_NAME: 't', SOURCE_BUCKET_NAME: 'b' }, reader)).rejects.toThrow(
      "PRIMARY_API_URL must be the API's http(s) URL (got 'api.example.com')",
    );
  });
});
