import { Metrics } from '@aws-lambda-powertools/metrics';
import { createCatalogHandler } from '../../lambda/catalog/handler';
import { CatalogStore } from '../../lambda/catalog/catalog-store';
import { createHomeHandler } from '../../lambda/home/handler';
import { ViewerStore } from '../../lambda/playback/viewer-store';
import { DemandStore } from '../../lambda/telemetry/demand-store';
import { createTelemetryHandler } from '../../lambda/telemetry/handler';
import { localInvocationContext } from '../../local/api/local-gateway';
import { LOCAL_AWS_ENV } from '../../local/services/dynamodb-local';
import { DynamoDbLocal } from '../support/dynamodb-local';
import { bodyOf, viewerEvent } from '../support/events';
import { leastPrivilege } from '../support/iam/least-privilege';
import { catalogTitle } from '../support/fixtures';

const TABLE = 'nearstream-viewer-test';
const iam = leastPrivilege({ controlTables: [TABLE] });
const NOW = Date.parse('2026-11-21T20:00:00Z');

/** A real Powertools Metrics instance whose EMF output the test reads from the console. */
function capturingMetrics(): { metrics: Metrics; emitted: () => Record<string, unknown>[] } {
  const saved = { disabled: process.env.POWERTOOLS_METRICS_DISABLED, dev: process.env.POWERTOOLS_DEV };
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  process.env.POWERTOOLS_DEV = 'true';
  const metrics = new Metrics({ namespace: 'Nearstream', serviceName: 'telemetry' });
  process.env.POWERTOOLS_METRICS_DISABLED = saved.disabled;
  process.env.POWERTOOLS_DEV = saved.dev;
  const lines: string[] = [];
  jest.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
  return { metrics, emitted: () => lines.filter((line) => line.includes('"_aws"')).map((line) => JSON.parse(line)) };
}

describe('viewer API against DynamoDB Local', () => {
  let dynamo: DynamoDbLocal;
  let catalog: CatalogStore;
  let viewers: ViewerStore;
  let demand: DemandStore;

  beforeAll(async () => {
    dynamo = await DynamoDbLocal.start();
    await dynamo.createControlTable(TABLE);
    catalog = new CatalogStore(dynamo.documentClient(), TABLE);
    viewers = new ViewerStore(dynamo.documentClient(), TABLE);
    demand = new DemandStore(dynamo.documentClient(), TABLE);
    for (const id of ['a-1', 'b-2', 'c-3', 'd-4', 'e-5']) {
      await catalog.put(catalogTitle(id));
    }
    await catalog.put(catalogTitle('x-draft', { status: 'processing' }));
    await catalog.put(catalogTitle('y-expired', { availableUntil: '2026-01-01T00:00:00.000Z' }));
    await viewers.putSession({ sessionId: 's-alice', accountId: 'alice', titleId: 'b-2', slot: 0, clusterId: 'isp-a', createdAt: '', expiresAtEpochSeconds: NOW / 1000 + 3600 });
    await viewers.claimStreamSlot('alice', 1, 's-alice', NOW, NOW + 300_000);
    await viewers.putSession({ sessionId: 's-bob', accountId: 'bob', titleId: 'c-3', slot: 0, createdAt: '', expiresAtEpochSeconds: NOW / 1000 + 3600 });
  });

  afterAll(async () => {
    jest.restoreAllMocks();
    await dynamo?.stop();
  });

  describe('GET /titles', () => {
    const handler = () => iam.actingAs('catalog', createCatalogHandler({ catalog, nowMs: () => NOW }));

    it('lists playable titles page by page in name order, hiding drafts and expired titles', async () => {
      const first = await handler()(viewerEvent('GET /titles', 'alice', { query: { limit: '3' } }));
      const page1 = bodyOf(first) as { titles: { titleId: string }[]; nextCursor: string };
      const second = await handler()(viewerEvent('GET /titles', 'alice', { query: { limit: '10', cursor: page1.nextCursor } }));
      const page2 = bodyOf(second) as { titles: { titleId: string }[]; nextCursor?: string };
      expect([...page1.titles, ...page2.titles].map((t) => t.titleId)).toEqual(['a-1', 'b-2', 'c-3', 'd-4', 'e-5']);
      expect(page2.nextCursor).toBeUndefined();
    });

    it('shows one title with its renditions by codec, and 404 for what is not playable', async () => {
      const found = await handler()(viewerEvent('GET /titles/{titleId}', 'alice', { pathParameters: { titleId: 'a-1' } }));
      expect(found.statusCode).toBe(200);
      expect(Object.keys((bodyOf(found) as { renditions: object }).renditions)).toEqual(['avc1', 'hvc1']);
      for (const titleId of ['x-draft', 'y-expired', 'nope']) {
        const missing = await handler()(viewerEvent('GET /titles/{titleId}', 'alice', { pathParameters: { titleId } }));
        expect([missing.statusCode, bodyOf(missing).error]).toEqual([404, 'unknown-title']);
      }
    });

    it('answers 400 naming the parameter for a bad limit or a forged cursor', async () => {
      const badLimit = await handler()(viewerEvent('GET /titles', 'alice', { query: { limit: '1000' } }));
      expect(bodyOf(badLimit).field).toBe('query.limit');
      const forged = await handler()(viewerEvent('GET /titles', 'alice', { query: { cursor: 'bm90LWpzb24' } }));
      expect(bodyOf(forged)).toMatchObject({ field: 'query.cursor', message: 'query.cursor: is not a cursor this API issued' });
    });
  });

  describe('POST /events', () => {
    it('emits stream starts and play failures per region, counts demand, and renews the lease', async () => {
      const { metrics, emitted } = capturingMetrics();
      const handler = iam.actingAs('telemetry', createTelemetryHandler({ viewers, demand, metrics, region: 'us-west-2', leaseSeconds: 300, nowMs: () => NOW + 60_000 }));
      const response = await handler(
        viewerEvent('POST /events', 'alice', {
          body: {
            events: [
              { type: 'start', sessionId: 's-alice', at: '2026-11-21T20:00:01Z' },
              { type: 'error', sessionId: 's-alice', at: '2026-11-21T20:00:02Z', fatal: true, code: 'DRM' },
              { type: 'heartbeat', sessionId: 's-alice', at: '2026-11-21T20:00:30Z', positionSeconds: 42 },
              { type: 'start', sessionId: 's-bob', at: '2026-11-21T20:00:31Z' },
            ],
          },
        }),
      );

      expect(response.statusCode).toBe(202);
      expect(bodyOf(response)).toEqual({
        accepted: 3,
        rejected: [{ index: 3, reason: "session 's-bob' belongs to another account" }],
        leaseLost: [],
      });
      // As the function's entry (lambdaEntry) does after every invocation.
      metrics.publishStoredMetrics();
      const [emf] = emitted();
      expect(emf).toMatchObject({ StreamStarts: 1, PlayFailures: 1, region: 'us-west-2' });
      expect(JSON.stringify(emf)).toContain('"StorageResolution":1');
      expect(await demand.topTitlesInRegion('2026-11-21', 'us-west-2', 5)).toEqual([{ titleId: 'b-2', starts: 1 }]);
      expect(await demand.topTitlesInCluster('2026-11-21', 'isp-a', 5)).toEqual([{ titleId: 'b-2', starts: 1 }]);
      expect(await viewers.claimStreamSlot('alice', 1, 'intruder', NOW + 300_001, NOW + 600_000)).toBeUndefined();
    });

    it('publishes them as EMF on stdout through the function\'s entry, with its region, after each batch', async () => {
      const environment = {
        ...LOCAL_AWS_ENV,
        AWS_REGION: 'sa-east-1',
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        CONTROL_TABLE_NAME: TABLE,
        POWERTOOLS_METRICS_DISABLED: 'false',
      };
      const previous = Object.fromEntries(Object.keys(environment).map((name) => [name, process.env[name]]));
      Object.assign(process.env, environment);
      let telemetry!: typeof import('../../lambda/telemetry/handler').handler;
      jest.isolateModules(() => {
        telemetry = require('../../lambda/telemetry/handler').handler;
      });
      const printed: string[] = [];
      const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => printed.push(String(chunk)) > 0);
      const context = () => localInvocationContext({ functionName: 'telemetry', region: 'sa-east-1', timeoutMs: 10_000, memorySizeMb: 512 });
      try {
        // The function reads the wall clock: its batches are of now.
        for (let batch = 0; batch < 2; batch++) {
          const events = [{ type: 'start', sessionId: 's-bob', at: new Date().toISOString() }];
          const response = await telemetry(viewerEvent('POST /events', 'bob', { body: { events } }), context());
          expect(response.statusCode).toBe(202);
        }
      } finally {
        stdout.mockRestore();
        for (const [name, value] of Object.entries(previous)) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
      }

      const emf = printed.flatMap((chunk) => chunk.split('\n')).filter((line) => line.includes('"StreamStarts"')).map((line) => JSON.parse(line));
      expect(emf).toEqual([
        expect.objectContaining({ StreamStarts: 1, PlayFailures: 0, region: 'sa-east-1' }),
        expect.objectContaining({ StreamStarts: 1, PlayFailures: 0, region: 'sa-east-1' }),
      ]);
      expect(emf[0]._aws.CloudWatchMetrics[0].Dimensions).toEqual([['service', 'region']]);
    });

    it('loses no start when many batches count the same title at once', async () => {
      const { metrics } = capturingMetrics();
      const handler = iam.actingAs('telemetry', createTelemetryHandler({ viewers, demand, metrics, region: 'eu-west-1', leaseSeconds: 300, nowMs: () => NOW }));
      const batch = { events: [{ type: 'start', sessionId: 's-alice', at: '2026-11-21T20:00:01Z' }] };
      await Promise.all(Array.from({ length: 30 }, () => handler(viewerEvent('POST /events', 'alice', { body: batch }))));
      expect(await demand.topTitlesInRegion('2026-11-21', 'eu-west-1', 1)).toEqual([{ titleId: 'b-2', starts: 30 }]);
    });

    it('frees the stream slot on stop and remembers the position', async () => {
      const { metrics } = capturingMetrics();
      const handler = iam.actingAs('telemetry', createTelemetryHandler({ viewers, demand, metrics, region: 'us-west-2', leaseSeconds: 300, nowMs: () => NOW + 120_000 }));
      await handler(viewerEvent('POST /events', 'alice', { body: { events: [{ type: 'stop', sessionId: 's-alice', at: '2026-11-21T20:02:00Z', positionSeconds: 600 }] } }));
      expect(await viewers.claimStreamSlot('alice', 1, 'next-session', NOW + 120_001, NOW + 400_000)).toBe(0);
      expect(await viewers.continueWatching('alice', 5)).toEqual([{ titleId: 'b-2', positionSeconds: 600, updatedAt: '2026-11-21T20:02:00.000Z' }]);
    });

    it.each([
      [{ events: [] }, 'body.events', 'at least one event'],
      [{ events: Array.from({ length: 101 }, () => ({ type: 'start', sessionId: 's', at: '2026-11-21T20:00:00Z' })) }, 'body.events', 'at most 100'],
      [{ events: [{ type: 'pause', sessionId: 's', at: '2026-11-21T20:00:00Z' }] }, 'body.events[0].type', ''],
      [{ events: [{ type: 'start', sessionId: 's', at: 'yesterday' }] }, 'body.events[0].at', ''],
    ])('answers 400 naming the field for a bad batch (%#)', async (body, field, message) => {
      const { metrics } = capturingMetrics();
      const handler = iam.actingAs('telemetry', createTelemetryHandler({ viewers, demand, metrics, region: 'us-west-2', leaseSeconds: 300, nowMs: () => NOW }));
      const response = await handler(viewerEvent('POST /events', 'alice', { body }));
      expect([response.statusCode, bodyOf(response).field]).toEqual([400, field]);
      expect(bodyOf(response).message).toContain(message);
    });
  });

  describe('GET /home', () => {
    it('shows continue watching and the region\'s top titles', async () => {
      await demand.addStarts('2026-11-21', 'ap-south-1', [{ titleId: 'd-4', starts: 9 }, { titleId: 'a-1', starts: 3 }, { titleId: 'x-draft', starts: 50 }]);
      await demand.addStarts('2026-11-20', 'ap-south-1', [{ titleId: 'a-1', starts: 8 }]);
      const handler = iam.actingAs('home', createHomeHandler({ catalog, viewers, demand, region: 'ap-south-1', nowMs: () => NOW, topTitlesCacheMs: 60_000 }));
      const response = await handler(viewerEvent('GET /home', 'alice'));
      const home = bodyOf(response) as { rows: { id: string; items: { titleId: string; positionSeconds?: number }[] }[]; unavailableRows: string[] };
      expect(home.unavailableRows).toEqual([]);
      expect(home.rows.map((row) => [row.id, row.items.map((item) => item.titleId)])).toEqual([
        ['continue-watching', ['b-2']],
        ['top-in-region', ['a-1', 'd-4']],
      ]);
    });

    it('still answers with the rows that work when one row\'s source fails', async () => {
      const failingDemand = { topTitlesInRegion: () => Promise.reject(new Error('throttled')) };
      const handler = iam.actingAs('home', createHomeHandler({ catalog, viewers, demand: failingDemand, region: 'ap-south-1', nowMs: () => NOW, topTitlesCacheMs: 0 }));
      const response = await handler(viewerEvent('GET /home', 'alice'));
      expect(response.statusCode).toBe(200);
      expect(bodyOf(response)).toMatchObject({ unavailableRows: ['top-in-region'], rows: [{ id: 'continue-watching' }] });
    });
  });
});
