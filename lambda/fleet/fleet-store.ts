import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { FLEET_SHARDS, fleetShardKey, ItemKey, itemKeys, placementPrefix, REQUEST_LIMITS } from '../shared/control-table';
import { conditionally, queryAll } from '../shared/dynamodb';
import { inParallel } from '../shared/in-parallel';
import { buildUpdate } from '../shared/update-expression';
import { HealthReport, heldPositions, Holdings, holdingsDigest, Registration } from './fleet-protocol';

/** Where a cluster's current fill manifest is, as fill planning announces it. */
export interface ManifestPointer {
  readonly clusterId: string;
  readonly generation: number;
  readonly bucket: string;
  readonly key: string;
  readonly createdAt: string;
}

/** Why the registry refused a write. */
export type FleetRefusal = 'not-registered' | 'owned-by-another-principal' | 'stale-report' | 'appliance-limit';

export interface FleetStoreOptions {
  /**
   * Appliance ids one IAM principal may register. An EC2 appliance's principal is its instance's
   * role session and a bare-metal one's its certificate's, so a node needs one.
   * @default 4
   */
  readonly maxAppliancesPerPrincipal?: number;
}

const DEFAULT_APPLIANCES_PER_PRINCIPAL = 4;

export class FleetRefusedError extends Error {
  constructor(
    readonly refusal: FleetRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'FleetRefusedError';
  }
}

/** An appliance's health item: what every 30 s report rewrites, under 1 KB. */
export interface ApplianceHealth {
  readonly applianceId: string;
  readonly clusterId: string;
  readonly region: string;
  /** Changes whenever the appliance registers again: a reader holding this version has its registration. */
  readonly registrationVersion: number;
  readonly reportedAtMs?: number;
  readonly load?: number;
  readonly egressGbps?: number;
  readonly diskUsedBytes?: number;
  readonly errorRate?: number;
  readonly reportCount?: number;
  /** The last holdings stored: which generation, how many titles, and their digest. */
  readonly holdings?: { readonly generation: number; readonly count: number; readonly digest: string };
}

/** What an appliance registered with. */
export interface ApplianceRegistration {
  readonly applianceId: string;
  readonly clusterId: string;
  readonly region: string;
  /** Where players reach it, e.g. `https://oca-1.isp.example`. */
  readonly baseUrl: string;
  readonly prefixes: readonly string[];
  /** Fill planning sizes its placements by `diskBytes`. */
  readonly capacity: { readonly egressGbps: number; readonly diskBytes: number };
  readonly principalArn: string;
  readonly registeredAt: string;
  readonly registrationVersion: number;
}

/** An appliance as planning and operators see it: its registration and its latest health. */
export interface RegisteredAppliance extends ApplianceRegistration {
  readonly reportedAtMs?: number;
  readonly load?: number;
  readonly errorRate?: number;
  readonly reportCount?: number;
  readonly holdings?: ApplianceHealth['holdings'];
}

/** A stored holdings report, with the digest it was stored under. */
export interface StoredHoldings extends Holdings {
  readonly applianceId: string;
  readonly digest: string;
}

/** How long placements outlive their manifest: a node may report holdings of a generation a little past its validity. */
const PLACEMENT_GRACE_SECONDS = 86_400;

/**
 * The fleet registry in the control table, laid out for 20,000 appliances:
 * - registration, one item per appliance (`appliance#<id>` / `registration`), written when it registers;
 * - health, under 1 KB, in one of `FLEET_SHARDS` partitions, rewritten by each 30 s report: no
 *   write funnels the fleet into one partition, and no report rewrites a large item;
 * - holdings (`appliance#<id>` / `holdings`), written only when what the node holds changed, as
 *   bits over its placement;
 * - placements (`appliance#<id>` / `placement#<generation>#<chunk>`), written by planning with each
 *   manifest, expiring after it.
 * An appliance id belongs to the IAM principal that first registered it (the health item keeps a
 * hash of the principal, so the ownership check costs no large item); report counts are atomic
 * adds, and a report older than the stored one is refused rather than allowed to roll it back.
 */
export class FleetStore {
  private readonly maxAppliancesPerPrincipal: number;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: FleetStoreOptions = {},
  ) {
    this.maxAppliancesPerPrincipal = options.maxAppliancesPerPrincipal ?? DEFAULT_APPLIANCES_PER_PRINCIPAL;
  }

  async register(registration: Registration, principalArn: string, now: Date): Promise<RegisteredAppliance> {
    const version = now.getTime();
    const fields = {
      applianceId: registration.applianceId,
      clusterId: registration.clusterId,
      region: registration.region,
      baseUrl: registration.baseUrl,
      capacity: registration.capacity,
      prefixes: registration.prefixes,
      principalArn,
      registrationVersion: version,
      updatedAt: now.toISOString(),
    };
    const stored = await this.storeRegistration(fields, now);
    // The health item follows the registration: reports are refused until it exists.
    const health = buildUpdate({
      set: {
        applianceId: registration.applianceId,
        clusterId: registration.clusterId,
        region: registration.region,
        principalHash: principalHash(principalArn),
        registrationVersion: version,
      },
    });
    // Of two registrations racing, the later version stays (the builder reads the registration whose version the health item names).
    const { Attributes } = await this.client
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: itemKeys.applianceHealth(registration.applianceId),
          ...health,
          ConditionExpression: 'attribute_not_exists(#cVersion) OR #cVersion <= :cVersion',
          ExpressionAttributeNames: { ...health.ExpressionAttributeNames, '#cVersion': 'registrationVersion' },
          ExpressionAttributeValues: { ...health.ExpressionAttributeValues, ':cVersion': version },
          ReturnValues: 'ALL_NEW',
        }),
      )
      .catch(async (error: unknown) => {
        if (error instanceof ConditionalCheckFailedException) {
          const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: itemKeys.applianceHealth(registration.applianceId) }));
          return { Attributes: Item };
        }
        throw error;
      });
    return { ...toRegistration(stored), ...healthFigures(toHealth(Attributes!)) };
  }

  /**
   * An id the principal already holds is updated in place; a new one is created together with one
   * more on the principal's count, which may not pass `maxAppliancesPerPrincipal` (a compromised
   * node cannot flood the registry, and every steering snapshot, with ids of its own).
   */
  private async storeRegistration(fields: { readonly applianceId: string; readonly principalArn: string } & Record<string, unknown>, now: Date): Promise<Record<string, unknown>> {
    const key = itemKeys.applianceRegistration(fields.applianceId);
    for (let attempt = 0; ; attempt++) {
      try {
        const update = buildUpdate({ set: fields });
        const { Attributes } = await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: key,
            ...update,
            ConditionExpression: 'attribute_exists(#cPrincipal) AND #cPrincipal = :cPrincipal',
            ExpressionAttributeNames: { ...update.ExpressionAttributeNames, '#cPrincipal': 'principalArn' },
            ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ':cPrincipal': fields.principalArn },
            ReturnValues: 'ALL_NEW',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return Attributes!;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) {
          throw error;
        }
        if (error.Item) {
          throw ownedByAnother(fields.applianceId);
        }
      }
      const item = { ...key, ...fields, registeredAt: now.toISOString() };
      try {
        await this.client.send(
          new TransactWriteCommand({
            TransactItems: [
              { Put: { TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } },
              {
                Update: {
                  TableName: this.tableName,
                  Key: itemKeys.principalAppliances(principalHash(fields.principalArn)),
                  UpdateExpression: 'ADD #count :one',
                  ConditionExpression: 'attribute_not_exists(#count) OR #count < :most',
                  ExpressionAttributeNames: { '#count': 'appliances' },
                  ExpressionAttributeValues: { ':one': 1, ':most': this.maxAppliancesPerPrincipal },
                },
              },
            ],
          }),
        );
        return item;
      } catch (error) {
        const [created, counted] = error instanceof TransactionCanceledException ? (error.CancellationReasons ?? []) : [];
        if (counted?.Code === 'ConditionalCheckFailed') {
          throw new FleetRefusedError(
            'appliance-limit',
            `this IAM principal has registered ${this.maxAppliancesPerPrincipal} appliances, the most one principal may; '${fields.applianceId}' was not registered`,
          );
        }
        // Another registration of the same id won the race: update it, as the owner or refused.
        if (created?.Code !== 'ConditionalCheckFailed' || attempt > 0) {
          throw error;
        }
      }
    }
  }

  /**
   * Stores a report: the health item always (one small write), the holdings item only when the
   * report carries holdings. A holdings write never replaces newer holdings.
   */
  async report(report: HealthReport, principalArn: string, nowMs: number): Promise<ApplianceHealth> {
    const digest = report.holdings && holdingsDigest(report.holdings);
    const update = buildUpdate({
      set: {
        load: report.health.load,
        egressGbps: report.health.egressGbps,
        diskUsedBytes: report.health.diskUsedBytes,
        errorRate: report.health.errorRate,
        reportedAtMs: nowMs,
        ...(report.holdings ? { holdingsGeneration: report.holdings.generation, holdingsCount: report.holdings.count, holdingsDigest: digest } : {}),
      },
      add: { reportCount: 1 },
    });
    let health: ApplianceHealth;
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: itemKeys.applianceHealth(report.applianceId),
          ...update,
          ConditionExpression:
            'attribute_exists(#cPrincipal) AND #cPrincipal = :cPrincipal AND (attribute_not_exists(#cReported) OR #cReported <= :cNow)',
          ExpressionAttributeNames: { ...update.ExpressionAttributeNames, '#cPrincipal': 'principalHash', '#cReported': 'reportedAtMs' },
          ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ':cPrincipal': principalHash(principalArn), ':cNow': nowMs },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      health = toHealth(Attributes!);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        const existing = error.Item;
        if (!existing?.principalHash) {
          throw new FleetRefusedError('not-registered', `appliance '${report.applianceId}' must register before it reports`);
        }
        if (existing.principalHash.S !== principalHash(principalArn)) {
          throw ownedByAnother(report.applianceId);
        }
        throw new FleetRefusedError('stale-report', `a newer report for '${report.applianceId}' is already stored`);
      }
      throw error;
    }
    if (report.holdings) {
      await conditionally(
        this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: {
              ...itemKeys.applianceHoldings(report.applianceId),
              applianceId: report.applianceId,
              generation: report.holdings.generation,
              held: Buffer.from(report.holdings.held, 'base64url'),
              count: report.holdings.count,
              digest,
              reportedAtMs: nowMs,
            },
            ConditionExpression: 'attribute_not_exists(reportedAtMs) OR reportedAtMs <= :now',
            ExpressionAttributeValues: { ':now': nowMs },
          }),
        ),
      );
    }
    return health;
  }

  async get(applianceId: string): Promise<ApplianceRegistration | undefined> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: itemKeys.applianceRegistration(applianceId) }));
    return Item ? toRegistration(Item) : undefined;
  }

  /** One appliance's registration and latest health, as `loadFleet` has it. */
  async describe(applianceId: string): Promise<RegisteredAppliance | undefined> {
    const [registration, health] = await Promise.all([
      this.get(applianceId),
      this.client.send(new GetCommand({ TableName: this.tableName, Key: itemKeys.applianceHealth(applianceId) })),
    ]);
    return registration && { ...registration, ...(health.Item ? healthFigures(toHealth(health.Item)) : {}) };
  }

  /**
   * The titles an appliance's stored holdings say it holds, read against their placement; empty
   * when it reported none or the placement is not stored.
   */
  async heldTitles(applianceId: string): Promise<string[]> {
    const [holdings] = await this.getHoldings([applianceId]);
    const placement = holdings && (await this.getPlacement(applianceId, holdings.generation));
    return placement ? heldPositions(holdings, placement.length).map((position) => placement[position]) : [];
  }

  /** Every appliance's health item, shard by shard (the shards read in parallel). */
  async readHealth(): Promise<ApplianceHealth[]> {
    const shards = await Promise.all(
      Array.from({ length: FLEET_SHARDS }, (_, shard) =>
        queryAll(this.client, {
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': fleetShardKey(shard) },
        }),
      ),
    );
    return shards.flat().map(toHealth);
  }

  /** The registrations of these appliances (those that have one). */
  async getRegistrations(applianceIds: readonly string[]): Promise<ApplianceRegistration[]> {
    return (await this.batchGet(applianceIds.map((id) => itemKeys.applianceRegistration(id)))).map(toRegistration);
  }

  /** The stored holdings of these appliances (those that reported any). */
  async getHoldings(applianceIds: readonly string[]): Promise<StoredHoldings[]> {
    return (await this.batchGet(applianceIds.map((id) => itemKeys.applianceHoldings(id)))).map((item) => ({
      applianceId: item.applianceId as string,
      generation: item.generation as number,
      held: Buffer.from(item.held as Uint8Array).toString('base64url'),
      count: item.count as number,
      digest: item.digest as string,
    }));
  }

  /** Every registered appliance with its latest health: what nightly planning and operators read. */
  async loadFleet(): Promise<RegisteredAppliance[]> {
    const health = await this.readHealth();
    const registrations = new Map((await this.getRegistrations(health.map((item) => item.applianceId))).map((item) => [item.applianceId, item]));
    return health.flatMap((item) => {
      const registration = registrations.get(item.applianceId);
      return registration ? [{ ...registration, ...healthFigures(item) }] : [];
    });
  }

  /**
   * Stores the titles planning placed on an appliance in one generation, in placement order,
   * gzip'd in chunks so any placement fits; they expire a day after the manifest does.
   */
  async putPlacement(applianceId: string, generation: number, titles: readonly string[], validUntilMs: number): Promise<void> {
    const chunks = placementChunks(titles);
    const expiresAt = Math.ceil(validUntilMs / 1000) + PLACEMENT_GRACE_SECONDS;
    for (const [chunk, bytes] of chunks.entries()) {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          // The plan's validity end tells two plans of one generation apart (an appliance that moved cluster, a rerun).
          Item: { ...itemKeys.appliancePlacement(applianceId, generation, chunk), applianceId, generation, plan: validUntilMs, chunks: chunks.length, titles: bytes, expiresAt },
        }),
      );
    }
  }

  /** The titles placed on an appliance in one generation, in order; undefined when not stored (or not whole). */
  async getPlacement(applianceId: string, generation: number): Promise<string[] | undefined> {
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': itemKeys.appliancePlacement(applianceId, generation, 0).pk, ':prefix': placementPrefix(generation) },
    });
    // The newest plan whose chunks are all there; chunks of another plan are never mixed in.
    const plans = [...new Set(items.map((item) => item.plan as number))].sort((a, b) => b - a);
    const whole = plans
      .map((plan) => items.filter((item) => item.plan === plan))
      .find((chunks) => chunks.length === chunks[0].chunks && chunks.every((item, index) => String(item.sk).endsWith(`#${String(index).padStart(4, '0')}`)));
    if (!whole) {
      return undefined;
    }
    return whole.flatMap((item) => {
      const text = gunzipSync(item.titles as Uint8Array).toString('utf8');
      return text === '' ? [] : text.split('\n');
    });
  }

  async getManifestPointer(clusterId: string): Promise<ManifestPointer | undefined> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: itemKeys.clusterManifest(clusterId) }));
    return Item ? { clusterId, generation: Item.generation, bucket: Item.bucket, key: Item.key, createdAt: Item.createdAt } : undefined;
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

  /** BatchGetItem in pages of 100, retrying what DynamoDB left unprocessed. */
  private async batchGet(keys: readonly ItemKey[]): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    const pages: ItemKey[][] = [];
    for (let start = 0; start < keys.length; start += 100) {
      pages.push(keys.slice(start, start + 100));
    }
    await inParallel(pages, 16, async (page) => {
      for (let pending: Record<string, unknown>[] = page.map((key) => ({ ...key })), attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) {
          await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** attempt)));
        }
        const { Responses, UnprocessedKeys } = await this.client.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending } } }));
        items.push(...(Responses?.[this.tableName] ?? []));
        pending = UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    });
    return items;
  }
}

/** A placement's titles, newline-joined and gzip'd, cut so no chunk passes `placementChunkBytes`. */
function placementChunks(titles: readonly string[]): Buffer[] {
  const chunks: Buffer[] = [];
  let start = 0;
  do {
    // Ids are at most 64 characters: this many always gzip within a chunk, whatever they are.
    const end = Math.min(titles.length, start + Math.floor(REQUEST_LIMITS.placementChunkBytes / (REQUEST_LIMITS.idChars + 1)) - 64);
    chunks.push(gzipSync(titles.slice(start, end).join('\n')));
    start = end;
  } while (start < titles.length);
  return chunks;
}

/** What the health item stores of the principal: enough to tell owners apart, and small. */
function principalHash(principalArn: string): string {
  return createHash('sha256').update(principalArn).digest('base64url').slice(0, 22);
}

function ownedByAnother(applianceId: string): FleetRefusedError {
  return new FleetRefusedError('owned-by-another-principal', `appliance '${applianceId}' is registered to another IAM principal`);
}

function toRegistration(item: Record<string, unknown>): ApplianceRegistration {
  return {
    applianceId: item.applianceId as string,
    clusterId: item.clusterId as string,
    region: item.region as string,
    baseUrl: item.baseUrl as string,
    prefixes: (item.prefixes as string[]) ?? [],
    capacity: item.capacity as ApplianceRegistration['capacity'],
    principalArn: item.principalArn as string,
    registeredAt: item.registeredAt as string,
    registrationVersion: item.registrationVersion as number,
  };
}

function toHealth(item: Record<string, unknown>): ApplianceHealth {
  return {
    applianceId: item.applianceId as string,
    clusterId: item.clusterId as string,
    region: item.region as string,
    registrationVersion: item.registrationVersion as number,
    reportedAtMs: item.reportedAtMs as number | undefined,
    load: item.load as number | undefined,
    egressGbps: item.egressGbps as number | undefined,
    diskUsedBytes: item.diskUsedBytes as number | undefined,
    errorRate: item.errorRate as number | undefined,
    reportCount: item.reportCount as number | undefined,
    holdings:
      item.holdingsDigest === undefined
        ? undefined
        : { generation: item.holdingsGeneration as number, count: item.holdingsCount as number, digest: item.holdingsDigest as string },
  };
}

function healthFigures(health: ApplianceHealth): Omit<RegisteredAppliance, keyof ApplianceRegistration> {
  return { reportedAtMs: health.reportedAtMs, load: health.load, errorRate: health.errorRate, reportCount: health.reportCount, holdings: health.holdings };
}
