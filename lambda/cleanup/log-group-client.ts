import { CloudWatchLogsClient, DeleteLogGroupCommand, paginateDescribeLogGroups } from '@aws-sdk/client-cloudwatch-logs';

/**
 * The two CloudWatch Logs calls the cleanup and `npm run env -- destroy` make, wrapped once. The
 * client's own retries (exponential backoff with jitter, `maxAttempts`) cover throttling.
 */

/** The names of the client's region's log groups starting with `prefix`, every page. */
export async function listLogGroupNames(client: CloudWatchLogsClient, prefix: string): Promise<string[]> {
  const names: string[] = [];
  for await (const page of paginateDescribeLogGroups({ client }, { logGroupNamePrefix: prefix })) {
    for (const group of page.logGroups ?? []) {
      if (group.logGroupName) {
        names.push(group.logGroupName);
      }
    }
  }
  return names;
}

/** Deletes a log group; false when it was gone already (another run, or a person, deleted it). */
export async function deleteLogGroupIfPresent(client: CloudWatchLogsClient, logGroupName: string): Promise<boolean> {
  try {
    await client.send(new DeleteLogGroupCommand({ logGroupName }));
    return true;
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') {
      return false;
    }
    throw error;
  }
}
