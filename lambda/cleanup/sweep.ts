import { CloudFormationClient, ListStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { ENVIRONMENT_TAGS } from '../../lib/config/lifetime';
import { logger } from '../shared/powertools';
import { FoundStack } from './cleanup-plan';
import { deleteProviderLogGroups, KeptLogGroups, LogGroupRef } from './last-layer';
import { environmentOfStackName, environmentStackNames, isProtectedEnvironment } from './log-groups';

export interface SweepDependencies {
  /** Each region's CloudFormation client, as the run's deploy-role session. */
  readonly clients: ReadonlyMap<string, CloudFormationClient>;
  readonly regions: readonly string[];
  readonly logs: (region: string) => CloudWatchLogsClient;
  readonly now: Date;
}

/** How far back a run looks for environments whose last stacks finished deleting between runs. */
const SWEEP_WINDOW_MS = 24 * 3600_000;

/**
 * Environments whose last stacks finished deleting after a run stopped waiting for them (or that
 * `cdk destroy` removed): any environment with a stack deleted in the last day and none left gets
 * its provider log groups deleted. Repeating it each run costs one listing per such environment.
 */
export async function sweepRecentlyDeleted(
  found: readonly FoundStack[],
  handled: readonly string[],
  deps: SweepDependencies,
): Promise<{ deleted: LogGroupRef[]; kept: KeptLogGroups[] }> {
  const { clients } = deps;
  const since = deps.now.getTime() - SWEEP_WINDOW_MS;
  const environments = new Set<string>();
  for (const region of deps.regions) {
    try {
      for (const stackName of await recentlyDeletedStackNames(clients.get(region)!, since)) {
        const environment = environmentOfStackName(stackName, deps.regions);
        if (environment !== undefined && !isProtectedEnvironment(environment) && !handled.includes(environment)) {
          environments.add(environment);
        }
      }
    } catch (error) {
      logger.warn('could not list recently deleted stacks; their provider log groups wait for a later run', { region, error: error as Error });
    }
  }
  const deleted: LogGroupRef[] = [];
  const kept: KeptLogGroups[] = [];
  for (const environment of [...environments].sort()) {
    const own = new Set(environmentStackNames(environment, deps.regions));
    if (found.some((stack) => stack.status !== 'DELETE_COMPLETE' && (stack.tags[ENVIRONMENT_TAGS.environment] === environment || own.has(stack.stackName)))) {
      continue;
    }
    const result = await deleteProviderLogGroups(environment, deps.regions, (region) => found.filter((stack) => stack.region === region), deps.logs);
    deleted.push(...result.deleted);
    kept.push(...result.kept);
  }
  return { deleted, kept };
}

/** Names of `nearstream-` stacks that reached DELETE_COMPLETE since `since` (ListStacks keeps them 90 days). */
async function recentlyDeletedStackNames(client: CloudFormationClient, since: number): Promise<string[]> {
  const names: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(new ListStacksCommand({ StackStatusFilter: ['DELETE_COMPLETE'], NextToken: nextToken }));
    for (const summary of page.StackSummaries ?? []) {
      if (summary.StackName?.startsWith('nearstream-') && summary.DeletionTime && summary.DeletionTime.getTime() >= since) {
        names.push(summary.StackName);
      }
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return names;
}
