import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { EnvironmentInput } from '../../../lib/config/environment';
import type { NearstreamEnvironment } from '../../../lib/nearstream-environment';
import { CfnTemplate, DeployedStack, SECRET_ARN_SUFFIX, TemplateResolver } from './template-resolver';

/**
 * The environment the IAM check synthesizes: every optional part switched on (an EC2 fleet and a
 * Roles Anywhere trust, so both appliance roles exist), in a fixed account and the default regions.
 */
export const CHECKED_ENVIRONMENT: EnvironmentInput = {
  name: 'dev',
  account: '123456789012',
  applianceAmis: { 'us-east-1': 'ami-0123456789abcdef0', 'us-west-2': 'ami-0fedcba9876543210' },
  rolesAnywhereCaBundle: '-----BEGIN CERTIFICATE-----\nMIIBtestcertificate\n-----END CERTIFICATE-----\n',
};

/** A role as deployed: its ARN, where it is defined, and its identity policies with every intrinsic resolved. */
export interface RoleModel {
  readonly arn: string;
  /** The construct path of the role, e.g. `Nearstream-dev/Encoding/Workflow/IngestFunction/Role`. */
  readonly constructPath: string;
  readonly policies: readonly { readonly name: string; readonly document: unknown }[];
}

/** A resource that may be encrypted with a customer managed key and may carry a resource policy. */
export interface ResourceModel {
  readonly keyArn?: string;
  readonly policy?: unknown;
}

/** Everything the check needs from the synthesized environment, as plain data. */
export interface PolicyModel {
  readonly account: string;
  /** By `<role>@<region>`: functions by their Powertools service name, appliances as `appliance-ec2` / `appliance-bare-metal`. */
  readonly roles: Readonly<Record<string, RoleModel>>;
  /** By bucket name. */
  readonly buckets: Readonly<Record<string, ResourceModel>>;
  /** By topic ARN. */
  readonly topics: Readonly<Record<string, ResourceModel>>;
  /** By secret ARN, replicas included. */
  readonly secrets: Readonly<Record<string, ResourceModel>>;
  /** Each secret's ARN in its own region, by its name (if it has one) and by its construct path below the environment (`Data/OriginTier/KeyStore`). */
  readonly secretArns: Readonly<Record<string, string>>;
  /** Key policies, by key ARN. */
  readonly keyPolicies: Readonly<Record<string, unknown>>;
  /** Each key's aliases (`alias/<name>`), by key ARN: what `kms:ResourceAliases` holds for a call to that key. */
  readonly keyAliases: Readonly<Record<string, readonly string[]>>;
  /** Each region's HTTP API id. */
  readonly apiIds: Readonly<Record<string, string>>;
  /** Resources the tests stand in for by name: `encoding-failures` (topic ARN), `mediaconvert-jobs` (role ARN). */
  readonly platformArns: Readonly<Record<PlatformResource, string>>;
}

export type PlatformResource = 'encoding-failures' | 'mediaconvert-jobs';

const REPO_ROOT = path.join(__dirname, '..', '..', '..');
/** What the model is built from: a change to any of these builds it again. */
const MODEL_SOURCES = ['lib', 'lambda', 'test/support/iam', 'test/support/synth.ts', 'cdk.json', 'package-lock.json'];

let loaded: PolicyModel | Error | undefined;

/**
 * The model of `CHECKED_ENVIRONMENT`, synthesized once per run: it is kept in the temp directory
 * (the run's scratch directory, under jest) under a digest of everything it is built from, so the
 * test files that check IAM share one synth instead of paying several seconds each.
 */
export function policyModel(): PolicyModel {
  // A synth that failed fails every later check of the file at once, rather than synthesizing again.
  loaded ??= loadOrBuild();
  if (loaded instanceof Error) {
    throw loaded;
  }
  return loaded;
}

function loadOrBuild(): PolicyModel | Error {
  const cacheFile = path.join(os.tmpdir(), `nearstream-iam-model-${sourceDigest()}.json`);
  if (fs.existsSync(cacheFile)) {
    return JSON.parse(fs.readFileSync(cacheFile, 'utf8')) as PolicyModel;
  }
  let model: PolicyModel;
  try {
    model = buildPolicyModel();
  } catch (error) {
    return error as Error;
  }
  const partial = `${cacheFile}.${process.pid}`;
  fs.writeFileSync(partial, JSON.stringify(model));
  fs.renameSync(partial, cacheFile);
  return model;
}

function sourceDigest(): string {
  const hash = createHash('sha256');
  const add = (relative: string) => {
    const full = path.join(REPO_ROOT, relative);
    if (fs.statSync(full).isDirectory()) {
      for (const entry of fs.readdirSync(full).sort()) {
        add(path.join(relative, entry));
      }
    } else {
      hash.update(`${relative}\n`).update(fs.readFileSync(full));
    }
  };
  MODEL_SOURCES.forEach(add);
  return hash.digest('hex').slice(0, 16);
}

function buildPolicyModel(): PolicyModel {
  // Loaded only when the cached model is stale: aws-cdk-lib alone takes seconds to load.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { Stack } = require('aws-cdk-lib') as typeof import('aws-cdk-lib');
  const { CfnRole } = require('aws-cdk-lib/aws-iam') as typeof import('aws-cdk-lib/aws-iam');
  const { Secret } = require('aws-cdk-lib/aws-secretsmanager') as typeof import('aws-cdk-lib/aws-secretsmanager');
  const { synthEnvironment } = require('../synth') as typeof import('../synth');
  /* eslint-enable @typescript-eslint/no-require-imports */
  let synthesized: ReturnType<typeof synthEnvironment>;
  try {
    synthesized = synthEnvironment(CHECKED_ENVIRONMENT);
  } catch (error) {
    throw new Error(`the IAM check could not synthesize its environment; fix the app first: ${(error as Error).message}`);
  }
  if (synthesized.synthError) {
    throw new Error(`the IAM check could not synthesize its environment; fix the app first: ${synthesized.synthError}`);
  }
  const environment: NearstreamEnvironment = synthesized.environment;
  const cdkStacks = [environment.originReplica, environment.data, environment.encoding, ...environment.controlPlanes, environment.applianceImage, ...environment.appliances];
  const resolver = new TemplateResolver(
    cdkStacks.map((stack) => ({
      stackName: stack.stackName,
      region: stack.region,
      account: stack.account,
      template: synthesized.template(stack).toJSON() as CfnTemplate,
    })),
  );
  const deployed = (stack: InstanceType<typeof Stack>) => resolver.stack(stack.stackName, stack.region);
  const resolveIn = (construct: { node: unknown }, token: unknown) => {
    const stack = Stack.of(construct as never);
    return resolver.resolveString(deployed(stack), stack.resolve(token));
  };

  const constructPaths = new Map<string, string>();
  const secretArns: Record<string, string> = {};
  for (const construct of environment.node.findAll()) {
    if (construct instanceof CfnRole) {
      const stack = Stack.of(construct);
      constructPaths.set(`${stack.stackName}/${stack.resolve(construct.logicalId)}`, construct.node.scope!.node.path);
    } else if (construct instanceof Secret) {
      const arn = resolveIn(construct, construct.secretArn);
      secretArns[construct.node.path.slice(environment.node.path.length + 1)] = arn;
      secretArns[arn.split(':secret:')[1].slice(0, -(SECRET_ARN_SUFFIX.length + 1))] = arn;
    }
  }
  const roles: Record<string, RoleModel> = {};
  const addRole = (key: string, stack: DeployedStack, logicalId: string) => {
    if (roles[key]) {
      throw new Error(`two roles answer to ${key}: give their functions distinct Powertools service names`);
    }
    roles[key] = roleModel(resolver, stack, logicalId, constructPaths.get(`${stack.stackName}/${logicalId}`) ?? `${stack.stackName}/${logicalId}`);
  };
  for (const stack of resolver.stacks) {
    for (const resource of Object.values(stack.template.Resources)) {
      const service = (resource.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables?.POWERTOOLS_SERVICE_NAME;
      const roleArn = resource.Properties?.Role as { 'Fn::GetAtt'?: [string, string] } | undefined;
      if (resource.Type === 'AWS::Lambda::Function' && typeof service === 'string' && roleArn?.['Fn::GetAtt']) {
        addRole(`${service}@${stack.region}`, stack, roleArn['Fn::GetAtt'][0]);
      }
    }
  }
  for (const appliances of environment.appliances) {
    for (const [name, role] of [['appliance-ec2', appliances.fleet?.role], ['appliance-bare-metal', appliances.bareMetal?.role]] as const) {
      if (role) {
        const cfnRole = role.node.defaultChild as InstanceType<typeof CfnRole>;
        addRole(`${name}@${appliances.region}`, deployed(appliances), appliances.resolve(cfnRole.logicalId));
      }
    }
  }

  return {
    account: CHECKED_ENVIRONMENT.account!,
    roles,
    ...encryptedResources(resolver),
    secretArns,
    apiIds: Object.fromEntries(environment.controlPlanes.map((plane) => [plane.region, resolveIn(plane, plane.api.httpApi.apiId)])),
    platformArns: {
      'encoding-failures': resolveIn(environment.encoding, environment.encoding.workflow.failureTopic.topicArn),
      'mediaconvert-jobs': resolveIn(environment.encoding, environment.encoding.ladder.serviceRole.roleArn),
    },
  };
}

function roleModel(resolver: TemplateResolver, stack: DeployedStack, logicalId: string, constructPath: string): RoleModel {
  const roleName = resolver.ref(stack, logicalId);
  const role = stack.template.Resources[logicalId];
  const inline = ((role.Properties?.Policies ?? []) as { PolicyName: unknown; PolicyDocument: unknown }[]).map((policy) => ({
    name: resolver.resolveString(stack, policy.PolicyName),
    document: resolver.resolve(stack, policy.PolicyDocument),
  }));
  // AWS managed policies (ManagedPolicyArns, such as AmazonSSMManagedInstanceCore) are not in any
  // template and are left out: they could only allow more, never deny what the policies here allow.
  const attached = resolver.stacks.flatMap((owner) =>
    Object.entries(owner.template.Resources)
      .filter(([, resource]) => resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy')
      .filter(([, resource]) => ((resolver.resolve(owner, resource.Properties?.Roles ?? []) as string[]).includes(roleName)))
      .map(([policyId, resource]) => ({ name: `${owner.stackName}/${policyId}`, document: resolver.resolve(owner, resource.Properties?.PolicyDocument) })),
  );
  return { arn: resolver.attribute(stack, logicalId, 'Arn'), constructPath, policies: [...inline, ...attached] };
}

/** Buckets, topics and secrets with their keys and resource policies, and every key's policy and aliases. */
function encryptedResources(resolver: TemplateResolver): Pick<PolicyModel, 'buckets' | 'topics' | 'secrets' | 'keyPolicies' | 'keyAliases'> {
  const buckets: Record<string, ResourceModel> = {};
  const topics: Record<string, ResourceModel> = {};
  const secrets: Record<string, ResourceModel> = {};
  const keyPolicies: Record<string, unknown> = {};
  const keyAliases: Record<string, string[]> = {};
  /** A customer managed key's ARN; undefined for none or an AWS managed key (`alias/aws/...`), which needs no grant. */
  const customerKey = (stack: DeployedStack, value: unknown) => {
    const key = value === undefined ? undefined : resolver.resolveString(stack, value);
    return key && !key.startsWith('alias/aws/') ? key : undefined;
  };
  for (const stack of resolver.stacks) {
    const { Resources } = stack.template;
    /** The document of the resource policy (`type`) whose `property` names `target`, if there is one. */
    const policyOf = (type: string, property: string, target: string) => {
      const policy = Object.values(Resources).find(
        (resource) => resource.Type === type && [resolver.resolve(stack, resource.Properties?.[property])].flat().includes(target),
      );
      return policy && resolver.resolve(stack, policy.Properties?.PolicyDocument);
    };
    for (const [logicalId, resource] of Object.entries(Resources)) {
      const props = resource.Properties ?? {};
      if (resource.Type === 'AWS::KMS::Key') {
        keyPolicies[resolver.attribute(stack, logicalId, 'Arn')] = resolver.resolve(stack, props.KeyPolicy);
      } else if (resource.Type === 'AWS::KMS::Alias') {
        // TargetKeyId is a key id (Ref) or a key ARN (GetAtt); the alias lives in its stack's region.
        const target = resolver.resolveString(stack, props.TargetKeyId);
        const keyArn = target.startsWith('arn:') ? target : `arn:aws:kms:${stack.region}:${stack.account}:key/${target}`;
        (keyAliases[keyArn] ??= []).push(resolver.resolveString(stack, props.AliasName));
      } else if (resource.Type === 'AWS::S3::Bucket') {
        const name = resolver.ref(stack, logicalId);
        const encryption = (props.BucketEncryption as { ServerSideEncryptionConfiguration?: { ServerSideEncryptionByDefault?: { KMSMasterKeyID?: unknown } }[] } | undefined)
          ?.ServerSideEncryptionConfiguration?.[0]?.ServerSideEncryptionByDefault;
        buckets[name] = { keyArn: customerKey(stack, encryption?.KMSMasterKeyID), policy: policyOf('AWS::S3::BucketPolicy', 'Bucket', name) };
      } else if (resource.Type === 'AWS::SNS::Topic') {
        const arn = resolver.ref(stack, logicalId);
        topics[arn] = { keyArn: customerKey(stack, props.KmsMasterKeyId), policy: policyOf('AWS::SNS::TopicPolicy', 'Topics', arn) };
      } else if (resource.Type === 'AWS::SecretsManager::Secret') {
        const arn = resolver.ref(stack, logicalId);
        secrets[arn] = { keyArn: customerKey(stack, props.KmsKeyId) };
        for (const replica of (props.ReplicaRegions ?? []) as { Region: string; KmsKeyId?: unknown }[]) {
          secrets[arn.replace(`:${stack.region}:`, `:${replica.Region}:`)] = { keyArn: customerKey(stack, replica.KmsKeyId) };
        }
      }
    }
  }
  return { buckets, topics, secrets, keyPolicies, keyAliases };
}
