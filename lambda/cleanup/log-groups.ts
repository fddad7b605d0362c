import { ENVIRONMENT_TAGS } from '../../lib/config/lifetime';
import { ENVIRONMENT_STACK_PARTS } from './cleanup-plan';

/**
 * Which CloudWatch log groups an environment leaves behind when its stacks are gone, from names
 * alone. CDK's own custom-resource providers (S3 auto-delete, the cross-region export writer, the
 * default security group restriction) carry no log configuration, so Lambda creates
 * `/aws/lambda/<function name>` the first time each runs, outside any stack. Their function names
 * are CloudFormation's: `<stack name>-<logical ID>-<12 random characters>`, at most 63 characters,
 * with the stack name cut to its first 25 characters and the logical ID to what is left
 * (`nearstream-pr-feature-login-data` gives `nearstream-pr-feature-log-CustomS3AutoDeleteObject-…`).
 * So a long environment name is cut too, and two environments can share a cut name: a group is
 * the environment's only when the whole cut stack name is one of its stacks', and never while
 * another stack in the region has that cut name as well. `npm run env -- destroy` and the
 * scheduled cleanup both decide with this module.
 */

export const LAMBDA_LOG_GROUP_PREFIX = '/aws/lambda/';
const STACK_PREFIX = 'nearstream-';

/** How many characters of a stack's name CloudFormation keeps in a Lambda function name it generates. */
export const GENERATED_FUNCTION_NAME_STACK_CHARS = 25;

/** Named environments whose log groups are never deleted by a tool (the cleanup's role denies it too). */
export const PROTECTED_ENVIRONMENTS: readonly string[] = ['prod', 'staging', 'dev'];

/** The log groups of the protected environments' functions, as IAM resource name patterns. */
export const PROTECTED_LOG_GROUP_PATTERNS: readonly string[] = PROTECTED_ENVIRONMENTS.map((name) => `${LAMBDA_LOG_GROUP_PREFIX}${STACK_PREFIX}${name}-*`);

/** Every log group a Nearstream stack's function can write, as an IAM resource name pattern. */
export const NEARSTREAM_LOG_GROUP_PATTERN = `${LAMBDA_LOG_GROUP_PREFIX}${STACK_PREFIX}*`;

export const isProtectedEnvironment = (environment: string): boolean => PROTECTED_ENVIRONMENTS.includes(environment);

/** What a function name CloudFormation generates for a stack starts with (before its `-<logical ID>`). */
export function generatedFunctionNameStackPart(stackName: string): string {
  return stackName.slice(0, GENERATED_FUNCTION_NAME_STACK_CHARS);
}

/** Every stack name the environment can have in `regions` (lib/config/naming.ts). */
export function environmentStackNames(environment: string, regions: readonly string[]): string[] {
  return ENVIRONMENT_STACK_PARTS.flatMap(({ part, regional }) =>
    regional ? regions.map((region) => `${STACK_PREFIX}${environment}-${part}-${region}`) : [`${STACK_PREFIX}${environment}-${part}`],
  );
}

/**
 * The `logGroupNamePrefix` that lists every group the environment's functions can have written
 * (and some of other environments whose names start alike: filter with `isProviderLogGroupOf`).
 */
export function logGroupSearchPrefix(environment: string): string {
  return `${LAMBDA_LOG_GROUP_PREFIX}${generatedFunctionNameStackPart(`${STACK_PREFIX}${environment}-`)}`;
}

/**
 * The (possibly cut) stack name a `/aws/lambda/<generated function name>` group starts with:
 * everything before the first `-` followed by an upper-case letter, since Nearstream's stack names
 * are lower case and CDK's logical IDs begin with a capital.
 */
export function stackPartOfLogGroup(logGroupName: string): string | undefined {
  if (!logGroupName.startsWith(LAMBDA_LOG_GROUP_PREFIX)) {
    return undefined;
  }
  return /^([a-z0-9-]+?)-[A-Z]/.exec(logGroupName.slice(LAMBDA_LOG_GROUP_PREFIX.length))?.[1];
}

/**
 * True when `logGroupName` is what a function of one of the environment's stacks in `regions`
 * writes: its stack part is one of those stacks' names, cut as CloudFormation cuts them. False for
 * prod, staging and dev, and for any group under their prefixes, whatever the environment.
 */
export function isProviderLogGroupOf(logGroupName: string, environment: string, regions: readonly string[]): boolean {
  if (isProtectedEnvironment(environment) || PROTECTED_ENVIRONMENTS.some((name) => logGroupName.startsWith(`${LAMBDA_LOG_GROUP_PREFIX}${STACK_PREFIX}${name}-`))) {
    return false;
  }
  const stackPart = stackPartOfLogGroup(logGroupName);
  return stackPart !== undefined && environmentStackNames(environment, regions).some((stackName) => generatedFunctionNameStackPart(stackName) === stackPart);
}

/**
 * The environment a stack name belongs to (`nearstream-pr-7-control-plane-us-west-2` → `pr-7`), by
 * the parts `lib/config/naming.ts` gives stacks; undefined for any other name.
 */
export function environmentOfStackName(stackName: string, regions: readonly string[]): string | undefined {
  if (!stackName.startsWith(STACK_PREFIX)) {
    return undefined;
  }
  const rest = stackName.slice(STACK_PREFIX.length);
  for (const { part, regional } of ENVIRONMENT_STACK_PARTS) {
    for (const suffix of regional ? regions.map((region) => `-${part}-${region}`) : [`-${part}`]) {
      if (rest.endsWith(suffix) && rest.length > suffix.length) {
        return rest.slice(0, -suffix.length);
      }
    }
  }
  return undefined;
}

/** A stack found in the region the log groups are in. */
export interface RegionStack {
  readonly stackName: string;
  readonly status: string;
  readonly tags?: Readonly<Record<string, string>>;
}

export interface LogGroupCleanupInput {
  readonly environment: string;
  /** The environment's regions: its regional stacks' names end in one of them. */
  readonly regions: readonly string[];
  /** Every stack of the region the log groups are in, as DescribeStacks lists them now. */
  readonly stacks: readonly RegionStack[];
  /** The region's log groups under `logGroupSearchPrefix(environment)`. */
  readonly logGroupNames: readonly string[];
}

export interface LogGroupCleanup {
  /** The environment's stacks still in the region: while there is one, nothing is deleted. */
  readonly remainingStacks: readonly string[];
  readonly deletable: readonly string[];
  /** The environment's groups that another stack of the region could have written: left, and said why. */
  readonly kept: readonly { readonly logGroupName: string; readonly reason: string }[];
}

/**
 * Which of a region's log groups to delete for an environment whose stacks are gone from it. A
 * stack of the environment is one tagged with its name or named as one of its stacks; any left
 * (other than DELETE_COMPLETE) and nothing is deleted.
 */
export function planLogGroupCleanup(input: LogGroupCleanupInput): LogGroupCleanup {
  const { environment, regions } = input;
  const own = new Set(environmentStackNames(environment, regions));
  const live = input.stacks.filter((stack) => stack.status !== 'DELETE_COMPLETE');
  const isOwn = (stack: RegionStack) => stack.tags?.[ENVIRONMENT_TAGS.environment] === environment || own.has(stack.stackName);
  const remainingStacks = live.filter(isOwn).map((stack) => stack.stackName).sort();
  if (remainingStacks.length > 0) {
    return { remainingStacks, deletable: [], kept: [] };
  }
  const othersByStackPart = new Map(live.map((stack) => [generatedFunctionNameStackPart(stack.stackName), stack.stackName]));
  const deletable: string[] = [];
  const kept: { logGroupName: string; reason: string }[] = [];
  for (const logGroupName of [...input.logGroupNames].sort()) {
    if (!isProviderLogGroupOf(logGroupName, environment, regions)) {
      continue;
    }
    const other = othersByStackPart.get(stackPartOfLogGroup(logGroupName)!);
    if (other) {
      kept.push({ logGroupName, reason: `stack ${other} has the same first ${GENERATED_FUNCTION_NAME_STACK_CHARS} characters, so its functions may write it` });
    } else {
      deletable.push(logGroupName);
    }
  }
  return { remainingStacks, deletable, kept };
}
