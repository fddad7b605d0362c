import { Stack } from 'aws-cdk-lib';
import { EnvironmentInput } from '../lib/config/environment';
import { TemplateResolver } from './support/iam/template-resolver';
import { synthEnvironment } from './support/synth';

/**
 * Rules AWS enforces at deploy or run time that neither the CloudFormation schema nor cdk-nag and
 * cfn-guard check, held over every environment shape: each of these once passed synth and would
 * have failed in a real account.
 */

type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, any>; DependsOn?: string | string[] }> };

const SHAPES: Record<string, EnvironmentInput> = {
  dev: { name: 'dev' },
  'prod with a domain, an EC2 fleet and bare metal': {
    name: 'prod', viewerEmailFrom: 'no-reply@example.com',
    account: '123456789012',
    domainName: 'example.com',
    hostedZoneId: 'Z0123456789ABC',
    applianceAmis: { 'us-east-1': 'ami-0123456789abcdef0', 'us-west-2': 'ami-0fedcba9876543210' },
    rolesAnywhereCaBundle: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  },
  'pr-42 with a domain and a fleet': {
    name: 'pr-42',
    creator: 'alice',
    expiresAt: '2026-12-02T12:00:00Z',
    domainName: 'example.com',
    hostedZoneId: 'Z0123456789ABC',
    applianceAmis: { 'us-east-1': 'ami-0123456789abcdef0', 'us-west-2': 'ami-0fedcba9876543210' },
  },
};

function templatesOf(input: EnvironmentInput): { stack: Stack; template: Template }[] {
  const synthesized = synthEnvironment(input);
  expect(synthesized.synthError).toBeUndefined();
  // Deterministic synth: nothing looked up in an account (with one configured, the CLI would need credentials).
  expect({ env: input.name, missingContext: synthesized.missingContext }).toEqual({ env: input.name, missingContext: [] });
  return synthesized.environment.node
    .findAll()
    .filter(Stack.isStack)
    .map((stack) => ({ stack, template: synthesized.template(stack).toJSON() as Template }));
}

const ENVIRONMENTS = Object.fromEntries(Object.entries(SHAPES).map(([label, input]) => [label, templatesOf(input)]));

function refTo(value: unknown): string | undefined {
  if (value && typeof value === 'object') {
    const ref = (value as Record<string, unknown>).Ref;
    const getAtt = (value as Record<string, unknown>)['Fn::GetAtt'];
    if (typeof ref === 'string') return ref;
    if (Array.isArray(getAtt)) return getAtt[0] as string;
  }
  return undefined;
}

function asList<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** What is wrong with `topicValue` as a destination `publisher` writes to, or undefined. */
function topicProblem(template: Template, topicValue: unknown, admits: (statement: Record<string, any>) => boolean): string | undefined {
  const topicId = refTo(topicValue);
  const topic = topicId ? template.Resources[topicId] : undefined;
  if (!topic || topic.Type !== 'AWS::SNS::Topic') {
    return `${JSON.stringify(topicValue)} is not a topic of this stack, so its key policy cannot be checked`;
  }
  const keyId = refTo(topic.Properties?.KmsMasterKeyId);
  const key = keyId ? template.Resources[keyId] : undefined;
  if (!key || key.Type !== 'AWS::KMS::Key') {
    return `topic ${topicId} is encrypted with ${JSON.stringify(topic.Properties?.KmsMasterKeyId)}, not a customer managed key of this stack`;
  }
  const statements: Record<string, any>[] = key.Properties!.KeyPolicy.Statement;
  const allowed = statements.some((statement) => {
    const actions = asList(statement.Action);
    return statement.Effect === 'Allow' && actions.includes('kms:Decrypt') && actions.includes('kms:GenerateDataKey*') && admits(statement);
  });
  return allowed ? undefined : `the key ${keyId} of topic ${topicId} does not let the publisher use it`;
}

describe.each(Object.keys(SHAPES))('deploy-time rules over %s', (label) => {
  const stacks = ENVIRONMENTS[label];

  it('sends alarms only to topics whose customer managed key admits CloudWatch', () => {
    const problems: string[] = [];
    let alarms = 0;
    for (const { stack, template } of stacks) {
      for (const [id, resource] of Object.entries(template.Resources)) {
        if (resource.Type !== 'AWS::CloudWatch::Alarm') continue;
        alarms++;
        const actions = ['AlarmActions', 'OKActions', 'InsufficientDataActions'].flatMap((key) => asList(resource.Properties?.[key]));
        for (const action of actions) {
          const problem = topicProblem(template, action, (statement) => asList(statement.Principal?.Service).includes('cloudwatch.amazonaws.com'));
          if (problem) problems.push(`${stack.stackName}/${id}: ${problem}`);
        }
      }
    }
    expect(alarms).toBeGreaterThan(0);
    expect(problems).toEqual([]);
  });

  it('sends Auto Scaling notifications only to topics whose key admits Auto Scaling\'s service-linked role', () => {
    const problems: string[] = [];
    for (const { stack, template } of stacks) {
      for (const [id, resource] of Object.entries(template.Resources)) {
        if (resource.Type !== 'AWS::AutoScaling::AutoScalingGroup') continue;
        for (const notification of asList(resource.Properties?.NotificationConfigurations)) {
          const problem = topicProblem(template, (notification as Record<string, unknown>).TopicARN, (statement) =>
            JSON.stringify(statement.Condition ?? {}).includes('aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling'),
          );
          if (problem) problems.push(`${stack.stackName}/${id}: ${problem}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('uses no AWS managed SNS key anywhere', () => {
    const managed = stacks.flatMap(({ stack, template }) =>
      Object.entries(template.Resources)
        .filter(([, resource]) => resource.Type === 'AWS::SNS::Topic' && JSON.stringify(resource.Properties?.KmsMasterKeyId ?? '').includes('alias/aws/'))
        .map(([id]) => `${stack.stackName}/${id}`),
    );
    expect(managed).toEqual([]);
  });

  it('names in stage route settings only routes of the same API that the stage waits for', () => {
    const problems: string[] = [];
    for (const { stack, template } of stacks) {
      for (const [id, resource] of Object.entries(template.Resources)) {
        if (resource.Type !== 'AWS::ApiGatewayV2::Stage') continue;
        for (const routeKey of Object.keys(resource.Properties?.RouteSettings ?? {})) {
          const route = Object.entries(template.Resources).find(
            ([, candidate]) =>
              candidate.Type === 'AWS::ApiGatewayV2::Route' &&
              candidate.Properties?.RouteKey === routeKey &&
              JSON.stringify(candidate.Properties?.ApiId) === JSON.stringify(resource.Properties?.ApiId),
          );
          if (!route) problems.push(`${stack.stackName}/${id}: route settings for '${routeKey}', which the API does not have`);
          else if (!asList(resource.DependsOn).includes(route[0])) problems.push(`${stack.stackName}/${id}: settings for '${routeKey}' without DependsOn ${route[0]}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('upgrading an environment deployed with strong cross-stack references', () => {
  it('keeps every export the stacks of the previous release import (CloudFormation refuses to delete one still imported)', () => {
    const dev = templatesOf({ name: 'dev' });
    const exported = dev.flatMap(({ stack, template }) =>
      Object.entries((template as { Outputs?: Record<string, { Export?: unknown }> }).Outputs ?? {})
        .filter(([, output]) => output.Export)
        .map(([id]) => `${stack.stackName}:${id}`),
    );
    expect(exported).toEqual(
      expect.arrayContaining([
        'nearstream-dev-data:ExportsOutputFnGetAttSourceKeyC3114A1EArn56CD82BD',
        'nearstream-dev-data:ExportsOutputFnGetAttOriginTierOriginKeyAACB54DEArnDC162052',
        'nearstream-dev-data:ExportsOutputRefViewerIdentityUserPoolPlayerClientDA4CF5965C319F5D',
        'nearstream-dev-data:ExportsOutputRefViewerUserPool7C2409A3',
        'nearstream-dev-data:ExportsOutputFnGetAttOriginTierDistribution63348E59DomainName6E162944',
        'nearstream-dev-data:ExportsOutputRefOriginTierPublicKey02977D3C964EE80F',
        'nearstream-dev-origin-replica-us-west-2:ExportsOutputFnGetAttOriginReplicaKeyF72AF6E8Arn1BC7ACE6',
      ]),
    );
  });
});

describe('cdk destroy of an ephemeral environment', () => {
  it('deletes every bucket, emptied first by an auto-delete resource (which also refuses late writes)', () => {
    const problems: string[] = [];
    let buckets = 0;
    for (const { stack, template } of ENVIRONMENTS['pr-42 with a domain and a fleet']) {
      const emptied = new Set(
        Object.values(template.Resources)
          .filter((resource) => resource.Type === 'Custom::S3AutoDeleteObjects')
          .map((resource) => refTo(resource.Properties?.BucketName)),
      );
      for (const [id, resource] of Object.entries(template.Resources)) {
        if (resource.Type !== 'AWS::S3::Bucket') continue;
        buckets++;
        if ((resource as { DeletionPolicy?: string }).DeletionPolicy !== 'Delete') problems.push(`${stack.stackName}/${id} is retained`);
        if (!emptied.has(id)) problems.push(`${stack.stackName}/${id} is not emptied before deletion`);
      }
    }
    expect(buckets).toBeGreaterThan(3);
    expect(problems).toEqual([]);
  });

  it('retains nothing: no resource of any stack is kept on deletion or replacement', () => {
    const retained: string[] = [];
    let resources = 0;
    for (const { stack, template } of ENVIRONMENTS['pr-42 with a domain and a fleet']) {
      for (const [id, resource] of Object.entries(template.Resources as Record<string, { DeletionPolicy?: string; UpdateReplacePolicy?: string; Properties?: Record<string, unknown> }>)) {
        resources++;
        for (const policy of [resource.DeletionPolicy, resource.UpdateReplacePolicy]) {
          if (policy !== undefined && policy !== 'Delete') retained.push(`${stack.stackName}/${id}: ${policy}`);
        }
        if (resource.Properties?.DeletionProtectionEnabled === true || resource.Properties?.DeletionProtection === 'ACTIVE') {
          retained.push(`${stack.stackName}/${id}: deletion protection`);
        }
      }
      if (stack.terminationProtection) retained.push(`${stack.stackName}: termination protection`);
    }
    expect(resources).toBeGreaterThan(100);
    expect(retained).toEqual([]);
  });

  it('builds no appliance image by itself: AMIs are not stack resources and would outlive the environment', () => {
    for (const { stack, template } of ENVIRONMENTS['pr-42 with a domain and a fleet']) {
      const types = Object.values(template.Resources).map((resource) => resource.Type);
      expect({ stack: stack.stackName, startsBuilds: types.includes('Custom::AWS') }).toEqual({ stack: stack.stackName, startsBuilds: false });
      for (const pipeline of Object.values(template.Resources).filter((resource) => resource.Type === 'AWS::ImageBuilder::ImagePipeline')) {
        expect(pipeline.Properties?.Schedule).toBeUndefined();
      }
    }
    const prod = ENVIRONMENTS['prod with a domain, an EC2 fleet and bare metal'].find(({ stack }) => stack.stackName === 'nearstream-prod-appliance-image')!;
    expect(Object.values(prod.template.Resources).map((resource) => resource.Type)).toContain('Custom::AWS');
  });

  it('tags every stack with the environment, its kind, creator and expiry, which the cleanup reads', () => {
    for (const { stack } of ENVIRONMENTS['pr-42 with a domain and a fleet']) {
      expect({ stack: stack.stackName, tags: stack.tags.tagValues() }).toEqual({
        stack: stack.stackName,
        tags: { 'nearstream:environment': 'pr-42', 'nearstream:kind': 'ephemeral', 'nearstream:creator': 'alice', 'nearstream:expires-at': '2026-12-02T12:00:00Z' },
      });
    }
    for (const { stack } of ENVIRONMENTS['prod with a domain, an EC2 fleet and bare metal']) {
      expect(stack.tags.tagValues()).toEqual({ 'nearstream:environment': 'prod', 'nearstream:kind': 'prod' });
    }
  });
});

/** Properties that give a resource its physical name, where the name must be unique in an account (or account and region). */
const NAME_PROPERTIES: Record<string, { property: string; scope: 'account' | 'region' }> = {
  'AWS::IAM::Role': { property: 'RoleName', scope: 'account' },
  'AWS::IAM::ManagedPolicy': { property: 'ManagedPolicyName', scope: 'account' },
  'AWS::IAM::InstanceProfile': { property: 'InstanceProfileName', scope: 'account' },
  'AWS::S3::Bucket': { property: 'BucketName', scope: 'account' },
  'AWS::DynamoDB::GlobalTable': { property: 'TableName', scope: 'region' },
  'AWS::SecretsManager::Secret': { property: 'Name', scope: 'region' },
  'AWS::KMS::Alias': { property: 'AliasName', scope: 'region' },
  'AWS::Logs::LogGroup': { property: 'LogGroupName', scope: 'region' },
  'AWS::Lambda::Function': { property: 'FunctionName', scope: 'region' },
  'AWS::SNS::Topic': { property: 'TopicName', scope: 'region' },
  'AWS::SQS::Queue': { property: 'QueueName', scope: 'region' },
  'AWS::StepFunctions::StateMachine': { property: 'StateMachineName', scope: 'region' },
  'AWS::Scheduler::Schedule': { property: 'Name', scope: 'region' },
  'AWS::SSM::Parameter': { property: 'Name', scope: 'region' },
  'AWS::MediaConvert::JobTemplate': { property: 'Name', scope: 'region' },
  'AWS::ImageBuilder::Component': { property: 'Name', scope: 'region' },
  'AWS::ImageBuilder::ImageRecipe': { property: 'Name', scope: 'region' },
  'AWS::ImageBuilder::ImagePipeline': { property: 'Name', scope: 'region' },
  'AWS::ImageBuilder::InfrastructureConfiguration': { property: 'Name', scope: 'region' },
  'AWS::ImageBuilder::DistributionConfiguration': { property: 'Name', scope: 'region' },
  'AWS::ImageBuilder::LifecyclePolicy': { property: 'Name', scope: 'region' },
  'AWS::RolesAnywhere::Profile': { property: 'Name', scope: 'region' },
  'AWS::RolesAnywhere::TrustAnchor': { property: 'Name', scope: 'region' },
  'AWS::CloudFront::PublicKey': { property: 'PublicKeyConfig.Name', scope: 'account' },
  'AWS::CloudFront::KeyGroup': { property: 'KeyGroupConfig.Name', scope: 'account' },
  'AWS::CloudFront::OriginAccessControl': { property: 'OriginAccessControlConfig.Name', scope: 'account' },
  'AWS::CloudFront::ResponseHeadersPolicy': { property: 'ResponseHeadersPolicyConfig.Name', scope: 'account' },
  'AWS::CloudFront::CachePolicy': { property: 'CachePolicyConfig.Name', scope: 'account' },
  'AWS::Cognito::UserPoolDomain': { property: 'Domain', scope: 'region' },
};

describe('physical names across environments in one account', () => {
  it('gives no two resources of the same kind the same fixed name, within an environment or across environments', () => {
    const owners = new Map<string, string[]>();
    let named = 0;
    for (const [label, stacks] of Object.entries(ENVIRONMENTS)) {
      // Names resolved as a deployment into one account would make them (the IAM check's resolver).
      const deployed = stacks.map(({ stack, template }) => ({ stackName: stack.stackName, region: stack.region, account: '123456789012', template }));
      const resolver = new TemplateResolver(deployed);
      for (const [index, { stack, template }] of stacks.entries()) {
        for (const [id, resource] of Object.entries(template.Resources)) {
          const rule = NAME_PROPERTIES[resource.Type];
          if (!rule) continue;
          const raw = rule.property.split('.').reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], resource.Properties);
          if (raw === undefined) continue;
          const name = resolver.resolveString(deployed[index], raw);
          named++;
          const key = `${resource.Type} ${rule.scope === 'region' ? `${stack.region} ` : ''}${name}`;
          owners.set(key, [...(owners.get(key) ?? []), `${label}: ${stack.stackName}/${id}`]);
        }
      }
    }
    expect(named).toBeGreaterThan(20);
    const collisions = [...owners].filter(([, where]) => where.length > 1).map(([key, where]) => `${key} <- ${where.join(', ')}`);
    expect(collisions).toEqual([]);
  });
});
