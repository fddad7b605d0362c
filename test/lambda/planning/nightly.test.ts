import { createHash } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CatalogTitle } from '../../../lambda/catalog/catalog';
import { CatalogStore } from '../../../lambda/catalog/catalog-store';
import { FleetStore } from '../../../lambda/fleet/fleet-store';
import { planRegion as planRegionUnchecked, NightlyDependencies } from '../../../lambda/planning/nightly';
import { TitleInventory } from '../../../lambda/planning/title-inventory';
import { objectsForAppliance, verifyManifest } from '../../../lambda/shared/fill-manifest';
import { logger } from '../../../lambda/shared/powertools';
import { assembleInventory, InventoryRecord, inventoryKey } from '../../../lambda/shared/title-inventory';
import { DemandStore } from '../../../lambda/telemetry/demand-store';
import { SlowPath } from '../../../local/services/slow-path';
import { DynamoDbLocal } from '../../support/dynamodb-local';
import { catalogTitle, registration, TEST_KEYRING } from '../../support/fixtures';
import { leastPrivilege } from '../../support/iam/least-privilege';
import { S3Server } from '../../support/s3-server';

const TABLE = 'nearstream-planning-test';
const BUCKET = 'nearstream-test-origin';
const NOW = Date.parse('2026-11-21T01:00:00Z');
const ROLE = 'arn:aws:sts::123456789012:assumed-role/nearstream-appliance/i-0abc';
const iam = leastPrivilege({ controlTables: [TABLE], buckets: { [BUCKET]: 'origin' }, treatsForbiddenAsMissing: ['fill-planning'] });
/** The nightly run, its AWS calls checked against the planner's role. */
const planRegion = iam.actingAs('fill-planning', planRegionUnchecked);
const TITLE_BYTES = catalogTitle('t1').renditions.reduce((sum, rendition) => sum + rendition.bytes, 0);

/** A title as the encoding workflow leaves it: available, its inventory recorded. */
function encodedTitle(titleId: string, inventory: InventoryRecord): CatalogTitle {
  return catalogTitle(titleId, {
    encoding: {
      ladder: 'fixed',
      source: { bucket: 'source', key: `${titleId}.mov`, bytes: 1 },
      jobs: { fixed: { status: 'COMPLETE' }, av1: { status: 'COMPLETE' } },
      inventory,
    },
  });
}

describe('the nightly plan against DynamoDB Local and an S3 server', () => {
  let dynamo: DynamoDbLocal;
  let s3server: S3Server;
  let s3: S3Client;
  let deps: NightlyDependencies;
  const segments = new Map<string, Buffer>();
  const inventories = new Map<string, string>();
  /** Every S3 request the planner's client made, by command and key. */
  const requests: { command: string; key?: string }[] = [];

  beforeAll(async () => {
    [dynamo, s3server] = await Promise.all([DynamoDbLocal.start(), S3Server.start([BUCKET])]);
    await dynamo.createControlTable(TABLE);
    s3 = s3server.client();
    const client = dynamo.documentClient();
    const fleet = new FleetStore(client, TABLE);
    const catalog = new CatalogStore(client, TABLE);
    const demand = new DemandStore(client, TABLE);

    // Two appliances in isp-a with room for two titles each (less 10% headroom); one in another region.
    for (const id of ['oca-1', 'oca-2']) {
      await fleet.register({ ...registration(id, 'isp-a', ['198.51.100.0/24']), capacity: { egressGbps: 40, diskBytes: Math.ceil(TITLE_BYTES * 2.5) } }, ROLE, new Date(NOW));
    }
    await fleet.register(registration('oca-w', 'isp-w', ['203.0.113.0/24'], 'us-west-2'), ROLE, new Date(NOW));
    for (const titleId of ['t1', 't2', 't3', 't4']) {
      const digests = new Map<string, { key: string; size: number; sha256: string }>();
      for (const name of ['avc1/index.m3u8', 'avc1/seg-1.m4s', 'hvc1/seg-1.m4s']) {
        const key = `titles/${titleId}/${name}`;
        const body = Buffer.from(`${titleId}/${name} `.repeat(50));
        segments.set(key, body);
        digests.set(key, { key, size: body.length, sha256: createHash('sha256').update(body).digest('hex') });
        await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
      }
      // What the encoding workflow wrote when the title's last job completed.
      const { body, record } = assembleInventory(titleId, [...digests.values()], digests);
      inventories.set(titleId, body);
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: record.key, Body: body }));
      await catalog.put(encodedTitle(titleId, record));
    }
    await demand.addStarts('2026-11-20', 'us-east-1', [
      { titleId: 't1', clusterId: 'isp-a', starts: 900 },
      { titleId: 't2', clusterId: 'isp-a', starts: 60 },
      { titleId: 't3', clusterId: 'isp-a', starts: 40 },
    ]);
    await demand.addStarts('2026-11-20', 'us-west-2', [{ titleId: 't4', clusterId: 'isp-w', starts: 500 }]);

    const plannerS3 = s3server.client();
    plannerS3.middlewareStack.add(
      (next, context) => async (args) => {
        requests.push({ command: context.commandName!, key: (args.input as { Key?: string }).Key });
        return next(args);
      },
      { step: 'initialize', name: 'recordRequests' },
    );
    const inventory = new TitleInventory(plannerS3, BUCKET);
    deps = {
      loadFleet: () => fleet.loadFleet(),
      availableTitles: async () => (await catalog.list(100)).titles,
      clusterStarts: (day, clusterId) => demand.topTitlesInCluster(day, clusterId, 1000),
      titleObjects: (title, signal) => inventory.objects(title, signal),
      currentPointer: (clusterId) => fleet.getManifestPointer(clusterId),
      readManifest: async (key) => (await plannerS3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToString('utf8'),
      putManifest: async (key, body) => {
        await plannerS3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
      },
      putPlacement: (applianceId, generation, titles, validUntilMs) => fleet.putPlacement(applianceId, generation, titles, validUntilMs),
      announce: (pointer) => fleet.putManifestPointer(pointer),
      keyring: async () => TEST_KEYRING,
      region: 'us-east-1',
      originBucket: BUCKET,
      nowMs: NOW,
      historyDays: 14,
      validForHours: 48,
      inventoryDeadlineMs: Date.now() + 60_000,
      clock: Date.now,
    };
  });

  afterAll(async () => {
    s3?.destroy();
    await Promise.all([dynamo?.stop(), s3server?.stop()]);
  });

  beforeEach(() => {
    requests.length = 0;
    jest.restoreAllMocks();
  });

  it('writes a signed manifest per cluster of its region from the titles\' inventories, reading no other object, then announces it', async () => {
    const planned = await planRegion(deps);

    expect(planned).toEqual([{ clusterId: 'isp-a', generation: 1, key: 'manifests/isp-a/00000001.json', titles: 3, objects: 9 }]);
    const text = (await s3server.read(BUCKET, 'manifests/isp-a/00000001.json')).toString('utf8');
    const pointer = await new FleetStore(dynamo.documentClient(), TABLE).getManifestPointer('isp-a');
    expect(pointer).toMatchObject({ generation: 1, bucket: BUCKET, key: 'manifests/isp-a/00000001.json' });

    const expectations = { keyring: TEST_KEYRING, clusterId: 'isp-a', nowMs: NOW + 3_600_000, diskBudgetBytes: Math.ceil(TITLE_BYTES * 2.5) };
    const onOne = verifyManifest(text, { ...expectations, applianceId: 'oca-1' });
    // The hot title is on both appliances; the others once each; t4 has no demand here.
    expect(Object.values(onOne.placements!).filter((titles) => titles.includes('t1'))).toHaveLength(2);
    expect(Object.values(onOne.placements!).flat().sort()).toEqual(['t1', 't1', 't2', 't3']);
    expect(onOne.objects.some((object) => object.titleId === 't4')).toBe(false);
    for (const object of onOne.objects) {
      expect({ key: object.key, sha256: object.sha256, size: object.size }).toEqual({
        key: object.key,
        sha256: createHash('sha256').update(segments.get(object.key)!).digest('hex'),
        size: segments.get(object.key)!.length,
      });
    }
    expect(objectsForAppliance(onOne, 'oca-2').length).toBeGreaterThan(0);
    // Each appliance's placement is stored in the table, in the manifest's order, for its holdings reports.
    for (const [applianceId, titles] of Object.entries(onOne.placements!)) {
      expect(await new FleetStore(dynamo.documentClient(), TABLE).getPlacement(applianceId, 1)).toEqual(titles);
    }

    // It read the three placed titles' inventories and wrote one manifest: no listing, no encoded object.
    expect(requests.filter((request) => request.command !== 'PutObjectCommand')).toEqual(
      ['t1', 't2', 't3'].map((titleId) => ({ command: 'GetObjectCommand', key: inventoryKey(titleId) })),
    );
    expect(requests.filter((request) => request.command === 'PutObjectCommand').map((request) => request.key)).toEqual(['manifests/isp-a/00000001.json']);
  });

  it('plans the next generation on the next run, reading the current manifest to know what the cluster holds', async () => {
    const planned = await planRegion({ ...deps, nowMs: NOW + 86_400_000 });
    expect(planned.map((cluster) => [cluster.clusterId, cluster.generation])).toEqual([['isp-a', 2]]);
    expect(requests).toContainEqual({ command: 'GetObjectCommand', key: 'manifests/isp-a/00000001.json' });
    expect(await s3server.keys(BUCKET, 'manifests/isp-a/')).toEqual(['manifests/isp-a/00000001.json', 'manifests/isp-a/00000002.json']);
  });

  it('leaves out, naming it, a title whose inventory has not reached this origin or is not the one the catalog recorded', async () => {
    const warn = jest.spyOn(logger, 'warn');
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: inventoryKey('t2') }));
    const t3 = inventories.get('t3')!;
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: inventoryKey('t3'), Body: t3.slice(0, t3.lastIndexOf(',{')) + ']' }));
    try {
      const planned = await planRegion({ ...deps, nowMs: NOW + 30 * 3_600_000 });

      expect(planned).toEqual([{ clusterId: 'isp-a', generation: 3, key: 'manifests/isp-a/00000003.json', titles: 1, objects: 3 }]);
      const manifest = JSON.parse((await s3server.read(BUCKET, 'manifests/isp-a/00000003.json')).toString('utf8'));
      expect([...new Set(Object.values(manifest.placements as Record<string, string[]>).flat())]).toEqual(['t1']);
      expect(warn).toHaveBeenCalledWith("title left out of tonight's plan", {
        titleId: 't2',
        reason: `titles/t2/inventory.json is not in s3://${BUCKET} (NoSuchKey): not written or not replicated yet`,
      });
      expect(warn).toHaveBeenCalledWith("title left out of tonight's plan", {
        titleId: 't3',
        reason: expect.stringMatching(/^titles\/t3\/inventory\.json is not the inventory the catalog recorded \(.*\): a partial or stale copy$/),
      });
      expect(requests.every((request) => request.command === 'PutObjectCommand' || request.key?.endsWith('/inventory.json') || request.key === 'manifests/isp-a/00000002.json')).toBe(true);
    } finally {
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: inventoryKey('t2'), Body: inventories.get('t2') }));
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: inventoryKey('t3'), Body: t3 }));
    }
  });

  it('refuses a title that has no inventory recorded, without reading anything', async () => {
    const reader = new TitleInventory(s3, BUCKET);
    await expect(reader.objects(catalogTitle('t9'), AbortSignal.timeout(1000))).rejects.toThrow(
      'title t9 has no inventory recorded in the catalog; run the encoding\'s inventory step for it',
    );
  });

  it('starts no inventory read after its deadline, and still writes manifests for the titles it read', async () => {
    const warn = jest.spyOn(logger, 'warn');
    let clockMs = 0;
    const planned = await planRegion({
      ...deps,
      nowMs: NOW + 31 * 3_600_000,
      clock: () => clockMs,
      inventoryDeadlineMs: 90_000,
      // Each read takes a minute of the budget: t1 at 0:00, t2 at 1:00, and t3 would start at 2:00.
      titleObjects: (title, signal) => {
        clockMs += 60_000;
        return deps.titleObjects(title, signal);
      },
    });

    expect(planned).toMatchObject([{ clusterId: 'isp-a', titles: 2 }]);
    const manifest = JSON.parse((await s3server.read(BUCKET, planned[0].key)).toString('utf8'));
    expect([...new Set(Object.values(manifest.placements as Record<string, string[]>).flat())].sort()).toEqual(['t1', 't2']);
    expect(warn).toHaveBeenCalledWith('inventory time budget spent; these titles wait for the next plan', { titles: ['t3'] });
  });

  it('abandons an inventory read that outlasts the deadline, so the run always finishes', async () => {
    const warn = jest.spyOn(logger, 'warn');
    // t2's inventory comes over a path that takes 20 s to carry a request.
    const proxy = await SlowPath.start(0, Number(new URL(s3server.endpoint).port), 20_000);
    const slow = new S3Client({
      endpoint: `http://127.0.0.1:${proxy.port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const startedMs = Date.now();
    try {
      const planned = await planRegion({
        ...deps,
        nowMs: NOW + 32 * 3_600_000,
        inventoryDeadlineMs: Date.now() + 1_000,
        titleObjects: (title, signal) => (title.titleId === 't2' ? new TitleInventory(slow, BUCKET).objects(title, signal) : deps.titleObjects(title, signal)),
      });

      expect(Date.now() - startedMs).toBeLessThan(5_000);
      expect(planned).toMatchObject([{ clusterId: 'isp-a', titles: 2 }]);
      expect(warn).toHaveBeenCalledWith("title left out of tonight's plan", { titleId: 't2', reason: expect.stringMatching(/^its inventory was not read within \d+ ms$/) });
    } finally {
      slow.destroy();
      await proxy.stop();
    }
  });

  it('plans nothing for a region without appliances, nor for appliances silent for over a day and a half', async () => {
    expect(await planRegion({ ...deps, region: 'eu-west-1' })).toEqual([]);
    expect(await planRegion({ ...deps, nowMs: NOW + 37 * 3_600_000 })).toEqual([]);
  });
});
