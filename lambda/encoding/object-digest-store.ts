import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { CONTROL_TABLE_SCHEMA, itemKeys } from '../shared/control-table';
import { queryAll } from '../shared/dynamodb';
import { ObjectDigest } from '../shared/title-inventory';

/** Digests outlive any inventory build that needs them, then the table's TTL removes them. */
const RETAIN_SECONDS = 7 * 86_400;

/**
 * The digests of a title's objects while its inventory is being built, in the control table: one
 * item per object, written by whichever invocation hashed it, so any number of them can hash in
 * parallel and a retried one simply overwrites its own item.
 */
export class ObjectDigestStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async put(titleId: string, digest: ObjectDigest, nowMs: number): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...itemKeys.objectDigest(titleId, digest.key),
          size: digest.size,
          sha256: digest.sha256,
          [CONTROL_TABLE_SCHEMA.timeToLiveAttribute]: Math.floor(nowMs / 1000) + RETAIN_SECONDS,
        },
      }),
    );
  }

  /** Every digest of the title by object key; read consistently, so each finished hash is seen. */
  async all(titleId: string): Promise<Map<string, ObjectDigest>> {
    const { pk } = itemKeys.objectDigest(titleId, '');
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': pk },
      ConsistentRead: true,
    });
    return new Map(items.map((item) => [item.sk as string, { key: item.sk as string, size: item.size as number, sha256: item.sha256 as string }]));
  }
}
