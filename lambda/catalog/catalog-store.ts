import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { CONTROL_TABLE_SCHEMA, INDEX_PARTITIONS, itemKeys } from '../shared/control-table';
import { CatalogTitle } from './catalog';

export interface CatalogPage {
  readonly titles: CatalogTitle[];
  readonly lastKey?: Record<string, unknown>;
}

/**
 * Catalog entries in the control table: one item per title, listed through `gsi1` in name order.
 * The encoding workflow writes entries with `put`; playback only reads.
 */
export class CatalogStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(titleId: string): Promise<CatalogTitle | undefined> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: itemKeys.title(titleId) }));
    return Item ? toTitle(Item) : undefined;
  }

  async list(limit: number, startKey?: Record<string, unknown>): Promise<CatalogPage> {
    const index = CONTROL_TABLE_SCHEMA.index;
    const result = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: index.name,
        KeyConditionExpression: '#pk = :catalog',
        FilterExpression: '#status = :available',
        ExpressionAttributeNames: { '#pk': index.partitionKey, '#status': 'status' },
        ExpressionAttributeValues: { ':catalog': INDEX_PARTITIONS.catalog, ':available': 'available' },
        Limit: limit,
        ExclusiveStartKey: startKey,
      }),
    );
    return { titles: (result.Items ?? []).map(toTitle), lastKey: result.LastEvaluatedKey };
  }

  async put(title: CatalogTitle): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...itemKeys.title(title.titleId),
          [CONTROL_TABLE_SCHEMA.index.partitionKey]: INDEX_PARTITIONS.catalog,
          [CONTROL_TABLE_SCHEMA.index.sortKey]: `${title.name.toLowerCase()}#${title.titleId}`,
          ...title,
        },
      }),
    );
  }
}

function toTitle(item: Record<string, unknown>): CatalogTitle {
  const { pk: _pk, sk: _sk, gsi1pk: _gpk, gsi1sk: _gsk, ...title } = item;
  return title as unknown as CatalogTitle;
}
