import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { itemKeys } from '../shared/control-table';
import { queryAll } from '../shared/dynamodb';
import { DemandIncrement } from './telemetry';

/** Demand counters live 400 days: a year of history for fill planning, plus slack. */
const RETENTION_SECONDS = 400 * 24 * 3600;

export interface TitleDemand {
  readonly titleId: string;
  readonly starts: number;
}

/**
 * Per-day stream starts by title, per region and per cluster, as atomic adds: concurrent batches
 * from any number of players never lose a count. Fill planning reads them; so does `/home`.
 */
export class DemandStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async addStarts(day: string, region: string, increments: readonly DemandIncrement[]): Promise<void> {
    const expiresAt = Math.floor(Date.parse(`${day}T00:00:00Z`) / 1000) + RETENTION_SECONDS;
    const writes = increments.flatMap((increment) => {
      const keys = [itemKeys.regionDemand(day, region, increment.titleId)];
      if (increment.clusterId) {
        keys.push(itemKeys.clusterDemand(day, increment.clusterId, increment.titleId));
      }
      return keys.map((key) =>
        this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: key,
            UpdateExpression: 'ADD starts :n SET titleId = :title, expiresAt = :expires',
            ExpressionAttributeValues: { ':n': increment.starts, ':title': increment.titleId, ':expires': expiresAt },
          }),
        ),
      );
    });
    await Promise.all(writes);
  }

  /** A region's titles on one day, most started first. */
  async topTitlesInRegion(day: string, region: string, limit: number): Promise<TitleDemand[]> {
    const { pk } = itemKeys.regionDemand(day, region, '');
    return this.top(pk, limit);
  }

  /** A cluster's titles on one day, most started first. */
  async topTitlesInCluster(day: string, clusterId: string, limit: number): Promise<TitleDemand[]> {
    const { pk } = itemKeys.clusterDemand(day, clusterId, '');
    return this.top(pk, limit);
  }

  private async top(pk: string, limit: number): Promise<TitleDemand[]> {
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': pk },
    });
    const counts = items.map((item) => ({ titleId: item.titleId as string, starts: item.starts as number }));
    return counts.sort((a, b) => b.starts - a.starts || a.titleId.localeCompare(b.titleId)).slice(0, limit);
  }
}
