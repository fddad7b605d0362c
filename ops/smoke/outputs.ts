import type { CfnOutput, Stack } from 'aws-cdk-lib';
import type { EnvironmentConfig } from '../../lib/config/environment';
import { EnvironmentNaming } from '../../lib/config/naming';

/**
 * The contract between the pipeline and `npm run smoke`: which environment variable carries which
 * stack output. The pipeline builds its CodeBuild step's `envFromCfnOutputs` from this list and
 * the smoke test reads the same names (or, without them, the same outputs through DescribeStacks),
 * so the two cannot drift apart. Only data here, and only type imports from the CDK: the pipeline
 * stack imports this module.
 */

/** Plain values the pipeline sets from the environment's config, not from a stack output. */
export const SMOKE_PLAIN_VARIABLES = ['NEARSTREAM_ENV', 'NEARSTREAM_PRIMARY_REGION', 'NEARSTREAM_SECONDARY_REGION'] as const;

/** The variables filled from stack outputs. */
export type SmokeOutputVariable = 'PRIMARY_API_URL' | 'SECONDARY_API_URL' | 'USER_POOL_ID' | 'PLAYER_CLIENT_ID' | 'CONTROL_TABLE_NAME' | 'SOURCE_BUCKET_NAME';

/** Every variable the smoke test reads from the pipeline. */
export type SmokeVariable = (typeof SMOKE_PLAIN_VARIABLES)[number] | SmokeOutputVariable;

/** An environment variable filled from one stack output. */
export interface SmokeOutput {
  readonly variable: SmokeOutputVariable;
  /** The stack's part in `EnvironmentNaming.stackName`: `nearstream-<env>-<part>[-<region>]`. */
  readonly stackPart: 'data' | 'control-plane';
  /** Which of the environment's two regions the stack lives in. */
  readonly region: 'primary' | 'secondary';
  /** Whether the region ends the stack's name (per-region stacks), as `EnvironmentNaming` names them. */
  readonly regionInStackName: boolean;
  readonly outputKey: string;
  /**
   * `cognito-pool`: the stack has the output only when viewers sign in with the environment's own
   * Cognito pool (no external `jwtIssuer`).
   * @default - always there
   */
  readonly onlyWith?: 'cognito-pool';
}

export const SMOKE_OUTPUTS: readonly SmokeOutput[] = [
  { variable: 'PRIMARY_API_URL', stackPart: 'control-plane', region: 'primary', regionInStackName: true, outputKey: 'ApiUrl' },
  { variable: 'SECONDARY_API_URL', stackPart: 'control-plane', region: 'secondary', regionInStackName: true, outputKey: 'ApiUrl' },
  { variable: 'USER_POOL_ID', stackPart: 'data', region: 'primary', regionInStackName: false, outputKey: 'ViewerUserPoolId', onlyWith: 'cognito-pool' },
  { variable: 'PLAYER_CLIENT_ID', stackPart: 'data', region: 'primary', regionInStackName: false, outputKey: 'PlayerClientId', onlyWith: 'cognito-pool' },
  { variable: 'CONTROL_TABLE_NAME', stackPart: 'data', region: 'primary', regionInStackName: false, outputKey: 'ControlTableName' },
  { variable: 'SOURCE_BUCKET_NAME', stackPart: 'data', region: 'primary', regionInStackName: false, outputKey: 'SourceBucketName' },
];

/**
 * Where a test viewer's token comes from when the environment trusts an external issuer: the
 * smoke test cannot create a user there. Not a stack output: set it in the pipeline's secrets.
 */
export const SMOKE_TOKEN_VARIABLE = 'NEARSTREAM_SMOKE_TOKEN';

/**
 * Where the smoke test's uploads go in the source bucket, as the local platform's do (any key with
 * a video suffix starts an encode; the clip's name says it is the smoke test's).
 */
export const SMOKE_UPLOAD_PREFIX = 'uploads/';

/** What the smoke step's role must be allowed to do, on the resource each variable names. */
export const SMOKE_PERMISSIONS: readonly { readonly variable: SmokeOutputVariable; readonly actions: readonly string[]; readonly why: string }[] = [
  {
    variable: 'USER_POOL_ID',
    actions: ['cognito-idp:AdminGetUser', 'cognito-idp:AdminCreateUser', 'cognito-idp:AdminSetUserPassword', 'cognito-idp:AdminInitiateAuth'],
    why: 'creates and signs in the test viewer',
  },
  { variable: 'CONTROL_TABLE_NAME', actions: ['dynamodb:PutItem'], why: 'gives the test viewer a plan (its `account#<sub>` item)' },
  {
    variable: 'CONTROL_TABLE_NAME',
    actions: ['dynamodb:GetItem'],
    why: "optional: reads the smoke clip's `title#<id>` item, so a failed encode ends the wait at once; without it the wait runs on the API alone",
  },
  {
    variable: 'SOURCE_BUCKET_NAME',
    actions: ['s3:PutObject'],
    why: `uploads the smoke clip under ${SMOKE_UPLOAD_PREFIX} when the catalog is empty (the bucket's KMS key must also allow kms:GenerateDataKey)`,
  },
];

/** The outputs an environment with this config has: the Cognito ones only with its own pool. */
export function smokeOutputsFor(config: EnvironmentConfig): readonly SmokeOutput[] {
  return SMOKE_OUTPUTS.filter((output) => output.onlyWith !== 'cognito-pool' || config.viewerAuth === undefined);
}

/** The region an output's stack lives in. */
export function regionOf(output: SmokeOutput, config: Pick<EnvironmentConfig, 'primaryRegion' | 'secondaryRegion'>): string {
  return output.region === 'primary' ? config.primaryRegion : config.secondaryRegion;
}

/** The CloudFormation stack name holding an output, as `EnvironmentNaming` names the stack. */
export function stackNameOf(output: SmokeOutput, config: EnvironmentConfig): string {
  return new EnvironmentNaming(config).stackName(output.stackPart, output.regionInStackName ? regionOf(output, config) : undefined);
}

/** The stacks of an environment the smoke outputs live on (a `NearstreamEnvironment` is one). */
export interface SmokeStacks {
  readonly config: EnvironmentConfig;
  readonly data: Stack;
  /** Primary region first, as `regionsOf` orders them. */
  readonly controlPlanes: readonly Stack[];
}

/**
 * The pipeline's `envFromCfnOutputs` for the smoke step of one environment: variable name to the
 * `CfnOutput` construct. Throws naming the stack and key if a stack no longer has an output the
 * smoke test reads.
 */
export function smokeCfnOutputs(environment: SmokeStacks): Record<string, CfnOutput> {
  const result: Record<string, CfnOutput> = {};
  for (const output of smokeOutputsFor(environment.config)) {
    const stack = output.stackPart === 'data' ? environment.data : environment.controlPlanes[output.region === 'primary' ? 0 : 1];
    const found = stack?.node.tryFindChild(output.outputKey);
    if (!found || !('exportName' in found) || !('value' in found)) {
      throw new Error(`${output.variable}: stack ${stack?.stackName ?? output.stackPart} has no CfnOutput '${output.outputKey}'`);
    }
    result[output.variable] = found as CfnOutput;
  }
  return result;
}
