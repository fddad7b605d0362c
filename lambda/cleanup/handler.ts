import { CloudFormationClient, DeleteStackCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { Context } from 'aws-lambda';
import { ENVIRONMENT_TAGS } from '../../lib/config/lifetime';
import { requireEnv } from '../shared/env';
import { logger, tracer } from '../shared/powertools';
import { BootstrapRoles, bootstrapRoles } from './bootstrap-roles';
import { BAD_TAG_REASONS, FoundStack, planCleanup, Skip, StackRef, Teardown } from './cleanup-plan';

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
  readonly now: () => Date;
}

/** The account and partition the function runs in: the bootstrap roles it acts through are this account's. */
export interface Invocation {
  readonly account: string;
  readonly partition: string;
}

/** What one run did: returned, logged, and published when an operator should know. */
export interface CleanupSummary {
  readonly at: string;
  /** DeleteStack issued for the first time. */
  readonly started: readonly StackRef[];
  /** Stacks found in DELETE_FAILED, whose DeleteStack was issued again. */
  readonly failed: readonly StackRef[];
  /** DeleteStack calls CloudFormation refused, with its message. */
  readonly refused: readonly (StackRef & { readonly error: string })[];
  readonly inProgress: readonly StackRef[];
  /** Stacks of the current layer in another operation, tried again next run. */
  readonly busy: readonly StackRef[];
  /** Environments whose last layer this run started deleting. */
  readonly removed: readonly string[];
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
 * role (what `cdk destroy` does), and reports. A region that cannot be listed fails the run before
 * anything is deleted: an environment's layers span regions, and half a picture could delete a
 * stack another region's stack still depends on.
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
    const found = (await Promise.all(deps.regions.map((region) => listEnvironmentStacks(clients.get(region)!, region)))).flat();
    const plan = planCleanup(found, now);

    const report: RunReport = { started: [], failed: [], refused: [], removed: [], waiting: [] };
    for (const teardown of plan.teardowns) {
      await advance(teardown, clients, roles, report);
    }
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
  readonly failed: StackRef[];
  readonly refused: (StackRef & { readonly error: string })[];
  readonly removed: string[];
  readonly waiting: string[];
}

/** Issues one expired environment's DeleteStack calls for this run, logging each decision into `report`. */
async function advance(teardown: Teardown, clients: ReadonlyMap<string, CloudFormationClient>, roles: ReadonlyMap<string, BootstrapRoles>, report: RunReport): Promise<void> {
  const context = { environment: teardown.environment, expiresAt: teardown.expiresAt };
  const issue = async (stack: StackRef, wasFailed: boolean): Promise<boolean> => {
    if (wasFailed) {
      report.failed.push(stack);
    }
    try {
      await clients.get(stack.region)!.send(new DeleteStackCommand({ StackName: stack.stackName, RoleARN: roles.get(stack.region)!.executionRoleArn }));
      logger.info(wasFailed ? 'retrying failed stack deletion' : 'deleting stack', { ...context, ...stack });
      if (!wasFailed) {
        report.started.push(stack);
      }
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
    allIssued = (await issue(stack, false)) && allIssued;
  }
  for (const stack of teardown.retry) {
    allIssued = (await issue(stack, true)) && allIssued;
  }
  for (const stack of teardown.inProgress) {
    logger.info('stack deletion in progress', { ...context, ...stack });
  }
  for (const stack of teardown.busy) {
    logger.warn('stack busy with another operation; deleting next run', { ...context, ...stack });
  }
  if (teardown.removed && allIssued) {
    report.removed.push(teardown.environment);
    logger.info('environment removed: its last layer is deleting', context);
  } else {
    report.waiting.push(teardown.environment);
    logger.info('environment waiting for its current layer to go', { ...context, layersLeft: teardown.waiting.map((stack) => stack.stackName) });
  }
}

/** Started, removed, failed or skipped for a bad tag: a quiet run (nothing expired, or only waiting) stays quiet. */
function worthReporting(summary: CleanupSummary): boolean {
  return (
    summary.started.length + summary.failed.length + summary.refused.length + summary.removed.length > 0 ||
    summary.skipped.some((skip) => BAD_TAG_REASONS.has(skip.reason))
  );
}

function subjectOf(summary: CleanupSummary): string {
  const badTags = summary.skipped.filter((skip) => BAD_TAG_REASONS.has(skip.reason)).length;
  const parts = [
    summary.started.length > 0 && `${summary.started.length} stacks deleting`,
    summary.removed.length > 0 && `${summary.removed.length} environments removed`,
    summary.failed.length + summary.refused.length > 0 && `${new Set([...summary.failed, ...summary.refused].map((s) => s.stackName)).size} stacks failed`,
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

/** Every stack of `region` named `nearstream-…` with an environment tag, all pages of DescribeStacks. */
async function listEnvironmentStacks(client: CloudFormationClient, region: string): Promise<FoundStack[]> {
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
      if (stack.StackName?.startsWith('nearstream-') && tags[ENVIRONMENT_TAGS.environment] !== undefined && stack.StackStatus) {
        found.push({ stackName: stack.StackName, region, status: stack.StackStatus, tags });
      }
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return found;
}

/** `arn:<partition>:lambda:<region>:<account>:function:<name>` → its account and partition. */
export function invocationOf(context: Pick<Context, 'invokedFunctionArn'>): Invocation {
  const [, partition, , , account] = context.invokedFunctionArn.split(':');
  if (!partition || !/^\d{12}$/.test(account ?? '')) {
    throw new Error(`invokedFunctionArn '${context.invokedFunctionArn}' does not name a partition and a 12-digit account`);
  }
  return { account, partition };
}

let fromEnvironment: ReturnType<typeof createCleanupHandler> | undefined;

/** EventBridge Scheduler invokes this every few minutes; the event carries nothing it needs. */
export const handler = (_event: unknown, context: Context): Promise<CleanupSummary> => {
  logger.addContext(context);
  fromEnvironment ??= createCleanupHandler({
    regions: requireEnv('CLEANUP_REGIONS').split(','),
    qualifier: requireEnv('CDK_QUALIFIER'),
    topicArn: requireEnv('NOTIFICATION_TOPIC_ARN'),
    sts: tracer.captureAWSv3Client(new STSClient({})),
    sns: tracer.captureAWSv3Client(new SNSClient({})),
    // A client per run: the credentials are the run's own session, and a new session each run
    // means none expires in a container that lives for hours.
    cloudFormation: (region, credentials) => tracer.captureAWSv3Client(new CloudFormationClient({ region, credentials, maxAttempts: 6 })),
    now: () => new Date(),
  });
  return fromEnvironment(invocationOf(context));
};
