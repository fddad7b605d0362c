import { execFileSync } from 'node:child_process';
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { addComplianceChecks } from '../../lib/compliance';
import { resolveEnvironment } from '../../lib/config/environment';
import { PipelineSettings } from '../../lib/config/pipeline';
import { BuildEnvironmentVariableType } from 'aws-cdk-lib/aws-codebuild';
import { CodePipelineSource } from 'aws-cdk-lib/pipelines';
import { smokeOutputsOf, smokeTestStep } from '../../lib/constructs/smoke-test-step';
import { NearstreamEnvironment } from '../../lib/nearstream-environment';
import { PINNED_CDK_CLI_VERSION, PipelineStack, synthCommand } from '../../lib/stacks/pipeline-stack';
import { synthesizeReporting, testApp } from '../support/synth';

const ACCOUNT = '123456789012';
const SETTINGS: PipelineSettings = {
  connectionArn: 'arn:aws:codeconnections:us-east-1:123456789012:connection/12345678-1234-1234-1234-123456789012',
  repository: 'example-org/nearstream',
  branch: 'main',
  account: ACCOUNT,
  region: 'us-east-1',
  pullRequestEnvironments: true,
};
const SYNTH_CONTEXT = { env: 'dev', environments: '{"prod": {"corsOrigins": "https://a.example, https://b.example"}}', creator: "o'brien" };

interface Action {
  Name: string;
  RunOrder: number;
  ActionTypeId: { Provider: string };
  Region?: string;
  Namespace?: string;
  Configuration?: { StackName?: string; EnvironmentVariables?: string; ProjectName?: unknown };
}
interface PipelineStage {
  Name: string;
  Actions: Action[];
}

/** The whole app once (two environments take a while): pipeline stack, its stages, compliance checks. */
function synthesizePipelineApp() {
  const { app, outdir } = testApp('nearstream-pipeline-');
  const stack = new PipelineStack(app, 'NearstreamPipeline', {
    env: { account: ACCOUNT, region: 'us-east-1' },
    stackName: 'nearstream-pipeline',
    pipeline: SETTINGS,
    staging: resolveEnvironment({ name: 'staging', account: ACCOUNT }),
    prod: resolveEnvironment({ name: 'prod', account: ACCOUNT, viewerEmailFrom: 'no-reply@example.com' }),
    synthContext: SYNTH_CONTEXT,
  });
  addComplianceChecks(app);
  const { synthError, pluginReports } = synthesizeReporting(app, outdir);
  return { app, stack, synthError, pluginReports, template: Template.fromStack(stack) };
}

describe('PipelineStack', () => {
  const { stack, synthError, pluginReports, template } = synthesizePipelineApp();
  const pipelines = template.findResources('AWS::CodePipeline::Pipeline');
  const delivery = Object.values(pipelines).find((resource) => resource.Properties.Name === 'nearstream')!.Properties;
  const stages = delivery.Stages as PipelineStage[];
  const stage = (name: string): PipelineStage => stages.find((candidate) => candidate.Name === name)!;
  const deploys = (name: string): Action[] => stage(name).Actions.filter((action) => action.ActionTypeId.Provider === 'CloudFormation');

  it('is a V2 pipeline: source, build, self-mutation, assets, staging, then prod', () => {
    expect(delivery.PipelineType).toBe('V2');
    expect(stages.map((candidate) => candidate.Name)).toEqual(['Source', 'Build', 'UpdatePipeline', 'Assets', 'Staging', 'Prod']);
    expect(stage('Source').Actions.map((action) => action.ActionTypeId.Provider)).toEqual(['CodeStarSourceConnection']);
  });

  it.each([
    ['Staging', 'staging'],
    ['Prod', 'prod'],
  ])('deploys every %s stack of both regions, under its own name, in its region', (stageName, env) => {
    const executed = deploys(stageName).filter((action) => action.Name.endsWith('.Deploy'));
    expect(executed.map((action) => [action.Configuration!.StackName, action.Region ?? 'us-east-1']).sort()).toEqual([
      [`nearstream-${env}-appliance-image`, 'us-east-1'],
      [`nearstream-${env}-control-plane-us-east-1`, 'us-east-1'],
      [`nearstream-${env}-control-plane-us-west-2`, 'us-west-2'],
      [`nearstream-${env}-data`, 'us-east-1'],
      [`nearstream-${env}-encoding`, 'us-east-1'],
      [`nearstream-${env}-origin-replica-us-west-2`, 'us-west-2'],
    ]);
  });

  it('smoke-tests each environment after all of its deploy actions, and waits for approval before prod deploys', () => {
    for (const name of ['Staging', 'Prod']) {
      const smoke = stage(name).Actions.find((action) => action.Name === 'Smoke')!;
      expect(smoke.ActionTypeId.Provider).toBe('CodeBuild');
      expect(smoke.RunOrder).toBeGreaterThan(Math.max(...deploys(name).map((action) => action.RunOrder)));
    }
    const approval = stage('Prod').Actions.find((action) => action.Name === 'PromoteToProd')!;
    expect(approval.ActionTypeId.Provider).toBe('Manual');
    expect(approval.RunOrder).toBeLessThan(Math.min(...deploys('Prod').map((action) => action.RunOrder)));
    expect(stage('Staging').Actions.some((action) => action.ActionTypeId.Provider === 'Manual')).toBe(false);
  });

  it('passes each smoke test the outputs of its own environment\'s stacks', () => {
    for (const [name, env] of [['Staging', 'staging'], ['Prod', 'prod']]) {
      const namespaces = new Map(deploys(name).filter((action) => action.Namespace).map((action) => [action.Namespace!, action.Configuration!.StackName!]));
      const smoke = stage(name).Actions.find((action) => action.Name === 'Smoke')!;
      const variables = JSON.parse(smoke.Configuration!.EnvironmentVariables!) as { name: string; value: string }[];
      const sources = Object.fromEntries(
        variables.map(({ name: variable, value }) => {
          const [, namespace, output] = /^#\{([^.]+)\.(\w+)\}$/.exec(value)!;
          return [variable, `${namespaces.get(namespace)}.${output}`];
        }),
      );
      expect(sources).toEqual({
        PRIMARY_API_URL: `nearstream-${env}-control-plane-us-east-1.ApiUrl`,
        SECONDARY_API_URL: `nearstream-${env}-control-plane-us-west-2.ApiUrl`,
        USER_POOL_ID: `nearstream-${env}-data.ViewerUserPoolId`,
        PLAYER_CLIENT_ID: `nearstream-${env}-data.PlayerClientId`,
        CONTROL_TABLE_NAME: `nearstream-${env}-data.ControlTableName`,
        SOURCE_BUCKET_NAME: `nearstream-${env}-data.SourceBucketName`,
      });
    }
    template.hasResourceProperties('AWS::CodeBuild::Project', {
      Environment: Match.objectLike({
        EnvironmentVariables: Match.arrayWith([
          { Name: 'NEARSTREAM_ENV', Type: 'PLAINTEXT', Value: 'prod' },
          { Name: 'NEARSTREAM_PRIMARY_REGION', Type: 'PLAINTEXT', Value: 'us-east-1' },
          { Name: 'NEARSTREAM_SECONDARY_REGION', Type: 'PLAINTEXT', Value: 'us-west-2' },
        ]),
      }),
      Source: { BuildSpec: Match.serializedJson(Match.objectLike({ phases: { build: { commands: ['npm ci', 'npx tsx bin/prerequisites.ts install smoke', 'npm run smoke'] } } })) },
    });
  });

  it('lets the smoke test touch only its own environment', () => {
    const smokePolicy = Object.values(template.findResources('AWS::IAM::Policy')).find((policy) =>
      JSON.stringify(policy).includes('nearstream-staging-123456789012-us-east-1-source/uploads/*'),
    )!;
    const statements = smokePolicy.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown; Condition?: unknown }[];
    expect(JSON.stringify(smokePolicy)).not.toContain('nearstream-prod');
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: ['cognito-idp:AdminCreateUser', 'cognito-idp:AdminGetUser', 'cognito-idp:AdminInitiateAuth', 'cognito-idp:AdminSetUserPassword'],
          Resource: 'arn:aws:cognito-idp:us-east-1:123456789012:userpool/*',
          Condition: { StringLike: { 'aws:ResourceTag/nearstream:environment': 'staging' } },
        }),
        expect.objectContaining({
          Action: 'dynamodb:PutItem',
          Resource: 'arn:aws:dynamodb:us-east-1:123456789012:table/nearstream-staging-control',
          Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['account#*'] } },
        }),
        expect.objectContaining({ Action: 's3:PutObject', Resource: 'arn:aws:s3:::nearstream-staging-123456789012-us-east-1-source/uploads/*' }),
        expect.objectContaining({
          Action: ['kms:Encrypt', 'kms:GenerateDataKey'],
          Condition: expect.objectContaining({ StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } }),
        }),
        expect.objectContaining({
          Action: 'cloudformation:DescribeStacks',
          Resource: expect.arrayContaining(['arn:aws:cloudformation:us-west-2:123456789012:stack/nearstream-staging-control-plane-us-west-2/*']),
        }),
      ]),
    );
  });

  it('tags each environment\'s user pool with the environment the smoke role\'s condition names (stack tags do not reach user pools)', () => {
    for (const [stage, name] of [[stack.staging, 'staging'], [stack.prod, 'prod']] as const) {
      Template.fromStack(stage.environment.data).hasResourceProperties('AWS::Cognito::UserPool', {
        UserPoolTags: Match.objectLike({ 'nearstream:environment': name }),
      });
    }
  });

  it('updates itself with the CDK CLI version the repository pins', () => {
    expect(PINNED_CDK_CLI_VERSION).toMatch(/^2\.\d+\.\d+$/);
    template.hasResourceProperties('AWS::CodeBuild::Project', {
      Source: { BuildSpec: Match.serializedJson(Match.objectLike({ phases: Match.objectLike({ install: { commands: [`npm install -g aws-cdk@${PINNED_CDK_CLI_VERSION}`] } }) })) },
    });
  });

  it('tests and synthesizes in a privileged Debian build, rebuilding the app with the context it was given', () => {
    template.hasResourceProperties('AWS::CodeBuild::Project', {
      Environment: Match.objectLike({ PrivilegedMode: true, ComputeType: 'BUILD_GENERAL1_LARGE', Image: 'public.ecr.aws/docker/library/node:20-bookworm' }),
      Source: {
        BuildSpec: Match.serializedJson(
          Match.objectLike({
            phases: { build: { commands: ['npm ci', 'npx tsx bin/prerequisites.ts install test', 'npm test', synthCommand(SYNTH_CONTEXT)] } },
            artifacts: Match.objectLike({ 'base-directory': 'cdk.out' }),
          }),
        ),
      },
    });
  });

  it('encrypts the artifact bucket and the secondary region\'s replication bucket with rotating customer managed keys', () => {
    const support = stack.pipeline.pipeline.crossRegionSupport['us-west-2'].stack;
    expect([support.stackName, support.region]).toEqual(['nearstream-pipeline-support-us-west-2', 'us-west-2']);
    // The pipeline stack holds the delivery pipeline's and the two pull-request pipelines' artifact buckets.
    for (const [t, artifactBuckets] of [[template, 3], [Template.fromStack(support), 1]] as const) {
      const keys = t.findResources('AWS::KMS::Key');
      const buckets = Object.values(t.findResources('AWS::S3::Bucket'));
      expect(buckets).toHaveLength(artifactBuckets);
      for (const bucket of buckets) {
        const encryption = bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault;
        expect(encryption.SSEAlgorithm).toBe('aws:kms');
        const keyId = JSON.stringify(encryption.KMSMasterKeyID);
        const key = Object.entries(keys).find(([logicalId]) => keyId.includes(logicalId));
        expect(key?.[1].Properties.EnableKeyRotation ?? findAliasTargetRotation(t, keyId)).toBe(true);
      }
    }
    expect(delivery.ArtifactStores.map((store: { Region: string; ArtifactStore: { EncryptionKey: { Type: string } } }) => [store.Region, store.ArtifactStore.EncryptionKey.Type]).sort()).toEqual([
      ['us-east-1', 'KMS'],
      ['us-west-2', 'KMS'],
    ]);
  });

  it('grants no IAM action "*" in any policy of the pipeline or its support stack', () => {
    const support = stack.pipeline.pipeline.crossRegionSupport['us-west-2'].stack;
    const documents = [template, Template.fromStack(support)].flatMap((t) => [
      ...Object.values(t.findResources('AWS::IAM::Policy')).map((policy) => policy.Properties.PolicyDocument),
      ...Object.values(t.findResources('AWS::IAM::ManagedPolicy')).map((policy) => policy.Properties.PolicyDocument),
      ...Object.values(t.findResources('AWS::IAM::Role')).flatMap((role) => (role.Properties.Policies ?? []).map((policy: { PolicyDocument: unknown }) => policy.PolicyDocument)),
    ]);
    expect(documents.length).toBeGreaterThan(10);
    const actions = documents.flatMap((document: { Statement: { Action: string | string[] }[] }) => document.Statement.flatMap((statement) => [statement.Action].flat()));
    expect(actions.filter((action) => action === '*' || /^[a-z0-9-]+:\*$/.test(action))).toEqual([]);
  });

  it('runs the cleanup of expired environments in the pipeline account, every 15 minutes, over both regions', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(15 minutes)', State: 'ENABLED' });
    const cleanupRole = stack.getLogicalId(stack.cleanup.function.role!.node.defaultChild as CfnElement);
    const assumable = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(cleanupRole))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
      .filter((statement: { Action: string | string[] }) => [statement.Action].flat().includes('sts:AssumeRole'))
      .flatMap((statement: { Resource: unknown }) => [statement.Resource].flat().map((resource) => JSON.stringify(resource)));
    expect(assumable.filter((resource) => resource.includes('cdk-hnb659fds-deploy-role-'))).toEqual([
      expect.stringContaining('-us-east-1'),
      expect.stringContaining('-us-west-2'),
    ]);
  });

  it('synthesizes with no unacknowledged cdk-nag or cfn-guard finding', () => {
    const findings = pluginReports.flatMap((report) =>
      report.violations.flatMap((violation) => violation.violatingConstructs.map((construct) => `${violation.ruleName} at ${construct.constructPath}`)),
    );
    expect(findings).toEqual([]);
    expect(synthError).toBeUndefined();
    const checked = pluginReports.flatMap((report) => report.suppressedViolations ?? []);
    expect(checked.some((violation) => violation.violatingConstructs.some((construct) => construct.constructPath.startsWith('NearstreamPipeline/Pipeline/')))).toBe(true);
  });
});

/** The rotation flag of the key an alias (CDK's cross-region replication key) points at. */
function findAliasTargetRotation(t: Template, aliasReference: string): boolean | undefined {
  const aliases = t.findResources('AWS::KMS::Alias');
  const alias = Object.entries(aliases).find(([logicalId]) => aliasReference.includes(logicalId));
  const keyLogicalId = alias?.[1].Properties.TargetKeyId['Fn::GetAtt'][0];
  return keyLogicalId ? t.findResources('AWS::KMS::Key')[keyLogicalId].Properties.EnableKeyRotation : undefined;
}

describe('synthCommand', () => {
  it('passes every context value to cdk synth as one shell word, quotes, commas and JSON included', () => {
    const command = synthCommand(SYNTH_CONTEXT).replace(/^npx cdk synth/, "printf '%s\\n'");
    const words = execFileSync('sh', ['-c', command], { encoding: 'utf8' }).trimEnd().split('\n');
    expect(words).toEqual([
      '-c', `creator=o'brien`,
      '-c', 'env=dev',
      '-c', 'environments={"prod": {"corsOrigins": "https://a.example, https://b.example"}}',
    ]);
  });
});

describe('smokeOutputsOf', () => {
  it('leaves out the Cognito outputs of an environment that trusts an external issuer', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const config = resolveEnvironment({ name: 'staging', account: ACCOUNT, jwtIssuer: 'https://issuer.example.com/', jwtAudiences: ['player'] });
    const environment = new NearstreamEnvironment(app, 'Staging', { config });
    const outputs = smokeOutputsOf(environment);
    expect(Object.keys(outputs).sort()).toEqual(['CONTROL_TABLE_NAME', 'PRIMARY_API_URL', 'SECONDARY_API_URL', 'SOURCE_BUCKET_NAME']);
    expect(Stack.of(outputs.SECONDARY_API_URL).stackName).toBe('nearstream-staging-control-plane-us-west-2');
  });
});

describe('PipelineStack placement', () => {
  it('refuses an environment in another account than the pipeline, naming both', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    expect(
      () =>
        new PipelineStack(app, 'Pipeline', {
          env: { account: ACCOUNT, region: 'us-east-1' },
          pipeline: SETTINGS,
          staging: resolveEnvironment({ name: 'staging', account: '210987654321' }),
          prod: resolveEnvironment({ name: 'prod', account: ACCOUNT, viewerEmailFrom: 'no-reply@example.com' }),
          synthContext: {},
        }),
    ).toThrow('environment staging: the pipeline deploys to account 123456789012 with primary region us-east-1, but staging is configured for 210987654321 in us-east-1');
  });
});

describe('smokeTestStep', () => {
  it('gives the smoke test a viewer token from a secret when the environment trusts an external issuer, and none otherwise', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const input = CodePipelineSource.connection(SETTINGS.repository, SETTINGS.branch, { connectionArn: SETTINGS.connectionArn });
    const external = new NearstreamEnvironment(app, 'External', {
      config: resolveEnvironment({ name: 'staging', account: ACCOUNT, jwtIssuer: 'https://issuer.example.com/', jwtAudiences: ['player'] }),
    });
    const own = new NearstreamEnvironment(app, 'Own', { config: resolveEnvironment({ name: 'pr-9', account: ACCOUNT }) });

    expect(smokeTestStep({ input, environment: external }).buildEnvironment?.environmentVariables).toEqual({
      NEARSTREAM_SMOKE_TOKEN: { type: BuildEnvironmentVariableType.SECRETS_MANAGER, value: 'nearstream/staging/smoke-viewer-token' },
    });
    expect(smokeTestStep({ input, environment: own }).buildEnvironment?.environmentVariables).toBeUndefined();
  });
});

describe('PipelineStack without pull-request environments', () => {
  it('builds no pull-request pipelines with pipelinePullRequests=off, and still cleans up expired environments', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new PipelineStack(app, 'Pipeline', {
      env: { account: ACCOUNT, region: 'us-east-1' },
      pipeline: { ...SETTINGS, pullRequestEnvironments: false },
      staging: resolveEnvironment({ name: 'staging', account: ACCOUNT }),
      prod: resolveEnvironment({ name: 'prod', account: ACCOUNT, viewerEmailFrom: 'no-reply@example.com' }),
      synthContext: {},
    });

    expect(stack.pullRequestEnvironments).toBeUndefined();
    expect(stack.node.tryFindChild('PullRequestEnvironments')).toBeUndefined();
    expect(stack.cleanup.function).toBeDefined();
  });
});
