import { randomUUID } from 'node:crypto';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { itemKeys } from '../shared/control-table';

/** Heartbeats expire from the table a day after they were written. */
const HEARTBEAT_TTL_SECONDS = 24 * 60 * 60;

/**
 * The heartbeat item of one region in the control table (`pk = heartbeat#<region>`). Each region
 * writes only its own item, in its own replica, so the probe measures the local replica and never
 * contends with the other region.
 */
export class HeartbeatStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Writes a fresh heartbeat and reads it back consistently; throws if either step fails. */
  async beat(region: string, nowMs: number, signal: AbortSignal): Promise<void> {
    const key = itemKeys.heartbeat(region);
    const beatId = randomUUID();
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...key,
          beatId,
          region,
          beatAt: new Date(nowMs).toISOString(),
          expiresAt: Math.floor(nowMs / 1000) + HEARTBEAT_TTL_SECONDS,
        },
      }),
      { abortSignal: signal },
    );
    const read = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
      { abortSignal: signal },
    );
    if (read.Item?.beatId !== beatId) {
      throw new Error(`heartbeat ${beatId} was written but not read back`);
    }
  }
}
