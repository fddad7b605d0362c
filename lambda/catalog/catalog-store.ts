import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { CONTROL_TABLE_SCHEMA, INDEX_PARTITIONS, itemKeys } from '../shared/control-table';
import type { CursorShape } from '../shared/cursor';
import { conditionally } from '../shared/dynamodb';
import { ID_PATTERN } from '../shared/request-fields';
import { CatalogTitle } from './catalog';

export interface CatalogPage {
  readonly titles: CatalogTitle[];
  readonly lastKey?: Record<string, unknown>;
}

/** `gsi1` orders the catalog by `<lower-case name>#<titleId>`; ids hold no `#`, so the id is what follows the last one. */
function catalogSortKey(title: CatalogTitle): string {
  return `${title.name.toLowerCase()}#${title.titleId}`;
}

/** Cursors of `CatalogStore.list`: a position in the catalog partition of `gsi1`, and only there. */
export const CATALOG_CURSOR: CursorShape = {
  sortKeyAttribute: CONTROL_TABLE_SCHEMA.index.sortKey,
  startKey: (sortKey) => {
    const titleId = sortKey.slice(sortKey.lastIndexOf('#') + 1);
    if (!sortKey.includes('#') || !ID_PATTERN.test(titleId)) {
      return undefined;
    }
    return {
      ...itemKeys.title(titleId),
      [CONTROL_TABLE_SCHEMA.index.partitionKey]: INDEX_PARTITIONS.catalog,
      [CONTROL_TABLE_SCHEMA.index.sortKey]: sortKey,
    };
  },
};

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

  /** A page of available titles in name order, after `startKey` (a page's `lastKey`, or a `CATALOG_CURSOR`'s). */
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
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: toItem(title, 0) }));
  }

  /** Creates the title unless one with its id exists; false when it did. */
  async putIfAbsent(title: CatalogTitle): Promise<boolean> {
    return conditionally(
      this.client.send(
        new PutCommand({ TableName: this.tableName, Item: toItem(title, 0), ConditionExpression: 'attribute_not_exists(pk)' }),
      ),
    );
  }

  /**
   * Changes a title by read-modify-write with optimistic locking on its revision, retrying when
   * another writer got there first (two MediaConvert jobs of a title may complete at once).
   * `change` returns the new title, or undefined to leave it as it is.
   */
  async modify(titleId: string, change: (title: CatalogTitle) => CatalogTitle | undefined): Promise<CatalogTitle | undefined> {
    for (let attempt = 0; attempt < MAX_MODIFY_ATTEMPTS; attempt++) {
      const { Item } = await this.client.send(
        new GetCommand({ TableName: this.tableName, Key: itemKeys.title(titleId), ConsistentRead: true }),
      );
      if (!Item) {
        return undefined;
      }
      const revision = (Item.revision as number | undefined) ?? 0;
      const changed = change(toTitle(Item));
      if (!changed) {
        return toTitle(Item);
      }
      const written = await conditionally(
        this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: toItem(changed, revision + 1),
            ConditionExpression: 'attribute_not_exists(revision) OR revision = :revision',
            ExpressionAttributeValues: { ':revision': revision },
          }),
        ),
      );
      if (written) {
        return changed;
      }
    }
    throw new Error(`title ${titleId} kept changing under ${MAX_MODIFY_ATTEMPTS} attempts to modify it`);
  }
}

const MAX_MODIFY_ATTEMPTS = 8;

function toItem(title: CatalogTitle, revision: number): Record<string, unknown> {
  return {
    ...itemKeys.title(title.titleId),
    [CONTROL_TABLE_SCHEMA.index.partitionKey]: INDEX_PARTITIONS.catalog,
    [CONTROL_TABLE_SCHEMA.index.sortKey]: catalogSortKey(title),
    ...title,
    revision,
  };
}

function toTitle(item: Record<string, unknown>): CatalogTitle {
  const { pk: _pk, sk: _sk, gsi1pk: _gpk, gsi1sk: _gsk, revision: _revision, ...title } = item;
  return title as unknown as CatalogTitle;
}
