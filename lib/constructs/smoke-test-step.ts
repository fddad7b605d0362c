import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import { BuildEnvironmentVariableType } from 'aws-cdk-lib/aws-codebuild';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { CodeBuildStep, IFileSetProducer } from 'aws-cdk-lib/pipelines';
import { EnvironmentConfig, regionsOf } from '../config/environment';
import { ENVIRONMENT_TAGS } from '../config/lifetime';
import { EnvironmentNaming } from '../config/naming';
import { NearstreamEnvironment } from '../nearstream-environment';
import { SMOKE_TOKEN_VARIABLE, smokeOutputsFor } from '../../ops/smoke/outputs';
import { DEPLOY_BUILD_ENVIRONMENT } from './build-environment';
import { WildcardReason } from './pipeline-acknowledgements';

/**
 * Every `SMOKE_OUTPUTS` entry (ops/smoke, the contract with the runner) the environment has, as the
 * `CfnOutput` CDK Pipelines reads it from; the Cognito ones only with the environment's own pool.
 */
export function smokeOutputsOf(environment: NearstreamEnvironment): Record<string, CfnOutput> {
  const outputs: Record<string, CfnOutput> = {};
  for (const source of smokeOutputsFor(environment.config)) {
    const stack: Stack = source.stackPart === 'data' ? environment.data : environment.controlPlanes[source.region === 'primary' ? 0 : 1];
    const output = stack.node.tryFindChild(source.outputKey);
    if (!(output instanceof CfnOutput)) {
      throw new Error(`${source.variable}: stack ${stack.stackName} has no CfnOutput '${source.outputKey}'; update SMOKE_OUTPUTS (ops/smoke/outputs.ts) or the stack`);
    }
    outputs[source.variable] = output;
  }
  return outputs;
}

/** Where a stack lives, for a policy that names it. */
export interface StackLocation {
  /** A stack name, or a pattern with `*`. */
  readonly stackName: string;
  readonly region: string;
}

/** Which environment (or family of environments) a smoke test may touch. */
export interface SmokeAccess {
  /** An environment name (`staging`), or a pattern of names (`pr-*`), matched against resource tags. */
  readonly environmentName: string;
  /** Names of that environment, or of the pattern (`nearstream-pr-*-control`). */
  readonly naming: EnvironmentNaming;
  readonly partition: string;
  readonly account: string;
  readonly primaryRegion: string;
  /** The stacks whose outputs the runner may read. */
  readonly stacks: readonly StackLocation[];
}

/**
 * What the smoke runner may do, and no more: sign a test viewer in to the environment's user pool,
 * write `account#…` items to its control table, upload under `uploads/` of its source bucket, and
 * read its stacks' outputs. Names and tags come from `EnvironmentNaming` and the environment tags,
 * because the pipeline cannot reference resources of stacks it has not deployed yet.
 */
export function smokeTestPolicyStatements(access: SmokeAccess): PolicyStatement[] {
  const { partition, account, primaryRegion, naming } = access;
  const bucketName = naming.mediaBucketName(account, primaryRegion, 'source');
  const bucketArn = `arn:${partition}:s3:::${bucketName}`;
  return [
    // The pool id is generated at deploy; the pool carries the environment's tag (Tags.of in
    // NearstreamEnvironment), and Cognito's userpool resource supports aws:ResourceTag for these actions.
    new PolicyStatement({
      actions: ['cognito-idp:AdminCreateUser', 'cognito-idp:AdminGetUser', 'cognito-idp:AdminSetUserPassword', 'cognito-idp:AdminInitiateAuth'],
      resources: [`arn:${partition}:cognito-idp:${primaryRegion}:${account}:userpool/*`],
      conditions: { StringLike: { [`aws:ResourceTag/${ENVIRONMENT_TAGS.environment}`]: access.environmentName } },
    }),
    new PolicyStatement({
      actions: ['dynamodb:PutItem'],
      resources: [`arn:${partition}:dynamodb:${primaryRegion}:${account}:table/${naming.controlTableName}`],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['account#*'] } },
    }),
    new PolicyStatement({ actions: ['s3:PutObject'], resources: [`${bucketArn}/uploads/*`] }),
    // The bucket's key is generated at deploy: any key, but only as S3 uses it for this bucket
    // (bucket keys are on, so the encryption context is the bucket's ARN).
    new PolicyStatement({
      actions: ['kms:GenerateDataKey', 'kms:Encrypt'],
      resources: [`arn:${partition}:kms:${primaryRegion}:${account}:key/*`],
      conditions: {
        StringEquals: { 'kms:ViaService': `s3.${primaryRegion}.amazonaws.com` },
        StringLike: { 'kms:EncryptionContext:aws:s3:arn': [bucketArn, `${bucketArn}/uploads/*`] },
      },
    }),
    new PolicyStatement({
      actions: ['cloudformation:DescribeStacks'],
      resources: access.stacks.map(({ stackName, region }) => `arn:${partition}:cloudformation:${region}:${account}:stack/${stackName}/*`),
    }),
  ];
}

/** Smoke access to exactly one environment's resources and stacks. */
export function smokeAccessFor(environment: NearstreamEnvironment): SmokeAccess {
  const { config } = environment;
  const stacks = environment.node.findAll().filter((node): node is Stack => Stack.isStack(node));
  return {
    environmentName: config.name,
    naming: new EnvironmentNaming(config),
    partition: Stack.of(environment.data).partition,
    account: accountOf(config),
    primaryRegion: config.primaryRegion,
    stacks: stacks.map((stack) => ({ stackName: stack.stackName, region: stack.region })),
  };
}

/** Why each wildcard of `smokeTestPolicyStatements` is as narrow as it can be (cdk-nag IAM5). */
export const SMOKE_WILDCARD_REASONS: readonly WildcardReason[] = [
  {
    pattern: /^Resource::arn:(aws[a-z-]*|<AWS::Partition>):cognito-idp:[a-z0-9-]+:\d{12}:userpool\/\*$/,
    reason: 'The user pool id is generated at deploy, after this policy exists; the condition on the pool\'s nearstream:environment tag limits the smoke test to its environment\'s pool.',
  },
  {
    pattern: /^Resource::arn:(aws[a-z-]*|<AWS::Partition>):kms:[a-z0-9-]+:\d{12}:key\/\*$/,
    reason: 'The source bucket\'s key id is generated at deploy; the conditions allow it only through S3 in the primary region and only for the environment\'s source bucket.',
  },
  {
    pattern: /^Resource::arn:(aws[a-z-]*|<AWS::Partition>):s3:::nearstream-[a-z0-9*-]+-source\/uploads\/\*$/,
    reason: 'The smoke test uploads a short test title under uploads/ of its environment\'s source bucket, which is what starts the encoding workflow it checks.',
  },
  {
    pattern: /^Resource::arn:(aws[a-z-]*|<AWS::Partition>):cloudformation:[a-z0-9-]+:\d{12}:stack\/nearstream-[a-z0-9*-]+\/\*$/,
    reason: 'DescribeStacks of the environment\'s own stacks, by name; the trailing wildcard is the stack id CloudFormation assigns when it creates the stack.',
  },
  {
    pattern: /^Resource::arn:(aws[a-z-]*|<AWS::Partition>):dynamodb:[a-z0-9-]+:\d{12}:table\/nearstream-pr-\*-control$/,
    reason: 'The control table of any pull-request environment (nearstream-pr-*-control), and only account# items in it, which is where the smoke test records its test account.',
  },
];

export interface SmokeTestStepProps {
  /** The repository checkout the runner runs from. */
  readonly input: IFileSetProducer;
  /** The environment the stage deployed. */
  readonly environment: NearstreamEnvironment;
  /** Longer than the runner's 30-minute wait for a title it had to encode. @default Duration.minutes(45) */
  readonly timeout?: Duration;
}

/**
 * The post-deploy check of a pipeline stage: `npm run smoke` against the stacks the stage just
 * deployed, their outputs passed in as environment variables (CDK Pipelines turns each into a
 * `#{namespace.Output}` variable of the stack's deploy action).
 */
export function smokeTestStep(props: SmokeTestStepProps): CodeBuildStep {
  const { config } = props.environment;
  const [primaryRegion, secondaryRegion] = regionsOf(config);
  return new CodeBuildStep('Smoke', {
    input: props.input,
    buildEnvironment: config.viewerAuth
      ? {
          ...DEPLOY_BUILD_ENVIRONMENT,
          // With an external issuer there is no pool to make a test viewer in: a token for a test
          // account, kept by the operator in this secret, stands in (CodeBuild reads it at start).
          environmentVariables: {
            [SMOKE_TOKEN_VARIABLE]: { type: BuildEnvironmentVariableType.SECRETS_MANAGER, value: smokeTokenSecretName(config) },
          },
        }
      : DEPLOY_BUILD_ENVIRONMENT,
    timeout: props.timeout ?? Duration.minutes(45),
    env: {
      NEARSTREAM_ENV: config.name,
      NEARSTREAM_PRIMARY_REGION: primaryRegion,
      NEARSTREAM_SECONDARY_REGION: secondaryRegion,
    },
    envFromCfnOutputs: smokeOutputsOf(props.environment),
    commands: ['npm ci', 'npx tsx bin/prerequisites.ts install smoke', 'npm run smoke'],
    rolePolicyStatements: smokeTestPolicyStatements(smokeAccessFor(props.environment)),
  });
}

/** The secret holding a viewer token for an environment that trusts an external issuer. */
export function smokeTokenSecretName(config: EnvironmentConfig): string {
  return `nearstream/${config.name}/smoke-viewer-token`;
}

function accountOf(config: EnvironmentConfig): string {
  if (config.account === undefined) {
    throw new Error(`environment ${config.name}: a pipeline stage needs an explicit account (its smoke test names the account's resources)`);
  }
  return config.account;
}
