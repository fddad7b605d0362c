import { createHash, randomBytes } from 'node:crypto';
import { SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { CatalogStore } from '../../../lambda/catalog/catalog-store';
import { processingTitle, withJobSubmitted } from '../../../lambda/encoding/catalog-entry';
import { createCompleteHandler, JobStateChangeEvent } from '../../../lambda/encoding/complete';
import { createHashObjectHandler } from '../../../lambda/encoding/hash-object';
import { ObjectDigestStore } from '../../../lambda/encoding/object-digest-store';
import { createPublishInventoryHandler } from '../../../lambda/encoding/publish-inventory';
import { TitleInventoryBuilder } from '../../../lambda/encoding/title-inventory-builder';
import { inventoryKey, parseInventory } from '../../../lambda/shared/title-inventory';
import { resolveEnvironment } from '../../../lib/config/environment';
import { DynamoDbLocal } from '../../support/dynamodb-local';
import { leastPrivilege } from '../../support/iam/least-privilege';
import { S3Server } from '../../support/s3-server';

// SNS cannot run here (nothing fails in these cases); S3 (s3rver) and DynamoDB (DynamoDB Local) are real.
mockClient(SNSClient);

const TABLE = 'nearstream-inventory-test';
const ORIGIN = 'origin';
const RATES = resolveEnvironment({ name: 'dev' }).encoding.ratesUsdPerMinute;
const PUBLISHED_AT = '2026-11-21T22:00:00.000Z';
/** Each step's calls are checked against its own role as the environment synthesizes it. */
const iam = leastPrivilege({ controlTables: [TABLE], buckets: { [ORIGIN]: 'origin' } });

describe('title inventories, built when encoding completes', () => {
  let dynamo: DynamoDbLocal;
  let s3: S3Server;
  let catalog: CatalogStore;
  let builder: TitleInventoryBuilder;

  beforeAll(async () => {
    [dynamo, s3] = await Promise.all([DynamoDbLocal.start(), S3Server.start([ORIGIN])]);
    await dynamo.createControlTable(TABLE);
    catalog = new CatalogStore(dynamo.documentClient(), TABLE);
    builder = new TitleInventoryBuilder({
      s3: s3.client(),
      bucket: ORIGIN,
      digests: new ObjectDigestStore(dynamo.documentClient(), TABLE),
      catalog,
      nowIso: () => PUBLISHED_AT,
    });
  });

  afterAll(async () => {
    await Promise.all([s3?.stop(), dynamo?.stop()]);
  });

  const hash = () => iam.actingAs('encoding-hash-object', createHashObjectHandler(builder));
  const publish = () => iam.actingAs('encoding-publish-inventory', createPublishInventoryHandler(builder));
  const complete = () =>
    iam.actingAs('encoding-complete', createCompleteHandler({ catalog, s3: s3.client(), sns: new SNSClient({ region: 'us-east-1' }), topicArn: 'arn:aws:sns:us-east-1:123456789012:t', rates: RATES }));

  /** A title with both jobs submitted, and what each job wrote to the origin. */
  async function encodedTitle(titleId: string): Promise<Map<string, Buffer>> {
    const submitted = withJobSubmitted(withJobSubmitted(processingTitle(titleId, { bucket: 'source', key: `${titleId}.mov`, bytes: 1 }, 'fixed', 'then'), 'fixed', 'job-f')!, 'av1', 'job-a')!;
    await catalog.put(submitted);
    const objects = new Map<string, Buffer>([
      [`titles/${titleId}/avc1/index.m3u8`, Buffer.from('#EXTM3U\n')],
      [`titles/${titleId}/avc1/index_avc1_360p.m3u8`, Buffer.from('#EXTM3U\n#EXT-X-VERSION:7\n')],
      // Several megabytes: the hash streams it in many chunks.
      [`titles/${titleId}/avc1/index_avc1_360p_00001.cmfv`, randomBytes(3 * 1024 * 1024 + 17)],
      [`titles/${titleId}/av01/index.m3u8`, Buffer.from('#EXTM3U\n')],
      [`titles/${titleId}/av01/index_av01_360p_00001.cmfv`, randomBytes(70_001)],
    ]);
    for (const [key, body] of objects) {
      await s3.put(ORIGIN, key, body);
    }
    return objects;
  }

  function jobCompleted(titleId: string, kind: 'fixed' | 'av1'): JobStateChangeEvent {
    const codec = kind === 'fixed' ? 'avc1' : 'av01';
    return {
      detail: {
        status: 'COMPLETE',
        jobId: `job-${kind}`,
        userMetadata: { nearstreamTitleId: titleId, nearstreamJob: kind },
        outputGroupDetails: [
          {
            playlistFilePaths: [`s3://${ORIGIN}/titles/${titleId}/${codec}/index.m3u8`],
            outputDetails: [{ outputFilePaths: [`s3://${ORIGIN}/titles/${titleId}/${codec}/index_${codec}_360p.m3u8`], durationInMs: 8000, videoDetails: { widthInPx: 640, heightInPx: 360 } }],
          },
        ],
      },
    };
  }

  /** What the completion state machine does with one job event: fold it, and after the last job hash every listed object, then publish. */
  async function runCompletion(event: JobStateChangeEvent): Promise<string> {
    const folded = await complete()(event);
    if (!folded.inventoryDue) {
      return folded.status;
    }
    // The Distributed Map's item reader: listObjectsV2 over titles/<id>/, one hash invocation per object.
    for (const key of await s3.keys(ORIGIN, `titles/${folded.titleId}/`)) {
      await hash()({ titleId: folded.titleId, key });
    }
    return (await publish()({ titleId: folded.titleId })).status;
  }

  const sha256 = (body: Buffer) => createHash('sha256').update(body).digest('hex');

  it('writes the inventory after the last job, with each stored object\'s size and SHA-256, and only then makes the title available', async () => {
    const objects = await encodedTitle('tdone');

    expect(await runCompletion(jobCompleted('tdone', 'fixed'))).toBe('processing');
    expect(await s3.keys(ORIGIN, 'titles/tdone/')).not.toContain(inventoryKey('tdone'));
    expect(await runCompletion(jobCompleted('tdone', 'av1'))).toBe('available');

    const body = await s3.read(ORIGIN, inventoryKey('tdone'));
    const listed = JSON.parse(body.toString('utf8')) as { key: string; size: number; sha256: string; titleId: string }[];
    const stored = await Promise.all([...objects.keys()].sort().map(async (key) => ({ key, bytes: await s3.read(ORIGIN, key) })));
    expect(listed).toEqual(stored.map(({ key, bytes }) => ({ key, size: bytes.length, sha256: sha256(bytes), titleId: 'tdone' })));
    expect(listed.find((entry) => entry.key.endsWith('.cmfv') && entry.size > 3 * 1024 * 1024)!.sha256).toBe(sha256(objects.get('titles/tdone/avc1/index_avc1_360p_00001.cmfv')!));

    const title = (await catalog.get('tdone'))!;
    expect(title).toMatchObject({ status: 'available', availableFrom: PUBLISHED_AT });
    expect(title.encoding!.inventory).toEqual({
      key: 'titles/tdone/inventory.json',
      objects: 5,
      bytes: stored.reduce((sum, { bytes }) => sum + bytes.length, 0),
      sha256: sha256(body),
    });
    expect(parseInventory('tdone', body, title.encoding!.inventory!)).toEqual(listed);
  });

  it('keeps the title processing and writes no inventory while any object has no digest of its current size', async () => {
    await encodedTitle('tgap');
    await complete()(jobCompleted('tgap', 'fixed'));
    expect(await complete()(jobCompleted('tgap', 'av1'))).toMatchObject({ inventoryDue: true });
    const keys = await s3.keys(ORIGIN, 'titles/tgap/');
    for (const key of keys.slice(1)) {
      await hash()({ titleId: 'tgap', key });
    }

    await expect(publish()({ titleId: 'tgap' })).rejects.toThrow(`title tgap: 1 of 5 objects have no digest of their current size (${keys[0]}); hash them first`);
    await hash()({ titleId: 'tgap', key: keys[0] });
    await s3.put(ORIGIN, keys[1], 'rewritten after it was hashed');
    await expect(publish()({ titleId: 'tgap' })).rejects.toThrow(`(${keys[1]})`);

    expect(await s3.keys(ORIGIN, 'titles/tgap/')).not.toContain(inventoryKey('tgap'));
    const title = (await catalog.get('tgap'))!;
    expect(title.status).toBe('processing');
    expect(title.encoding!.inventory).toBeUndefined();
  });

  it('refuses to write an inventory for a title whose jobs are not all complete', async () => {
    await encodedTitle('thalf');
    expect(await runCompletion(jobCompleted('thalf', 'fixed'))).toBe('processing');
    for (const key of await s3.keys(ORIGIN, 'titles/thalf/')) {
      await hash()({ titleId: 'thalf', key });
    }
    await expect(publish()({ titleId: 'thalf' })).rejects.toThrow('title thalf still waits for its av1 job');
    expect(await s3.keys(ORIGIN, 'titles/thalf/')).not.toContain(inventoryKey('thalf'));
    expect((await catalog.get('thalf'))!.status).toBe('processing');
  });

  it('rebuilds the same inventory when run again (a replayed event or a backfill), skipping the inventory the listing now shows', async () => {
    const before = (await catalog.get('tdone'))!;
    const keys = await s3.keys(ORIGIN, 'titles/tdone/');
    expect(keys).toContain(inventoryKey('tdone'));
    expect(await hash()({ titleId: 'tdone', key: inventoryKey('tdone') })).toEqual({ key: inventoryKey('tdone'), size: undefined });

    const rebuilt = await new TitleInventoryBuilder({
      s3: s3.client(),
      bucket: ORIGIN,
      digests: new ObjectDigestStore(dynamo.documentClient(), TABLE),
      catalog,
      nowIso: () => '2027-01-01T00:00:00.000Z',
    }).build('tdone');

    expect(rebuilt).toMatchObject({ status: 'available', availableFrom: before.availableFrom, encoding: { inventory: before.encoding!.inventory } });
  });

  it('hashes only objects of the title it names, and refuses input that names no title', async () => {
    await expect(hash()({ titleId: 'tdone', key: 'titles/tother/avc1/index.m3u8' })).rejects.toThrow("object 'titles/tother/avc1/index.m3u8' is not under titles/tdone/");
    await expect(hash()({ titleId: '../tdone', key: 'titles/tdone/avc1/index.m3u8' })).rejects.toThrow('titleId must be a title id');
    await expect(publish()({} as { titleId: string })).rejects.toThrow('titleId must be a title id');
  });
});
