import { CloudFormationClient, DeleteStackCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { Context } from 'aws-lambda';
import { positiveIntegerEnv, requireEnv } from '../shared/env';
import { lambdaEntry } from '../shared/lambda-entry';
import { logger, tracer } from '../shared/powertools';
import { BootstrapRoles, bootstrapRoles } from './bootstrap-roles';
import { BAD_TAG_REASONS, DAILY_RETRY_HOUR_UTC, DEFAULT_RUN_INTERVAL_MINUTES, FailedDeletion, FoundStack, planCleanup, Skip, StackRef, Teardown } from './cleanup-plan';
import { awaitDeletions, deleteProviderLogGroups, DeletingStack, KeptLogGroups, LogGroupRef, STOP_WAITING_BEFORE_TIMEOUT_MS } from './last-layer';
import { sweepRecentlyDeleted } from './sweep';

/** Temporary credentials, as AssumeRole returns them and SDK clients take them. */
export interface SessionCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly expiration?: Date;
}

export interface CleanupDependencies {
  /** The regions the environments live in; every one is listed before anything is planned. */
  readonly regions: readonly string[];
  /** The CDK bootstrap qualifier of those regions. */
  readonly qualifier: string;
  readonly topicArn: string;
  readonly sts: STSClient;
  readonly sns: SNSClient;
  /** A CloudFormation client of `region` acting as the deploy role's session. */
  readonly cloudFormation: (region: string, credentials: SessionCredentials) => CloudFormationClient;
  /** A CloudWatch Logs client of `region` acting as the function itself: it deletes the providers' log groups. */
  readonly logs: (region: string) => CloudWatchLogsClient;
  readonly now: () => Date;
  /** Waits while the last stacks delete; with `now`, the clock tests replace. */
  readonly sleep: (ms: number) => Promise<void>;
  /**
   * How often the schedule runs the function: it places the daily retry of failed deletions.
   * @default 15 (DEFAULT_RUN_INTERVAL_MINUTES), EnvironmentCleanup's default schedule
   */
  readonly runIntervalMinutes?: number;
}

/** The account and partition the function runs in: the bootstrap roles it acts through are this account's. */
export interface Invocation {
  readonly account: string;
  readonly partition: string;
  /** When Lambda stops this run: waiting for last stacks ends `STOP_WAITING_BEFORE_TIMEOUT_MS` before. */
  readonly timesOutAt: Date;
}

/** A stack found in DELETE_FAILED, and what the operator does about it. */
export interface FailedStackReport extends StackRef {
  /** CloudFormation's StackStatusReason, when DescribeStacks gave one. */
  readonly statusReason?: string;
  /** DeleteStack was issued again this run (the daily retry). */
  readonly retried: boolean;
  /** This run is one that tells operators: the first after the failure, or the daily reminder. */
  readonly announced: boolean;
  /** What to change, and how to retry without waiting for the daily retry. */
  readonly fix: string;
}

/** What one run did: returned, logged, and published when an operator should know. */
export interface CleanupSummary {
  readonly at: string;
  /** DeleteStack issued for the first time. */
  readonly started: readonly StackRef[];
  /** Stacks of the current layers found in DELETE_FAILED. */
  readonly failed: readonly FailedStackReport[];
  /** DeleteStack calls CloudFormation refused, with its message. */
  readonly refused: readonly (StackRef & { readonly error: string })[];
  readonly inProgress: readonly StackRef[];
  /** Stacks of the current layer in another operation, tried again next run. */
  readonly busy: readonly StackRef[];
  /**
   * Environments whose last stacks this run started deleting: every stack they have left is now
   * deleting. They are gone once those deletions complete (in `lastLayerDeleted` when this run saw
   * it; a failure shows in a later run).
   */
  readonly lastLayerStarted: readonly string[];
  /**
   * Environments whose last stacks this run saw reach DELETE_COMPLETE, having waited for them
   * (started by this run or an earlier one); their provider log groups are deleted with them.
   */
  readonly lastLayerDeleted: readonly string[];
  /** Log groups Lambda created for CDK's providers outside the stacks, deleted once their environment was gone. */
  readonly logGroupsDeleted: readonly LogGroupRef[];
  /** Provider log groups of a gone environment left in place, and why: an operator deletes them. */
  readonly logGroupsKept: readonly KeptLogGroups[];
  /** Expired environments with layers left for later runs. */
  readonly waiting: readonly string[];
  readonly skipped: readonly Skip[];
}

/** Short: the run has minutes, and each later run assumes the role again. */
const SESSION_SECONDS = 900;
const SESSION_NAME = 'nearstream-environment-cleanup';

/**
 * One scheduled run: lists the Nearstream stacks of every region as the CDK deploy role, plans,
 * issues DeleteStack for each expired environment's next layer with the CloudFormation execution
 * role (what `cdk destroy` does), waits for environments whose last stacks are now all deleting,
 * deletes their provider log groups once those stacks are gone (last-layer.ts), and reports. A
 * region that cannot be listed fails the run before anything is deleted: an environment's layers
 * span regions, and half a picture could delete a stack another region's stack still depends on.
 */
export function createCleanupHandler(deps: CleanupDependencies) {
  return async (invocation: Invocation): Promise<CleanupSummary> => {
    const now = deps.now();
    const roles = new Map(deps.regions.map((region) => [region, bootstrapRoles(invocation.account, region, deps.qualifier, invocation.partition)]));
    const clients = new Map(
      await Promise.all(
        deps.regions.map(async (region) => [region, deps.cloudFormation(region, await assumeRole(deps.sts, roles.get(region)!.deployRoleArn))] as const),
      ),
    );
    const listAll = async () => (await Promise.all(deps.regions.map((region) => listNearstreamStacks(clients.get(region)!, region)))).flat();
    const found = await listAll();
    const plan = planCleanup(found, now, { runIntervalMinutes: deps.runIntervalMinutes });

    const report: RunReport = { started: [], failed: [], refused: [], lastLayerStarted: [], waiting: [] };
    const stackIds = new Map(found.map((stack) => [`${stack.region}/${stack.stackName}`, stack.stackId]));
    const awaited = new Map<string, DeletingStack[]>();
    for (const teardown of plan.teardowns) {
      const lastStacks = await advance(teardown, clients, roles, report);
      if (lastStacks) {
        awaited.set(teardown.environment, lastStacks.map((stack) => ({ ...stack, stackId: stackIds.get(`${stack.region}/${stack.stackName}`) })));
      }
    }
    const ending = await finishEnvironments(awaited, clients, deps, invocation, listAll);
    const swept = await sweepRecentlyDeleted(found, [...awaited.keys()], { clients, regions: deps.regions, logs: deps.logs, now });
    ending.logGroupsDeleted.push(...swept.deleted);
    ending.logGroupsKept.push(...swept.kept);
    for (const skip of plan.skipped) {
      if (BAD_TAG_REASONS.has(skip.reason)) {
        logger.warn('environment skipped', { ...skip });
      } else {
        logger.info('environment skipped', { ...skip });
      }
    }

    const summary: CleanupSummary = {
      at: now.toISOString(),
      ...report,
      ...ending,
      inProgress: plan.teardowns.flatMap((teardown) => teardown.inProgress),
      busy: plan.teardowns.flatMap((teardown) => teardown.busy),
      skipped: plan.skipped,
    };
    if (worthReporting(summary)) {
      await deps.sns.send(new PublishCommand({ TopicArn: deps.topicArn, Subject: subjectOf(summary), Message: JSON.stringify(summary, null, 2) }));
    }
    return summary;
  };
}

/** What a run has done so far, filled in as it goes. */
interface RunReport {
  readonly started: StackRef[];
  readonly failed: FailedStackReport[];
  readonly refused: (StackRef & { readonly error: string })[];
  readonly lastLayerStarted: string[];
  readonly waiting: string[];
}

/**
 * Waits for the environments whose last stacks are all deleting, then deletes the provider log
 * groups of those that are gone, checking first (DescribeStacks again) that none of their stacks
 * is back.
 */
async function finishEnvironments(
  awaited: ReadonlyMap<string, readonly DeletingStack[]>,
  clients: ReadonlyMap<string, CloudFormationClient>,
  deps: CleanupDependencies,
  invocation: Invocation,
  listAll: () => Promise<FoundStack[]>,
): Promise<{ lastLayerDeleted: string[]; logGroupsDeleted: LogGroupRef[]; logGroupsKept: KeptLogGroups[] }> {
  if (awaited.size === 0) {
    return { lastLayerDeleted: [], logGroupsDeleted: [], logGroupsKept: [] };
  }
  const waitUntil = new Date(invocation.timesOutAt.getTime() - STOP_WAITING_BEFORE_TIMEOUT_MS);
  const { deleted } = await awaitDeletions(awaited, clients, deps, waitUntil);
  const logGroupsDeleted: LogGroupRef[] = [];
  const logGroupsKept: KeptLogGroups[] = [];
  if (deleted.length > 0) {
    let current: FoundStack[] | undefined;
    try {
      current = await listAll();
    } catch (error) {
      // The run has deleted stacks already: report what is left rather than lose the report.
      logger.error('could not list the stacks again; provider log groups kept', { error: error as Error });
      logGroupsKept.push(...deleted.flatMap((environment) => deps.regions.map((region) => ({ environment, region, reason: (error as Error).message }))));
    }
    for (const environment of current ? deleted : []) {
      const result = await deleteProviderLogGroups(environment, deps.regions, (region) => current!.filter((stack) => stack.region === region), deps.logs);
      logGroupsDeleted.push(...result.deleted);
      logGroupsKept.push(...result.kept);
    }
  }
  return { lastLayerDeleted: [...deleted], logGroupsDeleted, logGroupsKept };
}

/**
 * Issues one expired environment's DeleteStack calls for this run, logging each decision into
 * `report`. Returns the environment's last stacks when every one of them is now deleting.
 */
async function advance(teardown: Teardown, clients: ReadonlyMap<string, CloudFormationClient>, roles: ReadonlyMap<string, BootstrapRoles>, report: RunReport): Promise<StackRef[] | undefined> {
  const context = {
    environment: teardown.environment,
    expiresAt: teardown.expiresAt,
    ...(teardown.supersededExpiries.length > 0 ? { supersededExpiries: teardown.supersededExpiries } : {}),
  };
  const issue = async (stack: StackRef, message: string): Promise<boolean> => {
    try {
      await clients.get(stack.region)!.send(new DeleteStackCommand({ StackName: stack.stackName, RoleARN: roles.get(stack.region)!.executionRoleArn }));
      logger.info(message, { ...context, ...stack });
      return true;
    } catch (error) {
      // One refused stack (termination protection, an unexpected state) must not stop the others.
      logger.error('DeleteStack refused', { ...context, ...stack, error: error as Error });
      report.refused.push({ ...stack, error: (error as Error).message });
      return false;
    }
  };
  let allIssued = true;
  for (const stack of teardown.start) {
    const issued = await issue(stack, 'deleting stack');
    if (issued) {
      report.started.push(stack);
    }
    allIssued = issued && allIssued;
  }
  for (const failed of teardown.failed) {
    const { stackName, region, statusReason, retry, announce } = failed;
    report.failed.push({ stackName, region, statusReason, retried: retry, announced: announce, fix: howToFix(failed, roles.get(region)!.executionRoleArn) });
    if (retry) {
      allIssued = (await issue({ stackName, region }, 'retrying failed stack deletion')) && allIssued;
    } else {
      logger.warn('stack deletion failed; retried daily', { ...context, stackName, region, statusReason, announced: announce });
    }
  }
  for (const stack of teardown.inProgress) {
    logger.info('stack deletion in progress', { ...context, ...stack });
  }
  for (const stack of teardown.busy) {
    logger.warn('stack busy with another operation; deleting next run', { ...context, ...stack });
  }
  if (teardown.startsLastLayer && allIssued) {
    report.lastLayerStarted.push(teardown.environment);
    logger.info('environment deleting its last stacks', context);
  } else {
    report.waiting.push(teardown.environment);
    logger.info('environment waiting for its current layer to go', { ...context, layersLeft: teardown.waiting.map((stack) => stack.stackName) });
  }
  const retried = teardown.failed.filter((failed) => failed.retry);
  if (!teardown.lastLayer || !allIssued || retried.length < teardown.failed.length) {
    return undefined;
  }
  return [...teardown.start, ...retried.map(({ stackName, region }) => ({ stackName, region })), ...teardown.inProgress];
}

/** What an operator does about a failed deletion: CloudFormation's reason, the usual causes, the retry command. */
function howToFix(failed: FailedDeletion, executionRoleArn: string): string {
  // StackStatusReason usually ends in '. ', which the sentence below would double.
  const statusReason = failed.statusReason?.replace(/[.\s]+$/, '');
  const reason = statusReason ? `CloudFormation says: ${statusReason}` : 'CloudFormation gave no reason: read the stack\'s events';
  return (
    `${reason}. Remove what keeps the named resources (objects in a bucket, something outside the stack still using them), ` +
    `then retry with \`aws cloudformation delete-stack --region ${failed.region} --stack-name ${failed.stackName} --role-arn ${executionRoleArn}\` ` +
    `(add --retain-resources <LogicalId> to leave one behind), or let the cleanup retry it at ${String(DAILY_RETRY_HOUR_UTC).padStart(2, '0')}:00 UTC.`
  );
}

/**
 * Started, refused, a failed deletion due its announcement (see failedDeletionCadence), or skipped
 * for a bad tag: a quiet run (nothing expired, only waiting, or failures already announced today)
 * stays quiet.
 */
function worthReporting(summary: CleanupSummary): boolean {
  return (
    summary.started.length +
      announcedFailures(summary).length +
      summary.refused.length +
      summary.lastLayerStarted.length +
      summary.lastLayerDeleted.length +
      summary.logGroupsKept.length >
      0 ||
    summary.skipped.some((skip) => BAD_TAG_REASONS.has(skip.reason))
  );
}

const announcedFailures = (summary: CleanupSummary) => summary.failed.filter((failed) => failed.announced);

function subjectOf(summary: CleanupSummary): string {
  const badTags = summary.skipped.filter((skip) => BAD_TAG_REASONS.has(skip.reason)).length;
  const failed = new Set([...announcedFailures(summary), ...summary.refused].map((stack) => stack.stackName)).size;
  // An environment whose last stacks this run started and saw deleted counts as deleted only.
  const stillDeleting = summary.lastLayerStarted.filter((environment) => !summary.lastLayerDeleted.includes(environment)).length;
  const keptGroups = new Set(summary.logGroupsKept.map((kept) => kept.environment)).size;
  const parts = [
    summary.started.length > 0 && `${summary.started.length} stacks deleting`,
    stillDeleting > 0 && `${stillDeleting} environments deleting their last stacks`,
    summary.lastLayerDeleted.length > 0 && `${summary.lastLayerDeleted.length} environments deleted`,
    keptGroups > 0 && `${keptGroups} environments' log groups kept`,
    failed > 0 && `${failed} stacks failed`,
    badTags > 0 && `${badTags} skipped for bad tags`,
  ].filter(Boolean);
  // SNS subjects are at most 100 characters.
  return `Nearstream cleanup: ${parts.join(', ')}`.slice(0, 100);
}

async function assumeRole(sts: STSClient, roleArn: string): Promise<SessionCredentials> {
  const { Credentials: credentials } = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: SESSION_NAME, DurationSeconds: SESSION_SECONDS }));
  if (!credentials?.AccessKeyId || !credentials.SecretAccessKey || !credentials.SessionToken) {
    throw new Error(`AssumeRole of ${roleArn} returned no credentials`);
  }
  return { accessKeyId: credentials.AccessKeyId, secretAccessKey: credentials.SecretAccessKey, sessionToken: credentials.SessionToken, expiration: credentials.Expiration };
}

/**
 * Every stack of `region` named `nearstream-…`, all pages of DescribeStacks: the plan reads those
 * with an environment tag, the log group cleanup all of them (an untagged one may share a name).
 */
async function listNearstreamStacks(client: CloudFormationClient, region: string): Promise<FoundStack[]> {
  const found: FoundStack[] = [];
  let nextToken: string | undefined;
  do {
    let page;
    try {
      page = await client.send(new DescribeStacksCommand({ NextToken: nextToken }));
    } catch (error) {
      throw new Error(`Listing the stacks of ${region} failed, so nothing was deleted: ${(error as Error).message}`, { cause: error });
    }
    for (const stack of page.Stacks ?? []) {
      const tags = Object.fromEntries((stack.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']));
      if (stack.StackName?.startsWith('nearstream-') && stack.StackStatus) {
        found.push({ stackName: stack.StackName, region, status: stack.StackStatus, tags, statusReason: stack.StackStatusReason, deletionStartedAt: stack.DeletionTime, stackId: stack.StackId });
      }
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return found;
}

/** `arn:<partition>:lambda:<region>:<account>:function:<name>` → its account and partition; and when the run times out. */
export function invocationOf(context: Pick<Context, 'invokedFunctionArn' | 'getRemainingTimeInMillis'>, now: Date): Invocation {
  const [, partition, , , account] = context.invokedFunctionArn.split(':');
  if (!partition || !/^\d{12}$/.test(account ?? '')) {
    throw new Error(`invokedFunctionArn '${context.invokedFunctionArn}' does not name a partition and a 12-digit account`);
  }
  return { account, partition, timesOutAt: new Date(now.getTime() + context.getRemainingTimeInMillis()) };
}

/** EventBridge Scheduler invokes this every few minutes; the event carries nothing it needs. */
export const handler = lambdaEntry(() => {
  const logsClients = new Map<string, CloudWatchLogsClient>();
  const cleanup = createCleanupHandler({
    regions: requireEnv('CLEANUP_REGIONS').split(','),
    qualifier: requireEnv('CDK_QUALIFIER'),
    topicArn: requireEnv('NOTIFICATION_TOPIC_ARN'),
    sts: tracer.captureAWSv3Client(new STSClient({})),
    sns: tracer.captureAWSv3Client(new SNSClient({})),
    // A client per run: the credentials are the run's own session, and a new session each run
    // means none expires in a container that lives for hours.
    cloudFormation: (region, credentials) => tracer.captureAWSv3Client(new CloudFormationClient({ region, credentials, maxAttempts: 6 })),
    logs: (region) => {
      if (!logsClients.has(region)) {
        logsClients.set(region, tracer.captureAWSv3Client(new CloudWatchLogsClient({ region, maxAttempts: 6 })));
      }
      return logsClients.get(region)!;
    },
    now: () => new Date(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    runIntervalMinutes: positiveIntegerEnv('RUN_INTERVAL_MINUTES', DEFAULT_RUN_INTERVAL_MINUTES),
  });
  return (_event: unknown, context: Context): Promise<CleanupSummary> => cleanup(invocationOf(context, new Date()));
});
