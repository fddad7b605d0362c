import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Codec } from '../catalog/catalog';
import { itemKeys } from '../shared/control-table';
import { conditionally } from '../shared/dynamodb';
import { isPlanName, PlanName } from './entitlements';

/** A play the control plane authorized. */
export interface PlaybackSession {
  readonly sessionId: string;
  readonly accountId: string;
  readonly titleId: string;
  /** The stream slot the session holds while its lease lasts. */
  readonly slot: number;
  /** First-choice cluster, for per-cluster demand; absent when the origin tier served. */
  readonly clusterId?: string;
  readonly createdAt: string;
  /** Epoch seconds after which the session's URLs stop working. */
  readonly expiresAtEpochSeconds: number;
  /**
   * The codec the play chose and the tallest picture it may fetch: what a license for the
   * session may unlock. Absent on sessions recorded before licenses were issued, which get none.
   * @default - not recorded
   */
  readonly codec?: Codec;
  readonly maxHeight?: number;
  /** The plan's height cap, which licenses grant keys by (absent on sessions before licenses). */
  readonly planMaxHeight?: number;
}

/** Who holds one of an account's stream slots, and until when. */
export interface StreamSlotHolder {
  readonly sessionId: string;
  readonly leaseUntilMs: number;
}

export interface WatchPosition {
  readonly titleId: string;
  readonly positionSeconds: number;
  readonly updatedAt: string;
}

/** Slots and sessions linger a day past their end for support, then TTL removes them. */
const RETENTION_SECONDS = 24 * 60 * 60;

/**
 * A viewer account's state in the control table: its plan, its stream slots, its sessions and
 * where it stopped watching. The concurrent-stream limit is enforced with one conditional write
 * per slot, so two plays racing for the last slot cannot both win it.
 */
export class ViewerStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * The account's plan and which of its stream slots live sessions hold, in one read of the
   * account's plan and slot items (they sort next to each other: `plan`, `slot#0`, `slot#1`...).
   */
  async getPlanAndHeldSlots(accountId: string, nowMs: number): Promise<{ plan?: PlanName; heldSlots: ReadonlySet<number> }> {
    const key = itemKeys.plan(accountId);
    const { Items = [] } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :plan AND :lastSlot',
        ExpressionAttributeValues: { ':pk': key.pk, ':plan': key.sk, ':lastSlot': 'slot#~' },
      }),
    );
    const planItem = Items.find((item) => item.sk === key.sk);
    const heldSlots = new Set<number>();
    for (const item of Items) {
      if (String(item.sk).startsWith('slot#') && item.leaseUntilMs > nowMs) {
        heldSlots.add(Number(String(item.sk).slice('slot#'.length)));
      }
    }
    return { plan: isPlanName(planItem?.plan) ? planItem.plan : undefined, heldSlots };
  }

  async putPlan(accountId: string, plan: PlanName): Promise<void> {
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: { ...itemKeys.plan(accountId), plan } }));
  }

  /**
   * Claims the first free slot among `maxStreams` for `sessionId` until `leaseUntilMs`. A slot is
   * free when it was never used or its lease ran out; each is taken with a conditional write, so
   * two plays racing for the last one cannot both win it. Slots in `likelyHeld` (as a read just
   * before found them) are tried last: every slot is still tried, so a stale hint costs a round
   * trip, never a wrong answer. Returns the slot, or undefined when all are held by live sessions.
   */
  async claimStreamSlot(
    accountId: string,
    maxStreams: number,
    sessionId: string,
    nowMs: number,
    leaseUntilMs: number,
    likelyHeld: ReadonlySet<number> = new Set(),
  ): Promise<number | undefined> {
    const slots = Array.from({ length: maxStreams }, (_, slot) => slot);
    for (const slot of [...slots.filter((s) => !likelyHeld.has(s)), ...slots.filter((s) => likelyHeld.has(s))]) {
      const claimed = await conditionally(
        this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: {
              ...itemKeys.streamSlot(accountId, slot),
              sessionId,
              leaseUntilMs,
              expiresAt: Math.floor(leaseUntilMs / 1000) + RETENTION_SECONDS,
            },
            ConditionExpression: 'attribute_not_exists(pk) OR leaseUntilMs <= :now',
            ExpressionAttributeValues: { ':now': nowMs },
          }),
        ),
      );
      if (claimed) {
        return slot;
      }
    }
    return undefined;
  }

  /** Extends a session's slot lease; false when the slot has since gone to another session. */
  async extendLease(accountId: string, slot: number, sessionId: string, leaseUntilMs: number): Promise<boolean> {
    return conditionally(
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: itemKeys.streamSlot(accountId, slot),
          UpdateExpression: 'SET leaseUntilMs = :until, expiresAt = :expires',
          ConditionExpression: 'sessionId = :session',
          ExpressionAttributeValues: {
            ':until': leaseUntilMs,
            ':expires': Math.floor(leaseUntilMs / 1000) + RETENTION_SECONDS,
            ':session': sessionId,
          },
        }),
      ),
    );
  }

  /** Frees a session's slot at once, if the session still holds it. */
  async releaseSlot(accountId: string, slot: number, sessionId: string): Promise<void> {
    await conditionally(
      this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: itemKeys.streamSlot(accountId, slot),
          ConditionExpression: 'sessionId = :session',
          ExpressionAttributeValues: { ':session': sessionId },
        }),
      ),
    );
  }

  /**
   * Who holds the slot now, read strongly consistent: a license must see the lease telemetry
   * renewed a moment ago, and a takeover the moment it happened. Undefined when the slot is free.
   */
  async getStreamSlot(accountId: string, slot: number): Promise<StreamSlotHolder | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: itemKeys.streamSlot(accountId, slot), ConsistentRead: true }),
    );
    return Item ? { sessionId: String(Item.sessionId), leaseUntilMs: Number(Item.leaseUntilMs) } : undefined;
  }

  async putSession(session: PlaybackSession): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...itemKeys.session(session.sessionId),
          ...session,
          expiresAt: session.expiresAtEpochSeconds + RETENTION_SECONDS,
        },
      }),
    );
  }

  /**
   * The session, if recorded. `consistent` reads it strongly consistent, for a caller that may come
   * right after the play that wrote it (a player asks for its license within a second).
   */
  async getSession(sessionId: string, options: { consistent?: boolean } = {}): Promise<PlaybackSession | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: itemKeys.session(sessionId), ConsistentRead: options.consistent }),
    );
    if (!Item) {
      return undefined;
    }
    const { pk: _pk, sk: _sk, expiresAt: _expiresAt, ...session } = Item;
    return session as PlaybackSession;
  }

  /** Remembers where the viewer is in a title, unless a newer position is already stored. */
  async putWatchPosition(accountId: string, position: WatchPosition): Promise<void> {
    await conditionally(
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...itemKeys.watchPosition(accountId, position.titleId), ...position },
          ConditionExpression: 'attribute_not_exists(updatedAt) OR updatedAt <= :at',
          ExpressionAttributeValues: { ':at': position.updatedAt },
        }),
      ),
    );
  }

  /** Titles the viewer started, most recently watched first. */
  async continueWatching(accountId: string, limit: number): Promise<WatchPosition[]> {
    const { pk } = itemKeys.watchPosition(accountId, '');
    const result = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :watch)',
        ExpressionAttributeValues: { ':pk': pk, ':watch': 'watch#' },
      }),
    );
    return (result.Items ?? [])
      .map((item) => ({ titleId: item.titleId, positionSeconds: item.positionSeconds, updatedAt: item.updatedAt }))
      .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt))
      .slice(0, limit);
  }
}
