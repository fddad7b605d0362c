import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
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
