import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { addComplianceChecks } from '../../lib/compliance';
import { EncryptedLogGroup } from '../../lib/constructs/encrypted-log-group';
import { LogEncryptionKey } from '../../lib/constructs/log-encryption-key';
import { NAME_FROM_BRANCH, PullRequestEnvironments } from '../../lib/constructs/pull-request-environments';
import { synthesizeReporting, testApp } from '../support/synth';

const ACCOUNT = '123456789012';

function synthesize() {
  const { app, outdir } = testApp('nearstream-pr-');
  const stack = new Stack(app, 'Pipeline', { env: { account: ACCOUNT, region: 'us-east-1' } });
  const logKey = new LogEncryptionKey(stack, 'LogKey', { aliasName: 'build-logs', removalPolicy: RemovalPolicy.DESTROY });
  const buildLogs = new EncryptedLogGroup(stack, 'BuildLogs', { retentionDays: 365, encryptionKey: logKey.key, removalPolicy: RemovalPolicy.DESTROY });
  new PullRequestEnvironments(stack, 'PullRequestEnvironments', {
    connectionArn: 'arn:aws:codeconnections:us-east-1:123456789012:connection/12345678-1234-1234-1234-123456789012',
    repository: 'example-org/nearstream',
    branch: 'main',
    account: ACCOUNT,
    regions: ['us-east-1', 'us-west-2'],
    buildLogs,
  });
  addComplianceChecks(app);
  const { synthError, pluginReports } = synthesizeReporting(app, outdir);
  return { template: Template.fromStack(stack), pluginReports, synthError };
}

describe('PullRequestEnvironments', () => {
  const { template, pluginReports, synthError } = synthesize();
  const pipeline = (name: string) => Object.values(template.findResources('AWS::CodePipeline::Pipeline')).find((p) => p.Properties.Name === name)!.Properties;
  const buildCommands = (description: string): string[] => {
    const project = Object.values(template.findResources('AWS::CodeBuild::Project')).find((p) => String(p.Properties.Description).includes(description))!;
    return JSON.parse(project.Properties.Source.BuildSpec).phases.build.commands;
  };

  it.each([
    ['nearstream-pr-open', ['OPEN', 'UPDATED']],
    ['nearstream-pr-closed', ['CLOSED']],
  ])('%s is a V2 pipeline started by pull requests into main on %j', (name, events) => {
    const properties = pipeline(name);
    expect(properties.PipelineType).toBe('V2');
    expect(properties.ExecutionMode).toBe('QUEUED');
    expect(properties.Triggers).toEqual([
      {
        ProviderType: 'CodeStarSourceConnection',
        GitConfiguration: { SourceActionName: 'Source', PullRequest: [{ Branches: { Includes: ['main'] }, Events: events }] },
      },
    ]);
    expect(properties.Variables).toEqual([expect.objectContaining({ Name: 'ENVIRONMENT_NAME', DefaultValue: NAME_FROM_BRANCH })]);
    const [source] = properties.Stages[0].Actions;
    expect(source.Configuration).toMatchObject({ FullRepositoryId: 'example-org/nearstream', BranchName: 'main', DetectChanges: false });
    const [build] = properties.Stages[1].Actions;
    expect(JSON.parse(build.Configuration.EnvironmentVariables)).toEqual([
      { name: 'BRANCH', type: 'PLAINTEXT', value: `#{${source.Namespace}.BranchName}` },
      { name: 'ENVIRONMENT_NAME', type: 'PLAINTEXT', value: '#{variables.ENVIRONMENT_NAME}' },
    ]);
  });

  it('creates pr-<branch> (or the name a manual start gave), expiring in 3 days, then smoke-tests it', () => {
    expect(buildCommands('creates and smoke-tests')).toEqual([
      `if [ "$ENVIRONMENT_NAME" = '${NAME_FROM_BRANCH}' ]; then ENVIRONMENT_NAME="$(npm run --silent env -- name --branch "$BRANCH")"; fi`,
      'npx tsx bin/prerequisites.ts install smoke',
      'npm run env -- create "$ENVIRONMENT_NAME" --account 123456789012 --primary-region us-east-1 --secondary-region us-west-2 --creator "pull-request/$BRANCH" --ttl 3d',
      'npm run smoke -- --env "$ENVIRONMENT_NAME" --primary-region us-east-1 --secondary-region us-west-2',
    ]);
  });

  it('destroys the same environment when the pull request closes', () => {
    expect(buildCommands('destroys')).toEqual([
      `if [ "$ENVIRONMENT_NAME" = '${NAME_FROM_BRANCH}' ]; then ENVIRONMENT_NAME="$(npm run --silent env -- name --branch "$BRANCH")"; fi`,
      'npm run env -- destroy "$ENVIRONMENT_NAME" --account 123456789012 --primary-region us-east-1 --secondary-region us-west-2 --yes',
    ]);
  });

  it('deploys only through the CDK bootstrap roles of both regions, and smoke-tests only pr-* environments', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
      JSON.stringify(p.Properties.Roles).match(/(Open|Closed)DeployRole/),
    );
    expect(policies).toHaveLength(2);
    const bootstrapRoles = ['deploy', 'file-publishing', 'image-publishing', 'lookup'].flatMap((kind) =>
      ['us-east-1', 'us-west-2'].map((region) => `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-${kind}-role-${ACCOUNT}-${region}`),
    );
    for (const policy of policies) {
      const statements = policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown; Condition?: unknown }[];
      expect(statements).toContainEqual({ Action: 'sts:AssumeRole', Effect: 'Allow', Resource: bootstrapRoles });
      const actions = statements.flatMap((statement) => [statement.Action].flat());
      expect(actions.filter((action) => /^(cloudformation|iam|lambda|ec2):/.test(action) && action !== 'cloudformation:DescribeStacks')).toEqual([]);
      expect(actions).not.toContain('*');
    }
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('OpenDeployRole') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Resource: 'arn:aws:cognito-idp:us-east-1:123456789012:userpool/*', Condition: { StringLike: { 'aws:ResourceTag/nearstream:environment': 'pr-*' } } }),
          Match.objectLike({ Action: 'dynamodb:PutItem', Resource: 'arn:aws:dynamodb:us-east-1:123456789012:table/nearstream-pr-*-control' }),
          Match.objectLike({ Action: 's3:PutObject', Resource: 'arn:aws:s3:::nearstream-pr-*-123456789012-us-east-1-source/uploads/*' }),
          Match.objectLike({
            Action: 'cloudformation:DescribeStacks',
            Resource: ['arn:aws:cloudformation:us-east-1:123456789012:stack/nearstream-pr-*-*/*', 'arn:aws:cloudformation:us-west-2:123456789012:stack/nearstream-pr-*-*/*'],
          }),
        ]),
      },
    });
  });

  it('encrypts both pipelines\' artifacts with rotating customer managed keys', () => {
    const buckets = Object.values(template.findResources('AWS::S3::Bucket'));
    expect(buckets).toHaveLength(2);
    for (const bucket of buckets) {
      expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('aws:kms');
    }
    const keys = template.findResources('AWS::KMS::Key');
    for (const bucket of buckets) {
      const keyId = JSON.stringify(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.KMSMasterKeyID);
      const [, key] = Object.entries(keys).find(([logicalId]) => keyId.includes(logicalId))!;
      expect(key.Properties.EnableKeyRotation).toBe(true);
    }
  });

  it('has no unacknowledged cdk-nag or cfn-guard finding', () => {
    const findings = pluginReports.flatMap((report) =>
      report.violations.flatMap((violation) => violation.violatingConstructs.map((construct) => `${violation.ruleName} at ${construct.constructPath}`)),
    );
    expect(findings).toEqual([]);
    expect(synthError).toBeUndefined();
  });
});
