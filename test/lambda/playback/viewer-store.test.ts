import { ViewerStore } from '../../../lambda/playback/viewer-store';
import { DynamoDbLocal } from '../../support/dynamodb-local';

const TABLE = 'nearstream-viewer-store';
const NOW = Date.parse('2026-11-21T20:00:00Z');
const LEASE_UNTIL = NOW + 300_000;

describe('a viewer account\'s plan and stream slots in DynamoDB Local', () => {
  let dynamo: DynamoDbLocal;
  let viewers: ViewerStore;

  beforeAll(async () => {
    dynamo = await DynamoDbLocal.start();
    await dynamo.createControlTable(TABLE);
    viewers = new ViewerStore(dynamo.documentClient(), TABLE);
  });

  afterAll(async () => {
    await dynamo?.stop();
  });

  it('reads the plan and the slots live sessions hold in one query, passing over run-out leases and watch positions', async () => {
    await viewers.putPlan('alice', 'premium');
    await viewers.claimStreamSlot('alice', 4, 'live-1', NOW, LEASE_UNTIL);
    await viewers.claimStreamSlot('alice', 4, 'live-2', NOW, LEASE_UNTIL);
    expect(await viewers.claimStreamSlot('alice', 4, 'run-out', NOW - 600_000, NOW - 1)).toBe(2);
    await viewers.putWatchPosition('alice', { titleId: 'movie-1', positionSeconds: 60, updatedAt: new Date(NOW).toISOString() });

    const account = await viewers.getPlanAndHeldSlots('alice', NOW);

    expect({ plan: account.plan, heldSlots: [...account.heldSlots].sort() }).toEqual({ plan: 'premium', heldSlots: [0, 1] });
  });

  it('says there is no plan for an account without one, and no held slots', async () => {
    expect(await viewers.getPlanAndHeldSlots('nobody', NOW)).toEqual({ plan: undefined, heldSlots: new Set() });
  });

  it('claims a slot the read found free before the ones it found held', async () => {
    await viewers.claimStreamSlot('bob', 4, 'first', NOW, LEASE_UNTIL);
    await viewers.claimStreamSlot('bob', 4, 'second', NOW, LEASE_UNTIL);
    const { heldSlots } = await viewers.getPlanAndHeldSlots('bob', NOW);

    expect(await viewers.claimStreamSlot('bob', 4, 'third', NOW, LEASE_UNTIL, heldSlots)).toBe(2);
  });

  it('still finds the free slot when the read was stale, and refuses when every slot is held whatever the read said', async () => {
    await viewers.claimStreamSlot('carol', 2, 'first', NOW, LEASE_UNTIL);
    const staleRead = new Set([1]);

    const second = await viewers.claimStreamSlot('carol', 2, 'second', NOW, LEASE_UNTIL, staleRead);
    const third = await viewers.claimStreamSlot('carol', 2, 'third', NOW, LEASE_UNTIL, new Set());

    expect([second, third]).toEqual([1, undefined]);
  });

  it('lets exactly one of several plays racing for the last slot win it, whatever each read', async () => {
    await viewers.claimStreamSlot('dave', 2, 'first', NOW, LEASE_UNTIL);
    const { heldSlots } = await viewers.getPlanAndHeldSlots('dave', NOW);

    const claims = await Promise.all(Array.from({ length: 5 }, (_, i) => viewers.claimStreamSlot('dave', 2, `racer-${i}`, NOW, LEASE_UNTIL, heldSlots)));

    expect(claims.filter((slot) => slot !== undefined)).toEqual([1]);
  });

  it('says which session holds a slot and until when, and that a slot never claimed is free', async () => {
    await viewers.claimStreamSlot('erin', 2, 'erin-play', NOW, LEASE_UNTIL);
    await viewers.extendLease('erin', 0, 'erin-play', LEASE_UNTIL + 60_000);

    expect([await viewers.getStreamSlot('erin', 0), await viewers.getStreamSlot('erin', 1)]).toEqual([
      { sessionId: 'erin-play', leaseUntilMs: LEASE_UNTIL + 60_000 },
      undefined,
    ]);
  });

  it('reads back a session with the codec and height it was granted, and one recorded before sessions kept them', async () => {
    const session = { sessionId: 'frank-play', accountId: 'frank', titleId: 'movie-1', slot: 0, createdAt: new Date(NOW).toISOString(), expiresAtEpochSeconds: NOW / 1000 + 3600 };
    await viewers.putSession({ ...session, codec: 'hvc1', maxHeight: 1080 });
    await viewers.putSession({ ...session, sessionId: 'frank-old-play' });

    expect(await viewers.getSession('frank-play', { consistent: true })).toEqual({ ...session, codec: 'hvc1', maxHeight: 1080 });
    expect(await viewers.getSession('frank-old-play')).toEqual({ ...session, sessionId: 'frank-old-play' });
  });
});
