import { holdingsOf } from '../../../lambda/fleet/fleet-protocol';
import { MetricRecorder } from '../../support/metric-recorder';
import { FleetStore } from '../../../lambda/fleet/fleet-store';
import { FleetCache } from '../../../lambda/playback/fleet-cache';
import { SnapshotSource } from '../../../lambda/playback/snapshot-source';
import { DEFAULT_STEERING_POLICY, FleetIndex } from '../../../lambda/playback/steering';
import { itemKeys } from '../../../lambda/shared/control-table';
import { decodeSnapshot, encodeSnapshot } from '../../../lambda/steering/snapshot';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { recordConsumedCapacity } from '../../../lambda/shared/consumed-capacity';
import { runBuilds } from '../../../lambda/steering/handler';
import { SnapshotBuilder } from '../../../lambda/steering/snapshot-builder';
import { SnapshotStore } from '../../../lambda/steering/snapshot-store';
import { DynamoDbLocal } from '../../support/dynamodb-local';
import { registration } from '../../support/fixtures';
import { leastPrivilege } from '../../support/iam/least-privilege';
import { S3Server } from '../../support/s3-server';

/**
 * The steering path at fleet scale, end to end on DynamoDB Local and the S3 server: appliances
 * report health (and holdings when they change), the region's builder writes the snapshot, and
 * play functions read it conditionally and steer from it.
 */
const TABLE = 'nearstream-steering-test';
const BUCKET = 'steering';
const KEY = 'steering/snapshot.bin';
const ROLE = 'arn:aws:sts::123456789012:assumed-role/nearstream-appliance/i-0abc';
const iam = leastPrivilege({ controlTables: [TABLE], buckets: { [BUCKET]: 'steer' } });

describe('the steering snapshot', () => {
  let dynamo: DynamoDbLocal;
  let s3server: S3Server;
  let fleet: FleetStore;
  let nowMs = Date.parse('2026-11-29T20:00:00Z');

  const report = async (applianceId: string, titles?: string[], load = 0.2) =>
    fleet.report(
      { applianceId, health: { load, egressGbps: 1, diskUsedBytes: 1e9, errorRate: 0 }, ...(titles ? { holdings: holdingsOf(1, PLACED, new Set(titles)) } : {}) },
      ROLE,
      nowMs,
    );
  const PLACED = ['movie-1', 'movie-2', 'movie-3'];
  const steer = (index: Awaited<ReturnType<SnapshotSource['load']>>['index'], titleId: string) =>
    index.steer({ clientIp: '198.51.100.20', region: 'us-east-1', titleId, sessionKey: 's-1' }, nowMs).map((choice) => choice.appliance.applianceId).sort();
  const builds = (builder: SnapshotBuilder, store: SnapshotStore) =>
    iam.actingAs('steering-snapshot', () =>
      runBuilds({ builder, store, metrics: new MetricRecorder(), intervalMs: 10_000, nowMs: () => nowMs, sleep: async () => {} }, () => 0),
    )();

  beforeAll(async () => {
    [dynamo, s3server] = await Promise.all([DynamoDbLocal.start(), S3Server.start([BUCKET])]);
    await dynamo.createControlTable(TABLE);
    // One principal registers every test appliance here.
    fleet = new FleetStore(dynamo.documentClient(), TABLE, { maxAppliancesPerPrincipal: 100 });
    for (const id of ['oca-1', 'oca-2', 'oca-3']) {
      await fleet.register(registration(id, 'isp-near', ['198.51.100.0/24']), ROLE, new Date(nowMs));
      await fleet.putPlacement(id, 1, PLACED, nowMs + 86_400_000);
    }
    await report('oca-1', ['movie-1', 'movie-2']);
    await report('oca-2', ['movie-1']);
    await report('oca-3');
  });

  afterAll(async () => {
    await Promise.all([dynamo?.stop(), s3server?.stop()]);
  });

  it('is written by the builder and steers plays in a play function that reads it', async () => {
    const result = await builds(new SnapshotBuilder(fleet, 'us-east-1'), new SnapshotStore(s3server.client(), BUCKET, KEY));
    const source = new SnapshotSource(s3server.client(), { bucket: BUCKET, key: KEY }, DEFAULT_STEERING_POLICY);
    const loaded = await iam.actingAs('play', source.load)();

    expect(result).toMatchObject({ builds: 1, failures: 0, appliances: 3 });
    expect(loaded.builtAtMs).toBe(nowMs);
    expect([steer(loaded.index, 'movie-1'), steer(loaded.index, 'movie-2'), steer(loaded.index, 'movie-3')]).toEqual([['oca-1', 'oca-2'], ['oca-1'], []]);
  });

  it('is read again only in part when only health changed: the holdings object is not read or decoded again', async () => {
    const client = s3server.client();
    const reads: string[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        reads.push(`${context.commandName} ${(args.input as { Key: string }).Key}`);
        return next(args);
      },
      { step: 'initialize', name: 'recordReads' },
    );
    const source = new SnapshotSource(client, { bucket: BUCKET, key: KEY }, DEFAULT_STEERING_POLICY);
    const first = await source.load();
    const again = await source.load();
    nowMs += 10_000;
    await report('oca-3', undefined, 0.5);
    await builds(new SnapshotBuilder(fleet, 'us-east-1'), new SnapshotStore(s3server.client(), BUCKET, KEY));
    const rebuilt = await source.load();

    expect(again).toBe(first);
    expect([rebuilt.builtAtMs, rebuilt.index]).toEqual([nowMs, first.index]);
    expect(rebuilt.index.steer({ clientIp: '198.51.100.20', region: 'us-east-1', titleId: 'movie-1', sessionKey: 's' }, nowMs).length).toBeGreaterThan(0);
    expect(reads).toEqual([`GetObjectCommand ${KEY}.health`, `GetObjectCommand ${KEY}`, `GetObjectCommand ${KEY}.health`, `GetObjectCommand ${KEY}.health`]);
  });

  it('reads registrations and holdings only when they changed, and reads nothing per play container', async () => {
    const client = dynamo.documentClient();
    const consumed = recordConsumedCapacity(client);
    const builder = new SnapshotBuilder(new FleetStore(client, TABLE), 'us-east-1');
    const first = await builder.build(nowMs);
    const second = await builder.build(nowMs + 10_000);
    nowMs += 20_000;
    await report('oca-2', ['movie-1', 'movie-3']);
    const third = await builder.build(nowMs);

    expect(first.stats).toMatchObject({ registrationsRead: 3, holdingsRead: 2, placementsRead: 2 });
    expect(second.stats).toMatchObject({ registrationsRead: 0, holdingsRead: 0, placementsRead: 0 });
    // The placement of generation 1 is kept: a node's holdings change many times against it.
    expect(third.stats).toMatchObject({ registrationsRead: 0, holdingsRead: 1, placementsRead: 0 });
    expect(Object.keys(consumed().byCommand).sort()).toEqual(['BatchGetItemCommand', 'QueryCommand']);
  });

  it('starts a cold builder from the last snapshot written, reading only the fleet\'s health', async () => {
    const store = new SnapshotStore(s3server.client(), BUCKET, KEY);
    await builds(new SnapshotBuilder(fleet, 'us-east-1'), store);
    const client = dynamo.documentClient();
    const consumed = recordConsumedCapacity(client);
    const cold = new SnapshotBuilder(new FleetStore(client, TABLE), 'us-east-1');
    cold.seed((await store.read())!);
    const { snapshot, stats } = await cold.build(nowMs);
    const source = new SnapshotSource(s3server.client(), { bucket: BUCKET, key: KEY }, DEFAULT_STEERING_POLICY);
    await store.write(snapshot);

    expect(stats).toMatchObject({ appliances: 3, registrationsRead: 0, holdingsRead: 0, placementsRead: 0 });
    expect(Object.keys(consumed().byCommand)).toEqual(['QueryCommand']);
    expect(steer((await source.load()).index, 'movie-3')).toEqual(['oca-2']);
  });

  it('leaves out appliances silent for a day, and counts holdings whose placement is missing as nothing', async () => {
    await fleet.register(registration('oca-gone', 'isp-near', ['198.51.100.0/24']), ROLE, new Date(nowMs - 3 * 86_400_000));
    await fleet.register(registration('oca-new', 'isp-near', ['198.51.100.0/24']), ROLE, new Date(nowMs));
    await fleet.report({ applianceId: 'oca-new', health: { load: 0.1, egressGbps: 1, diskUsedBytes: 1, errorRate: 0 }, holdings: holdingsOf(9, ['movie-1'], new Set(['movie-1'])) }, ROLE, nowMs);
    const warnings: unknown[] = [];
    const { snapshot } = await new SnapshotBuilder(fleet, 'us-east-1', { warn: (message, details) => warnings.push({ message, ...details }) }).build(nowMs);

    const ids = snapshot.appliances.map((appliance) => appliance.applianceId);
    expect(ids).toEqual(expect.arrayContaining(['oca-1', 'oca-new']));
    expect(ids).not.toContain('oca-gone');
    expect(snapshot.appliances.find((appliance) => appliance.applianceId === 'oca-new')!.holdings.every((word) => word === 0)).toBe(true);
    expect(warnings).toEqual([expect.objectContaining({ applianceId: 'oca-new', generation: 9 })]);
  });

  it('keeps the play function on its last good snapshot, degraded, when the object cannot be read', async () => {
    const source = new SnapshotSource(s3server.client(), { bucket: BUCKET, key: 'steering/missing.bin' }, DEFAULT_STEERING_POLICY);
    const cache = new FleetCache(source.load, { maxAgeMs: 10_000, loadTimeoutMs: 2000, retryAfterMs: 1000, policy: DEFAULT_STEERING_POLICY }, () => nowMs);
    expect(await cache.snapshot()).toMatchObject({ degraded: true });
  });

  it('stops steering to a title an appliance lost, even when its new placement is not stored', async () => {
    const store = new SnapshotStore(s3server.client(), BUCKET, KEY);
    const builder = new SnapshotBuilder(fleet, 'us-east-1', { warn: () => undefined });
    const source = new SnapshotSource(s3server.client(), { bucket: BUCKET, key: KEY }, DEFAULT_STEERING_POLICY);
    nowMs += 10_000;
    await store.write((await builder.build(nowMs)).snapshot);
    const before = steer((await source.load()).index, 'movie-2');
    // oca-1 takes generation 5, whose placement planning never stored, and holds none of it yet.
    await fleet.report({ applianceId: 'oca-1', health: { load: 0.2, egressGbps: 1, diskUsedBytes: 1, errorRate: 0 }, holdings: holdingsOf(5, ['movie-9'], new Set()) }, ROLE, nowMs);
    for (let build = 0; build < 2; build++) {
      nowMs += 10_000;
      await store.write((await builder.build(nowMs)).snapshot);
    }

    expect(before).toEqual(['oca-1']);
    expect(steer((await source.load()).index, 'movie-2')).toEqual([]);
  });

  it('goes on building when one appliance\'s placement or registration is bad, leaving out only what is bad', async () => {
    await fleet.register(registration('oca-odd', 'isp-near', ['198.51.100.0/24']), ROLE, new Date(nowMs));
    // A placement with an id no appliance could hold (planning never writes one), and a corrupt chunk for another generation.
    await fleet.putPlacement('oca-odd', 1, ['movie-1', '', 'movie-3'], nowMs + 86_400_000);
    await fleet.report({ applianceId: 'oca-odd', health: { load: 0.1, egressGbps: 1, diskUsedBytes: 1, errorRate: 0 }, holdings: holdingsOf(1, ['movie-1', 'x', 'movie-3'], new Set(['movie-1', 'x', 'movie-3'])) }, ROLE, nowMs);
    await dynamo.documentClient().send(
      new PutCommand({ TableName: TABLE, Item: { ...itemKeys.appliancePlacement('oca-3', 7, 0), applianceId: 'oca-3', generation: 7, plan: 1, chunks: 1, titles: Buffer.from('not gzip') } }),
    );
    await fleet.report({ applianceId: 'oca-3', health: { load: 0.1, egressGbps: 1, diskUsedBytes: 1, errorRate: 0 }, holdings: holdingsOf(7, ['movie-1'], new Set(['movie-1'])) }, ROLE, nowMs);
    const warnings: string[] = [];
    const { snapshot } = await new SnapshotBuilder(fleet, 'us-east-1', { warn: (message) => warnings.push(message) }).build(nowMs);
    const index = FleetIndex.fromSnapshot(decodeSnapshot(encodeSnapshot(snapshot)), DEFAULT_STEERING_POLICY);

    expect(steer(index, 'movie-3')).toContain('oca-odd');
    expect(snapshot.titles).not.toContain('');
    expect(warnings).toEqual(expect.arrayContaining([expect.stringMatching(/placement could not be read/)]));
  });
});
