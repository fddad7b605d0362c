import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand, QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { tracer } from './powertools';

let shared: DynamoDBDocumentClient | undefined;

/**
 * The execution environment's one DynamoDB document client, traced by X-Ray. The endpoint follows
 * the SDK's own `AWS_ENDPOINT_URL_DYNAMODB`, which is how the local platform points the real
 * handlers at DynamoDB Local. Retries stay few: callers run under tight latency budgets and would
 * rather report a slow table than hide it.
 */
export function sharedDocumentClient(): DynamoDBDocumentClient {
  shared ??= createDocumentClient();
  return shared;
}

export function createDocumentClient(): DynamoDBDocumentClient {
  const client = tracer.captureAWSv3Client(new DynamoDBClient({ maxAttempts: 2 }));
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/** Runs a Query to the end, page by page, and returns every item. */
export async function queryAll(client: DynamoDBDocumentClient, input: QueryCommandInput): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await client.send(new QueryCommand({ ...input, ExclusiveStartKey: startKey }));
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/**
 * Runs a conditional write; true when it happened, false when its condition did not hold.
 * Any other failure is thrown.
 */
export async function conditionally(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) {
      return false;
    }
    throw error;
  }
}
