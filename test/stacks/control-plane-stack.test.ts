import { Match } from 'aws-cdk-lib/assertions';
import { synthEnvironment } from '../support/synth';

describe('ControlPlaneStack', () => {
  const dev = synthEnvironment({ name: 'dev' });
  const [primary, secondary] = dev.environment.controlPlanes;

  it('builds one control plane per configured region, with distinct stack names', () => {
    expect(dev.environment.controlPlanes.map((stack) => stack.region)).toEqual(['us-east-1', 'us-west-2']);
    expect(dev.environment.controlPlanes.map((stack) => stack.stackName)).toEqual([
      'nearstream-dev-control-plane-us-east-1',
      'nearstream-dev-control-plane-us-west-2',
    ]);
  });

  it('deploys after the data stack whose replicas it reads', () => {
    for (const stack of dev.environment.controlPlanes) {
      expect(stack.dependencies).toContain(dev.environment.data);
    }
  });

  it.each([0, 1])('serves GET /health from a Lambda in region #%i', (index) => {
    const template = dev.template(dev.environment.controlPlanes[index]);
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: 'GET /health',
      Target: Match.anyValue(),
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', { IntegrationType: 'AWS_PROXY' });
  });

  it('throttles the stage and writes JSON access logs to an encrypted log group', () => {
    const template = dev.template(primary);
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      AccessLogSettings: {
        DestinationArn: Match.anyValue(),
        Format: Match.serializedJson(Match.objectLike({ requestId: '$context.requestId', status: '$context.status' })),
      },
    });
    const logGroups = Object.values(template.findResources('AWS::Logs::LogGroup'));
    // Nine functions (the steering snapshot builder and the license function among them) and the stage's access log.
    expect(logGroups.length).toBe(10);
    for (const logGroup of logGroups) {
      expect(logGroup.Properties).toMatchObject({
        RetentionInDays: 14,
        KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^LogKey/), 'Arn'] },
      });
    }
  });

  it('alarms on the 5xx rate and on p99 latency, notifying the alarm topic', () => {
    const template = dev.template(primary);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 5,
      ComparisonOperator: 'GreaterThanThreshold',
      Metrics: Match.arrayWith([Match.objectLike({ Expression: '100 * errors / MAX([requests, 1])' })]),
      AlarmActions: [{ Ref: Match.stringLikeRegexp('AlarmTopic') }],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Latency',
      ExtendedStatistic: 'p99',
      Threshold: 1500,
      AlarmActions: [{ Ref: Match.stringLikeRegexp('AlarmTopic') }],
    });
  });

  it('runs the health function with the house defaults', () => {
    dev.template(primary).hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: { LogGroup: Match.anyValue() },
      Environment: {
        Variables: {
          NODE_OPTIONS: '--enable-source-maps',
          POWERTOOLS_SERVICE_NAME: 'health',
          POWERTOOLS_METRICS_NAMESPACE: 'Nearstream',
          CONTROL_TABLE_NAME: 'nearstream-dev-control',
          HEALTH_TABLE_BUDGET_MS: '500',
        },
      },
    });
    const functions = dev.template(primary).findResources('AWS::Lambda::Function');
    for (const fn of Object.values(functions)) {
      expect(fn.Properties.FunctionName).toBeUndefined();
    }
  });

  it.each([
    ['HealthFunction', ['GetItem', 'PutItem'], false],
    ['CatalogFunction', ['GetItem', 'Query'], true],
    ['PlayFunction', ['DeleteItem', 'GetItem', 'PutItem', 'Query'], false],
    ['TelemetryFunction', ['DeleteItem', 'GetItem', 'PutItem', 'UpdateItem'], false],
    ['HomeFunction', ['GetItem', 'Query'], false],
    ['FleetFunction', ['GetItem', 'PutItem', 'UpdateItem'], false],
  ])('grants %s exactly %j on its own region\'s table (index gsi1: %s), and no managed policy', (fn, actions, withIndex) => {
    for (const stack of dev.environment.controlPlanes) {
      const template = dev.template(stack);
      const statements = Object.entries(template.findResources('AWS::IAM::Policy'))
        .filter(([logicalId]) => logicalId.includes(`${fn}Role`))
        .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement);
      const dynamo = statements.filter((statement) => JSON.stringify(statement.Action).includes('dynamodb:'));
      expect(dynamo).toHaveLength(1);
      expect([dynamo[0].Action].flat().sort()).toEqual(actions.map((action) => `dynamodb:${action}`));
      const resources = JSON.stringify(dynamo[0].Resource);
      expect(resources).toContain(`:dynamodb:${stack.region}:`);
      expect(resources).toContain('table/nearstream-dev-control');
      expect(resources.includes('/index/gsi1')).toBe(withIndex);
      expect(resources).not.toContain('index/*');
      const roles = Object.entries(template.findResources("AWS::IAM::Role")).filter(([logicalId]) => logicalId.includes(`${fn}Role`));
      expect(roles).toHaveLength(1);
      expect(roles[0][1].Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it('lets only the play function read the signing secrets, and the fill planner the URL-signing key', () => {
    const template = dev.template(primary);
    const readers = Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(([, policy]) => JSON.stringify(policy.Properties.PolicyDocument).includes('secretsmanager:GetSecretValue'))
      .map(([logicalId]) => logicalId.replace(/Role.*/, '').replace(/^Playback/, ''));
    expect(readers.sort()).toEqual(['FillPlanningFunction', 'PlayFunction']);
    const secretResources = Object.values(template.findResources('AWS::IAM::Policy'))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
      .filter((statement) => JSON.stringify(statement.Action).includes('secretsmanager:GetSecretValue'))
      .flatMap((statement) => [statement.Resource].flat().map((resource: unknown) => JSON.stringify(resource)));
    expect(secretResources).toHaveLength(3);
    expect(secretResources.filter((resource) => resource.includes('origin-signing-key'))).toHaveLength(1);
    expect(secretResources.join()).toContain(':secret:nearstream/dev/url-signing-key-??????');
    expect(secretResources.join()).toContain(':secret:nearstream/dev/origin-signing-key-??????');
  });

  it('encrypts logs with a rotating regional key that only CloudWatch Logs of this region may use', () => {
    dev.template(secondary).hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: 'logs.us-west-2.amazonaws.com' }, Effect: 'Allow' }),
          Match.objectLike({ Action: 'kms:CreateGrant', Effect: 'Deny' }),
        ]),
      },
    });
  });

  it('outputs the execute-api URL when no domain is configured', () => {
    const template = dev.template(primary);
    template.hasOutput('ApiUrl', Match.anyValue());
    template.resourceCountIs('AWS::Route53::RecordSet', 0);
    template.resourceCountIs('AWS::Route53::HealthCheck', 0);
  });
});
