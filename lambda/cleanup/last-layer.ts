import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { logger } from '../shared/powertools';
import { StackRef } from './cleanup-plan';
import { deleteLogGroupIfPresent, listLogGroupNames } from './log-group-client';
import { logGroupSearchPrefix, planLogGroupCleanup, RegionStack } from './log-groups';

/**
 * The end of an environment: waiting, within one run, for its last stacks to be deleted, then
 * deleting the log groups Lambda created for CDK's providers outside any stack (see log-groups.ts).
 * The function keeps no state, so a run that runs out of time leaves the rest to the next, which
 * finds the same stacks still deleting as the environment's last layer and waits again.
 */

/** How often DescribeStacks is asked while waiting. */
export const POLL_INTERVAL_MS = 15_000;
/** Waiting stops this long before the function's timeout, leaving time to delete log groups and report. */
export const STOP_WAITING_BEFORE_TIMEOUT_MS = 3 * 60_000;

/** A stack being deleted, by id when DescribeStacks gave one: by id it still answers once deleted. */
export interface DeletingStack extends StackRef {
  readonly stackId?: string;
}

export interface WaitClock {
  now(): Date;
  sleep(ms: number): Promise<void>;
}

export interface DeletionWait {
  /** Environments whose awaited stacks all reached DELETE_COMPLETE. */
  readonly deleted: readonly string[];
  /** Environments with a stack still deleting when the time ran out: the next run waits again. */
  readonly stillDeleting: readonly string[];
  /** Environments with a stack that stopped deleting (DELETE_FAILED, or could not be described): the next run sees why. */
  readonly stopped: readonly { readonly environment: string; readonly stackName: string; readonly region: string; readonly status: string }[];
}

/** 'GONE' once deleted; otherwise CloudFormation's StackStatus, or why it could not be read. */
async function deletionStatus(client: CloudFormationClient, stack: DeletingStack): Promise<string> {
  try {
    const { Stacks: stacks = [] } = await client.send(new DescribeStacksCommand({ StackName: stack.stackId ?? stack.stackName }));
    const status = stacks[0]?.StackStatus;
    return status === undefined || status === 'DELETE_COMPLETE' ? 'GONE' : status;
  } catch (error) {
    // By name, a deleted stack is one that "does not exist".
    if (/does not exist/.test((error as Error).message)) {
      return 'GONE';
    }
    logger.error('could not read a deleting stack\'s status', { ...stack, error: error as Error });
    return `unknown: ${(error as Error).message}`;
  }
}

/**
 * Polls every `POLL_INTERVAL_MS` until each environment's stacks are deleted, one stops deleting,
 * or `waitUntil` comes. Never sleeps past `waitUntil`.
 */
export async function awaitDeletions(
  awaited: ReadonlyMap<string, readonly DeletingStack[]>,
  clients: ReadonlyMap<string, CloudFormationClient>,
  clock: WaitClock,
  waitUntil: Date,
): Promise<DeletionWait> {
  const deleted: string[] = [];
  const stopped: { environment: string; stackName: string; region: string; status: string }[] = [];
  const left = new Map(awaited);
  while (left.size > 0) {
    for (const [environment, stacks] of [...left]) {
      const statuses = await Promise.all(stacks.map((stack) => deletionStatus(clients.get(stack.region)!, stack)));
      const stoppedAt = statuses.findIndex((status) => status !== 'GONE' && status !== 'DELETE_IN_PROGRESS');
      if (stoppedAt >= 0) {
        const { stackName, region } = stacks[stoppedAt];
        stopped.push({ environment, stackName, region, status: statuses[stoppedAt] });
        left.delete(environment);
        logger.warn('last stack stopped deleting; its log groups wait for a later run', { environment, stackName, region, status: statuses[stoppedAt] });
        continue;
      }
      const deleting = stacks.filter((_, index) => statuses[index] !== 'GONE');
      if (deleting.length === 0) {
        deleted.push(environment);
        left.delete(environment);
        logger.info('environment deleted: its last stacks are gone', { environment });
      } else {
        left.set(environment, deleting);
      }
    }
    if (left.size === 0 || clock.now().getTime() + POLL_INTERVAL_MS > waitUntil.getTime()) {
      break;
    }
    await clock.sleep(POLL_INTERVAL_MS);
  }
  for (const environment of left.keys()) {
    logger.info('environment still deleting its last stacks; the next run waits again', { environment, stacks: left.get(environment)!.map((stack) => stack.stackName) });
  }
  return { deleted, stillDeleting: [...left.keys()], stopped };
}

export interface LogGroupRef {
  readonly environment: string;
  readonly region: string;
  readonly logGroupName: string;
}

/** A group the cleanup left, or a region it could not clean, and why. */
export interface KeptLogGroups {
  readonly environment: string;
  readonly region: string;
  /** Absent when a whole region is kept (a stack remains, or CloudWatch Logs failed). */
  readonly logGroupName?: string;
  readonly reason: string;
}

/**
 * Deletes a gone environment's provider log groups in every region, each region only when
 * `stacksOf(region)` (DescribeStacks now) holds none of the environment's stacks. A region whose
 * log groups cannot be listed or deleted is reported, not thrown: the stacks are gone, and the
 * operator can finish by hand.
 */
export async function deleteProviderLogGroups(
  environment: string,
  regions: readonly string[],
  stacksOf: (region: string) => readonly RegionStack[],
  logs: (region: string) => CloudWatchLogsClient,
): Promise<{ deleted: LogGroupRef[]; kept: KeptLogGroups[] }> {
  const deleted: LogGroupRef[] = [];
  const kept: KeptLogGroups[] = [];
  for (const region of regions) {
    try {
      const prefix = logGroupSearchPrefix(environment);
      const plan = planLogGroupCleanup({ environment, regions, stacks: stacksOf(region), logGroupNames: await listLogGroupNames(logs(region), prefix) });
      if (plan.remainingStacks.length > 0) {
        kept.push({ environment, region, reason: `its stacks ${plan.remainingStacks.join(', ')} remain` });
        continue;
      }
      kept.push(...plan.kept.map(({ logGroupName, reason }) => ({ environment, region, logGroupName, reason })));
      for (const logGroupName of plan.deletable) {
        if (await deleteLogGroupIfPresent(logs(region), logGroupName)) {
          deleted.push({ environment, region, logGroupName });
          logger.info('deleted provider log group', { environment, region, logGroupName });
        }
      }
    } catch (error) {
      logger.error('could not delete provider log groups', { environment, region, error: error as Error });
      kept.push({ environment, region, reason: `CloudWatch Logs failed: ${(error as Error).message}; delete /aws/lambda/ groups of its stacks by hand` });
    }
  }
  for (const group of kept) {
    logger.warn('provider log groups kept', { ...group });
  }
  return { deleted, kept };
}
