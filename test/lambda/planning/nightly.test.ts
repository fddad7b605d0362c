import { createHash } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { CatalogStore } from '../../../lambda/catalog/catalog-store';
import { FleetStore } from '../../../lambda/fleet/fleet-store';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { planRegion, NightlyDependencies } from '../../../lambda/planning/nightly';
import { TitleInventory } from '../../../lambda/planning/title-inventory';
import { objectsForAppliance, verifyManifest } from '../../../lambda/shared/fill-manifest';
import { DemandStore } from '../../../lambda/telemetry/demand-store';
import { DynamoDbLocal } from '../../support/dynamodb-local';
import { catalogTitle, registration, TEST_KEYRING } from '../../support/fixtures';
import { S3Server } from '../../support/s3-server';

const TABLE = 'nearstream-planning-test';
const BUCKET = 'nearstream-test-origin';
const NOW = Date.parse('2026-11-21T01:00:00Z');
const ROLE = 'arn:aws:sts::123456789012:assumed-role/nearstream-appliance/i-0abc';
const TITLE_BYTES = catalogTitle('t1').renditions.reduce((sum, rendition) => sum + rendition.bytes, 0);

describe('the nightly plan against DynamoDB Local and an S3 server', () => {
  let dynamo: DynamoDbLocal;
  let s3server: S3Server;
  let s3: S3Client;
  let deps: NightlyDependencies;
  const segments = new Map<string, Buffer>();

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
      await catalog.put(catalogTitle(titleId));
      for (const name of ['avc1/index.m3u8', 'avc1/seg-1.m4s', 'hvc1/seg-1.m4s']) {
        const body = Buffer.from(`${titleId}/${name} `.repeat(50));
        segments.set(`titles/${titleId}/${name}`, body);
        await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `titles/${titleId}/${name}`, Body: body }));
      }
    }
    await demand.addStarts('2026-11-20', 'us-east-1', [
      { titleId: 't1', clusterId: 'isp-a', starts: 900 },
      { titleId: 't2', clusterId: 'isp-a', starts: 60 },
      { titleId: 't3', clusterId: 'isp-a', starts: 40 },
    ]);
    await demand.addStarts('2026-11-20', 'us-west-2', [{ titleId: 't4', clusterId: 'isp-w', starts: 500 }]);

    const inventory = new TitleInventory(s3, BUCKET);
    deps = {
      loadFleet: () => fleet.loadFleet(),
      availableTitles: async () => (await catalog.list(100)).titles,
      clusterStarts: (day, clusterId) => demand.topTitlesInCluster(day, clusterId, 1000),
      titleObjects: (titleId) => inventory.objects(titleId),
      currentPointer: (clusterId) => fleet.getManifestPointer(clusterId),
      putManifest: async (key, body) => {
        await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
      },
      announce: (pointer) => fleet.putManifestPointer(pointer),
      keyring: async () => TEST_KEYRING,
      region: 'us-east-1',
      originBucket: BUCKET,
      nowMs: NOW,
      historyDays: 14,
      validForHours: 48,
      inventoryBudgetMs: 60_000,
    };
  });

  afterAll(async () => {
    s3?.destroy();
    await Promise.all([dynamo?.stop(), s3server?.stop()]);
  });

  it('writes a signed manifest per cluster of its region, then announces it', async () => {
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
    expect(await s3server.keys(BUCKET, 'titles/t1/')).toContain('titles/t1/inventory.json');
  });

  it('plans the next generation on the next run, from the kept inventories', async () => {
    const planned = await planRegion({ ...deps, nowMs: NOW + 86_400_000 });
    expect(planned.map((cluster) => [cluster.clusterId, cluster.generation])).toEqual([['isp-a', 2]]);
    expect(await s3server.keys(BUCKET, 'manifests/isp-a/')).toEqual(['manifests/isp-a/00000001.json', 'manifests/isp-a/00000002.json']);
  });

  it('leaves out a title whose objects cannot be listed, and rebuilds an inventory that does not describe its title', async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'titles/t1/inventory.json', Body: '[{"key":"titles/other/x","size":1}]' }));
    const planned = await planRegion({
      ...deps,
      nowMs: NOW + 30 * 3_600_000,
      titleObjects: async (titleId) => {
        if (titleId === 't2') {
          throw new Error('no objects under titles/t2/');
        }
        return deps.titleObjects(titleId);
      },
    });

    expect(planned).toEqual([{ clusterId: 'isp-a', generation: 3, key: 'manifests/isp-a/00000003.json', titles: 2, objects: 6 }]);
    const manifest = JSON.parse((await s3server.read(BUCKET, 'manifests/isp-a/00000003.json')).toString('utf8'));
    expect(Object.values(manifest.placements as Record<string, string[]>).flat()).not.toContain('t2');
    const rebuilt = JSON.parse((await s3server.read(BUCKET, 'titles/t1/inventory.json')).toString('utf8'));
    expect(rebuilt.map((object: { key: string }) => object.key).sort()).toEqual(['titles/t1/avc1/index.m3u8', 'titles/t1/avc1/seg-1.m4s', 'titles/t1/hvc1/seg-1.m4s']);
  });

  it('plans nothing for a region without appliances, nor for appliances silent for over a day and a half', async () => {
    expect(await planRegion({ ...deps, region: 'eu-west-1' })).toEqual([]);
    expect(await planRegion({ ...deps, nowMs: NOW + 37 * 3_600_000 })).toEqual([]);
  });
});
