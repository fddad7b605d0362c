import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { CONTROL_TABLE_SCHEMA, INDEX_PARTITIONS, itemKeys } from '../shared/control-table';
import { queryAll } from '../shared/dynamodb';
import { buildUpdate } from '../shared/update-expression';
import { ApplianceView } from '../playback/steering';
import { HealthReport, Registration } from './fleet-protocol';

/** Where a cluster's current fill manifest is, as fill planning announces it. */
export interface ManifestPointer {
  readonly clusterId: string;
  readonly generation: number;
  readonly bucket: string;
  readonly key: string;
  readonly createdAt: string;
}

/** Why the registry refused a write. */
export type FleetRefusal = 'not-registered' | 'owned-by-another-principal' | 'stale-report';

export class FleetRefusedError extends Error {
  constructor(
    readonly refusal: FleetRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'FleetRefusedError';
  }
}

export interface RegisteredAppliance extends ApplianceView {
  readonly principalArn: string;
  /** What the appliance registered with; fill planning sizes its placements by `diskBytes`. */
  readonly capacity?: { readonly egressGbps: number; readonly diskBytes: number };
  readonly registeredAt: string;
  readonly reportCount?: number;
  readonly inventoryDigest?: string;
}

/**
 * The fleet registry in the control table. Registration and reports update disjoint attributes
 * of one item per appliance, so neither erases the other; an appliance id belongs to the IAM
 * principal that first registered it; report counts are atomic adds, so concurrent reports are all
 * counted, and a report older than the stored one is refused rather than allowed to roll it back.
 */
export class FleetStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async register(registration: Registration, principalArn: string, now: Date): Promise<RegisteredAppliance> {
    const index = CONTROL_TABLE_SCHEMA.index;
    try {
      const update = buildUpdate({
        set: {
          applianceId: registration.applianceId,
          clusterId: registration.clusterId,
          region: registration.region,
          baseUrl: registration.baseUrl,
          capacity: registration.capacity,
          prefixes: registration.prefixes,
          principalArn,
          [index.partitionKey]: INDEX_PARTITIONS.fleet,
          [index.sortKey]: `${registration.clusterId}#${registration.applianceId}`,
          updatedAt: now.toISOString(),
        },
        setOnce: { registeredAt: now.toISOString() },
      });
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: itemKeys.appliance(registration.applianceId),
          ...update,
          ConditionExpression: 'attribute_not_exists(#cPrincipal) OR #cPrincipal = :cPrincipal',
          ExpressionAttributeNames: { ...update.ExpressionAttributeNames, '#cPrincipal': 'principalArn' },
          ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ':cPrincipal': principalArn },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toAppliance(Attributes!);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw ownedByAnother(registration.applianceId);
      }
      throw error;
    }
  }

  async report(report: HealthReport, principalArn: string, nowMs: number): Promise<RegisteredAppliance> {
    const titles = [...new Set(report.inventory.titles)];
    const update = buildUpdate({
      set: {
        load: report.health.load,
        egressGbps: report.health.egressGbps,
        diskUsedBytes: report.health.diskUsedBytes,
        errorRate: report.health.errorRate,
        reportedAtMs: nowMs,
        inventoryDigest: report.inventory.digest,
        titleCount: titles.length,
        ...(titles.length > 0 ? { titles: new Set(titles) } : {}),
      },
      add: { reportCount: 1 },
      remove: titles.length > 0 ? [] : ['titles'],
    });
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: itemKeys.appliance(report.applianceId),
          ...update,
          ConditionExpression:
            'attribute_exists(#cPk) AND #cPrincipal = :cPrincipal AND (attribute_not_exists(#cReported) OR #cReported <= :cNow)',
          ExpressionAttributeNames: {
            ...update.ExpressionAttributeNames,
            '#cPk': 'pk',
            '#cPrincipal': 'principalArn',
            '#cReported': 'reportedAtMs',
          },
          ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ':cPrincipal': principalArn, ':cNow': nowMs },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return toAppliance(Attributes!);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        const existing = error.Item;
        if (!existing) {
          throw new FleetRefusedError('not-registered', `appliance '${report.applianceId}' must register before it reports`);
        }
        if (existing.principalArn?.S !== principalArn) {
          throw ownedByAnother(report.applianceId);
        }
        throw new FleetRefusedError('stale-report', `a newer report for '${report.applianceId}' is already stored`);
      }
      throw error;
    }
  }

  async get(applianceId: string): Promise<RegisteredAppliance | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: itemKeys.appliance(applianceId) }),
    );
    return Item ? toAppliance(Item) : undefined;
  }

  /** Every registered appliance with its latest report: the snapshot steering indexes. */
  async loadFleet(): Promise<RegisteredAppliance[]> {
    const index = CONTROL_TABLE_SCHEMA.index;
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      IndexName: index.name,
      KeyConditionExpression: '#pk = :fleet',
      ExpressionAttributeNames: { '#pk': index.partitionKey },
      ExpressionAttributeValues: { ':fleet': INDEX_PARTITIONS.fleet },
    });
    return items.map(toAppliance);
  }

  async getManifestPointer(clusterId: string): Promise<ManifestPointer | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: itemKeys.clusterManifest(clusterId) }),
    );
    return Item
      ? { clusterId, generation: Item.generation, bucket: Item.bucket, key: Item.key, createdAt: Item.createdAt }
      : undefined;
  }

  /** Announces a cluster's new manifest; an older generation never replaces a newer one. */
  async putManifestPointer(pointer: ManifestPointer): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...itemKeys.clusterManifest(pointer.clusterId), ...pointer },
        ConditionExpression: 'attribute_not_exists(generation) OR generation < :generation',
        ExpressionAttributeValues: { ':generation': pointer.generation },
      }),
    );
  }
}

function ownedByAnother(applianceId: string): FleetRefusedError {
  return new FleetRefusedError('owned-by-another-principal', `appliance '${applianceId}' is registered to another IAM principal`);
}

function toAppliance(item: Record<string, unknown>): RegisteredAppliance {
  const titles = item.titles instanceof Set ? [...(item.titles as Set<string>)] : [];
  return {
    applianceId: item.applianceId as string,
    clusterId: item.clusterId as string,
    region: item.region as string,
    baseUrl: item.baseUrl as string,
    prefixes: (item.prefixes as string[]) ?? [],
    principalArn: item.principalArn as string,
    capacity: item.capacity as RegisteredAppliance['capacity'],
    registeredAt: item.registeredAt as string,
    reportedAtMs: item.reportedAtMs as number | undefined,
    load: item.load as number | undefined,
    errorRate: item.errorRate as number | undefined,
    reportCount: item.reportCount as number | undefined,
    inventoryDigest: item.inventoryDigest as string | undefined,
    titles,
  };
}
