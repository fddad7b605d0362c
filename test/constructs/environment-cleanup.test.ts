import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { addComplianceChecks } from '../../lib/compliance';
import { EnvironmentCleanup, EnvironmentCleanupProps } from '../../lib/constructs/environment-cleanup';
import { synthesizeReporting, testApp } from '../support/synth';

const ACCOUNT = '123456789012';

/** The cleanup alone in a bare stack of the pipeline's account and region, synthesized with cdk-nag and cfn-guard as `bin/` runs them. */
function bareCleanup(props: Partial<EnvironmentCleanupProps> = {}) {
  const { app, outdir } = testApp('nearstream-cleanup-');
  const stack = new Stack(app, 'Pipeline', { env: { account: ACCOUNT, region: 'us-east-1' } });
  const cleanup = new EnvironmentCleanup(stack, 'EnvironmentCleanup', { regions: ['us-east-1', 'us-west-2'], ...props });
  addComplianceChecks(app);
  const { synthError, pluginReports: reports } = synthesizeReporting(app, outdir);
  // Read from the cloud assembly: Template.fromStack would synthesize again and throw the findings
  // instead of letting the compliance test list them.
  const template = Template.fromJSON(JSON.parse(fs.readFileSync(path.join(outdir, stack.templateFile), 'utf8')));
  return { stack, cleanup, template, reports, synthError };
}

/** Every statement of every policy attached to the cleanup function's role, intrinsics resolved to strings where they name ARNs. */
function functionRoleStatements(template: Template): { Action: string | string[]; Resource: unknown }[] {
  const [roleId] = Object.keys(template.findResources('AWS::IAM::Role', { Properties: { AssumeRolePolicyDocument: Match.objectLike({ Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })] }) } }));
  const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: roleId }]));
  return policies.flatMap((policy) => policy.Properties.PolicyDocument.Statement);
}

const deployRole = (qualifier: string, region: string) => `arn:aws:iam::${ACCOUNT}:role/cdk-${qualifier}-deploy-role-${ACCOUNT}-${region}`;

describe('EnvironmentCleanup', () => {
  const { template, reports, synthError } = bareCleanup();

  it('runs the cleanup every 15 minutes through EventBridge Scheduler, retrying only until the next run is due', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(15 minutes)',
      State: 'ENABLED',
      Target: Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 600 } }),
    });
  });

  it('tells the function its regions, the bootstrap qualifier, its topic and the run interval, and lets it run 15 minutes to wait for last stacks', () => {
    const [topicId] = Object.keys(template.findResources('AWS::SNS::Topic'));
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Timeout: 900,
      Environment: {
        Variables: Match.objectLike({ CLEANUP_REGIONS: 'us-east-1,us-west-2', CDK_QUALIFIER: 'hnb659fds', NOTIFICATION_TOPIC_ARN: { Ref: topicId }, RUN_INTERVAL_MINUTES: '15' }),
      },
    });
  });

  it('lets the function assume the two regions\' deploy roles and nothing else beyond its logs, traces and topic', () => {
    const statements = functionRoleStatements(template);
    const actions = statements.flatMap((statement) => [statement.Action].flat()).sort();
    expect(actions).toEqual(
      [
        'kms:Decrypt',
        'kms:GenerateDataKey*',
        'logs:CreateLogStream',
        'logs:DeleteLogGroup',
        'logs:DeleteLogGroup',
        'logs:DescribeLogGroups',
        'logs:PutLogEvents',
        'sns:Publish',
        'sts:AssumeRole',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ].sort(),
    );
    const assume = statements.find((statement) => statement.Action === 'sts:AssumeRole')!;
    expect(JSON.stringify(assume.Resource)).not.toContain('*');
    expect(resolveArns(assume.Resource)).toEqual([deployRole('hnb659fds', 'us-east-1'), deployRole('hnb659fds', 'us-west-2')]);
    template.resourcePropertiesCountIs('AWS::IAM::Role', { ManagedPolicyArns: Match.anyValue() }, 0);
  });

  it('lets the function delete only Nearstream functions\' log groups in its regions, list them there, and never delete prod\'s, staging\'s or dev\'s', () => {
    const statements = functionRoleStatements(template) as { Effect: string; Action: string | string[]; Resource: unknown }[];
    const withAction = (action: string, effect: string) => statements.filter((statement) => [statement.Action].flat().includes(action) && statement.Effect === effect);

    const [deleteAllowed] = withAction('logs:DeleteLogGroup', 'Allow');
    expect(withAction('logs:DeleteLogGroup', 'Allow')).toHaveLength(1);
    expect(deleteAllowed.Action).toBe('logs:DeleteLogGroup');
    expect(resolveArns(deleteAllowed.Resource)).toEqual([
      `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/lambda/nearstream-*`,
      `arn:aws:logs:us-west-2:${ACCOUNT}:log-group:/aws/lambda/nearstream-*`,
    ]);
    const [describe] = withAction('logs:DescribeLogGroups', 'Allow');
    expect(describe.Action).toBe('logs:DescribeLogGroups');
    expect(resolveArns(describe.Resource)).toEqual([`arn:aws:logs:us-east-1:${ACCOUNT}:log-group:*`, `arn:aws:logs:us-west-2:${ACCOUNT}:log-group:*`]);

    const denied = withAction('logs:DeleteLogGroup', 'Deny');
    expect(denied).toHaveLength(1);
    expect(resolveArns(denied[0].Resource)).toEqual(
      ['dev', 'prod', 'staging'].map((environment) => `arn:aws:logs:*:${ACCOUNT}:log-group:/aws/lambda/nearstream-${environment}-*`),
    );
  });

  it('keeps its record of deletions a year, encrypted with a key of its own', () => {
    const [keyId] = Object.keys(template.findResources('AWS::KMS::Key', { Properties: { Description: Match.stringLikeRegexp('log groups') } }));
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365, KmsKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } });
  });

  it('encrypts its report topic and sends the function\'s persistent errors to it', () => {
    const [topicId] = Object.keys(template.findResources('AWS::SNS::Topic'));
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Namespace: 'AWS/Lambda',
      Period: 900,
      EvaluationPeriods: 2,
      AlarmActions: [{ Ref: topicId }],
    });
  });

  it('synthesizes with no unacknowledged cdk-nag or cfn-guard finding', () => {
    const findings = reports.flatMap((report) => report.violations.flatMap((violation) => violation.violatingConstructs.map((construct) => `${violation.ruleName} at ${construct.constructPath}`)));
    expect(findings).toEqual([]);
    expect(synthError).toBeUndefined();
    expect(reports.map((report) => report.pluginName)).toEqual(expect.arrayContaining(['AwsSolutions', 'cdk-validator-cfnguard']));
    const acknowledged = reports.flatMap((report) => report.suppressedViolations ?? []);
    expect(acknowledged.map((violation) => violation.ruleName)).toContain('AwsSolutions-IAM5[Resource::<EnvironmentCleanupFunction46D1D048.Arn>:*]');
    for (const violation of acknowledged) {
      expect({ rule: violation.ruleName, reason: violation.reason }).toEqual({ rule: violation.ruleName, reason: expect.stringMatching(/^.{60,}$/) });
    }
  });

  it('takes another bootstrap qualifier and run interval', () => {
    const custom = bareCleanup({ qualifier: 'nrst1', runInterval: Duration.minutes(30) }).template;
    custom.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(30 minutes)' });
    custom.hasResourceProperties('AWS::Lambda::Function', { Timeout: 900, Environment: { Variables: Match.objectLike({ RUN_INTERVAL_MINUTES: '30' }) } });
    const assume = functionRoleStatements(custom).find((statement) => statement.Action === 'sts:AssumeRole')!;
    expect(resolveArns(assume.Resource)).toEqual([deployRole('nrst1', 'us-east-1'), deployRole('nrst1', 'us-west-2')]);
  });

  it.each([
    [[], 'EnvironmentCleanup regions must name at least one region'],
    [['us-east-1', 'Oregon'], "EnvironmentCleanup regions: 'Oregon' must be a literal region name like us-east-1"],
    [['us-east-1', 'us-east-1'], 'EnvironmentCleanup regions name us-east-1 more than once'],
  ])('refuses regions %j, saying why', (regions, message) => {
    const stack = new Stack(new App(), 'Pipeline', { env: { account: ACCOUNT, region: 'us-east-1' } });
    expect(() => new EnvironmentCleanup(stack, 'EnvironmentCleanup', { regions })).toThrow(message);
  });

  it('ends each run before the next when the interval is shorter than Lambda\'s longest timeout', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Pipeline', { env: { account: ACCOUNT, region: 'us-east-1' } });
    new EnvironmentCleanup(stack, 'EnvironmentCleanup', { regions: ['us-east-1'], runInterval: Duration.minutes(10) });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(10 minutes)' });
    template.hasResourceProperties('AWS::Lambda::Function', { Timeout: 600, Environment: { Variables: Match.objectLike({ RUN_INTERVAL_MINUTES: '10' }) } });
  });

  it.each([[Duration.seconds(90)], [Duration.seconds(30)]])('refuses a run interval of %s, which rate() cannot say', (runInterval) => {
    const stack = new Stack(new App(), 'Pipeline', { env: { account: ACCOUNT, region: 'us-east-1' } });
    expect(() => new EnvironmentCleanup(stack, 'EnvironmentCleanup', { regions: ['us-east-1'], runInterval })).toThrow('EnvironmentCleanup runInterval must be a whole number of minutes, at least 1');
  });

  it('refuses a bootstrap qualifier the bootstrap template would not accept', () => {
    const stack = new Stack(new App(), 'Pipeline', { env: { account: ACCOUNT, region: 'us-east-1' } });
    expect(() => new EnvironmentCleanup(stack, 'EnvironmentCleanup', { regions: ['us-east-1'], qualifier: 'far-too-long-1' })).toThrow(
      "CDK bootstrap qualifier 'far-too-long-1' must be 1-10 letters",
    );
  });
});

/** ARNs as CloudFormation would resolve them in the aws partition: literal strings, or Fn::Join over AWS::Partition. */
function resolveArns(resource: unknown): string[] {
  const resolve = (value: unknown): string => {
    if (typeof value === 'string') {
      return value;
    }
    const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
    if (join) {
      return join[1].map(resolve).join(join[0]);
    }
    if ((value as { Ref?: string }).Ref === 'AWS::Partition') {
      return 'aws';
    }
    throw new Error(`cannot resolve ${JSON.stringify(value)}`);
  };
  return [resource].flat().map(resolve).sort();
}
