import { CloudFormationClient, paginateDescribeStacks } from '@aws-sdk/client-cloudformation';
import { ENVIRONMENT_TAGS } from '../../lib/config/lifetime';

/** One CloudFormation stack, as `list` needs it. */
export interface DeployedStack {
  readonly stackName: string;
  readonly region: string;
  readonly status: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** One environment found in the account, from its stacks' tags. */
export interface EnvironmentListing {
  readonly name: string;
  /** From the `nearstream:kind` tag; undefined when the stacks disagree or lack it. */
  readonly kind?: string;
  readonly creator?: string;
  readonly expiresAt?: string;
  /** The expiry has passed: the scheduled cleanup will destroy it (or should have). */
  readonly expired: boolean;
  /** By stack name. */
  readonly stacks: readonly { readonly stackName: string; readonly region: string; readonly status: string }[];
}

/**
 * Groups stacks into environments by their `nearstream:environment` tag (stacks without it are not
 * Nearstream's and are left out). Kind, creator and expiry come from the same tags; stacks of one
 * environment carry the same values, and when they do not (a half-updated environment) the field
 * shows every value, so nothing is silently picked.
 */
export function groupEnvironments(stacks: readonly DeployedStack[], now: Date): EnvironmentListing[] {
  const byName = new Map<string, DeployedStack[]>();
  for (const stack of stacks) {
    const name = stack.tags[ENVIRONMENT_TAGS.environment];
    if (name === undefined || stack.status === 'DELETE_COMPLETE') {
      continue;
    }
    byName.set(name, [...(byName.get(name) ?? []), stack]);
  }
  return [...byName.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, members]) => {
      const expiresAt = agreed(members, ENVIRONMENT_TAGS.expiresAt);
      const expiry = expiresAt === undefined ? NaN : Date.parse(expiresAt);
      return {
        name,
        kind: agreed(members, ENVIRONMENT_TAGS.kind),
        creator: agreed(members, ENVIRONMENT_TAGS.creator),
        expiresAt,
        expired: !Number.isNaN(expiry) && expiry <= now.getTime(),
        stacks: [...members]
          .sort((a, b) => a.stackName.localeCompare(b.stackName))
          .map(({ stackName, region, status }) => ({ stackName, region, status })),
      };
    });
}

/** The one value every stack's tag has, or all the different values joined with ` | `. */
function agreed(stacks: readonly DeployedStack[], tag: string): string | undefined {
  const values = [...new Set(stacks.map((stack) => stack.tags[tag]).filter((value): value is string => value !== undefined))];
  return values.length === 0 ? undefined : values.sort().join(' | ');
}

/** The human-readable form: a line per environment, then its stacks indented. */
export function formatEnvironments(environments: readonly EnvironmentListing[], regions: readonly string[]): string[] {
  if (environments.length === 0) {
    return [`no Nearstream environments in ${regions.join(' or ')}`];
  }
  return environments.flatMap((environment) => [
    [
      environment.name,
      environment.kind ?? 'kind unknown',
      `creator ${environment.creator ?? '-'}`,
      environment.expiresAt ? `expires ${environment.expiresAt}${environment.expired ? ' (expired)' : ''}` : 'never expires',
      `${environment.stacks.length} stack${environment.stacks.length === 1 ? '' : 's'}`,
    ].join('  '),
    ...environment.stacks.map((stack) => `    ${stack.stackName}  ${stack.region}  ${stack.status}`),
  ]);
}

/** Every stack in each region, with its tags: one paginated DescribeStacks per region. */
export async function describeStacks(regions: readonly string[]): Promise<DeployedStack[]> {
  const perRegion = await Promise.all(
    regions.map(async (region) => {
      const client = new CloudFormationClient({ region, maxAttempts: 5 });
      const stacks: DeployedStack[] = [];
      try {
        for await (const page of paginateDescribeStacks({ client }, {})) {
          for (const stack of page.Stacks ?? []) {
            stacks.push({
              stackName: stack.StackName ?? '',
              region,
              status: stack.StackStatus ?? 'UNKNOWN',
              tags: Object.fromEntries((stack.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? ''])),
            });
          }
        }
      } catch (error) {
        throw new Error(`DescribeStacks in ${region} failed: ${(error as Error).message}`);
      } finally {
        client.destroy();
      }
      return stacks;
    }),
  );
  return perRegion.flat();
}
