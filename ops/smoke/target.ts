import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { EnvironmentConfig } from '../../lib/config/environment';
import { RegionTarget } from './api-client';
import { regionOf, SMOKE_OUTPUTS, SmokeOutput, SmokeOutputVariable, stackNameOf } from './outputs';

/** The deployed environment the smoke test checks, as its stacks' outputs describe it. */
export interface SmokeTarget {
  readonly env: string;
  /** Primary first. */
  readonly regions: readonly [RegionTarget, RegionTarget];
  readonly controlTableName: string;
  readonly sourceBucketName: string;
  /** The environment's own Cognito pool; absent when viewers sign in with an external issuer. */
  readonly userPool?: { readonly userPoolId: string; readonly playerClientId: string };
  /** The variables that were read from CloudFormation rather than given. */
  readonly readFromStacks: readonly SmokeOutputVariable[];
}

/** A stack's outputs by key, or undefined when there is no such stack in the region. */
export type StackOutputReader = (stackName: string, region: string) => Promise<Record<string, string> | undefined>;

/** `DescribeStacks`, one client per region. */
export function cloudFormationOutputs(clientFor: (region: string) => Pick<CloudFormationClient, 'send'>): StackOutputReader {
  return async (stackName, region) => {
    try {
      const { Stacks = [] } = await clientFor(region).send(new DescribeStacksCommand({ StackName: stackName }));
      const stack = Stacks[0];
      if (!stack) {
        return undefined;
      }
      return Object.fromEntries((stack.Outputs ?? []).flatMap((output) => (output.OutputKey && output.OutputValue !== undefined ? [[output.OutputKey, output.OutputValue]] : [])));
    } catch (error) {
      // CloudFormation says a stack is missing with a ValidationError, not a typed NotFound.
      if ((error as Error).name === 'ValidationError' && /does not exist/.test((error as Error).message)) {
        return undefined;
      }
      throw error;
    }
  };
}

/** Thrown when the outputs cannot be read; the message names the stack, region and key. */
export class TargetError extends Error {}

const isOptional = (output: SmokeOutput) => output.onlyWith !== undefined;

/**
 * The target from the pipeline's variables; what they lack is read from the stacks (all at once,
 * one DescribeStacks per stack), which is how a laptop run against `--env pr-7` works.
 * `readStacks` is called only when a required variable is missing.
 */
export async function resolveTarget(
  config: EnvironmentConfig,
  variables: Readonly<Partial<Record<string, string>>>,
  readStacks: StackOutputReader,
): Promise<SmokeTarget> {
  const given = (name: string) => {
    const value = variables[name]?.trim();
    return value ? value : undefined;
  };
  const values = new Map<SmokeOutputVariable, string>();
  for (const output of SMOKE_OUTPUTS) {
    const value = given(output.variable);
    if (value) {
      values.set(output.variable, value);
    }
  }
  const readFromStacks: SmokeOutputVariable[] = [];
  const requiredMissing = SMOKE_OUTPUTS.filter((output) => !isOptional(output) && !values.has(output.variable));
  if (requiredMissing.length > 0) {
    const cache = new Map<string, Promise<Record<string, string> | undefined>>();
    for (const output of SMOKE_OUTPUTS.filter((candidate) => !values.has(candidate.variable))) {
      const stackName = stackNameOf(output, config);
      const region = regionOf(output, config);
      const key = `${region}/${stackName}`;
      if (!cache.has(key)) {
        cache.set(key, readStacks(stackName, region));
      }
      const outputs = await cache.get(key)!;
      if (!outputs) {
        throw new TargetError(`${output.variable} is not set and stack ${stackName} does not exist in ${region}: is environment '${config.name}' deployed there (npm run env -- list)?`);
      }
      const value = outputs[output.outputKey];
      if (value) {
        values.set(output.variable, value);
        readFromStacks.push(output.variable);
      } else if (!isOptional(output)) {
        throw new TargetError(`${output.variable} is not set and stack ${stackName} in ${region} has no output '${output.outputKey}'`);
      }
    }
  }
  for (const variable of ['PRIMARY_API_URL', 'SECONDARY_API_URL'] as const) {
    if (!/^https?:\/\/[^\s/]+/.test(values.get(variable)!)) {
      throw new TargetError(`${variable} must be the API's http(s) URL (got '${values.get(variable)}')`);
    }
  }
  const userPoolId = values.get('USER_POOL_ID');
  const playerClientId = values.get('PLAYER_CLIENT_ID');
  if ((userPoolId === undefined) !== (playerClientId === undefined)) {
    throw new TargetError(`USER_POOL_ID and PLAYER_CLIENT_ID go together: only ${userPoolId ? 'USER_POOL_ID' : 'PLAYER_CLIENT_ID'} is set`);
  }
  return {
    env: config.name,
    regions: [
      { name: config.primaryRegion, apiUrl: values.get('PRIMARY_API_URL')! },
      { name: config.secondaryRegion, apiUrl: values.get('SECONDARY_API_URL')! },
    ],
    controlTableName: values.get('CONTROL_TABLE_NAME')!,
    sourceBucketName: values.get('SOURCE_BUCKET_NAME')!,
    ...(userPoolId && playerClientId ? { userPool: { userPoolId, playerClientId } } : {}),
    readFromStacks,
  };
}
