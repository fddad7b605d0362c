import { createFleetHandler } from '../../lambda/fleet/handler';
import { inventoryDigest } from '../../lambda/fleet/fleet-protocol';
import { FleetStore } from '../../lambda/fleet/fleet-store';
import { DynamoDbLocal } from '../support/dynamodb-local';
import { applianceEvent, bodyOf } from '../support/events';
import { leastPrivilege } from '../support/iam/least-privilege';

const TABLE = 'nearstream-fleet-test';
const iam = leastPrivilege({ controlTables: [TABLE] });
const ROLE = 'arn:aws:sts::123456789012:assumed-role/nearstream-appliance/i-0abc';
const OTHER_ROLE = 'arn:aws:sts::123456789012:assumed-role/nearstream-appliance/i-0def';

const registration = {
  applianceId: 'oca-1',
  clusterId: 'isp-a-nyc',
  region: 'us-east-1',
  baseUrl: 'https://oca-1.isp-a.example',
  capacity: { egressGbps: 40, diskBytes: 100e12 },
  prefixes: ['198.51.100.0/24', '2001:db8:100::/48'],
};

function report(titles: string[], health: Partial<{ load: number; errorRate: number }> = {}) {
  return {
    applianceId: 'oca-1',
    health: { load: 0.3, egressGbps: 12, diskUsedBytes: 5e12, errorRate: 0.001, ...health },
    inventory: { titles, digest: inventoryDigest(titles) },
  };
}

describe('fleet API against DynamoDB Local', () => {
  let dynamo: DynamoDbLocal;
  let store: FleetStore;
  let clockMs = Date.parse('2026-11-21T12:00:00Z');
  let handler: ReturnType<typeof createFleetHandler>;

  beforeAll(async () => {
    dynamo = await DynamoDbLocal.start();
    await dynamo.createControlTable(TABLE);
    store = new FleetStore(dynamo.documentClient(), TABLE);
    handler = iam.actingAs('fleet', createFleetHandler({ store, now: () => new Date(clockMs) }));
  });

  afterAll(async () => {
    await dynamo?.stop();
  });

  it('registers an appliance, and registering again changes nothing but the update time', async () => {
    const first = await handler(applianceEvent('POST /fleet/register', ROLE, { body: registration }));
    clockMs += 1000;
    const second = await handler(applianceEvent('POST /fleet/register', ROLE, { body: registration }));

    expect(first.statusCode).toBe(200);
    expect(second.statusCode).toBe(200);
    expect(bodyOf(second).registeredAt).toBe(bodyOf(first).registeredAt);
    const fleet = await store.loadFleet();
    expect(fleet.filter((a) => a.applianceId === 'oca-1')).toHaveLength(1);
    expect(fleet[0]).toMatchObject({ clusterId: 'isp-a-nyc', prefixes: registration.prefixes, principalArn: ROLE });
  });

  it('refuses to let another principal take over a registered appliance id', async () => {
    const response = await handler(applianceEvent('POST /fleet/register', OTHER_ROLE, { body: registration }));
    expect(response.statusCode).toBe(403);
    expect(bodyOf(response)).toMatchObject({ error: 'owned-by-another-principal' });
    expect((await store.get('oca-1'))!.principalArn).toBe(ROLE);
  });

  it('stores health and the verified inventory a report carries', async () => {
    clockMs += 1000;
    const response = await handler(applianceEvent('POST /fleet/report', ROLE, { body: report(['t1', 't2']) }));

    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toMatchObject({ titlesHeld: 2, reportedAtMs: clockMs });
    expect(await store.get('oca-1')).toMatchObject({ load: 0.3, errorRate: 0.001, titles: expect.arrayContaining(['t1', 't2']) });
  });

  it('keeps the registration when a report arrives, and the report when the appliance re-registers', async () => {
    await handler(applianceEvent('POST /fleet/register', ROLE, { body: { ...registration, baseUrl: 'https://oca-1b.isp-a.example' } }));
    const appliance = (await store.get('oca-1'))!;
    expect(appliance).toMatchObject({ baseUrl: 'https://oca-1b.isp-a.example', load: 0.3 });
    expect([...appliance.titles].sort()).toEqual(['t1', 't2']);
  });

  it('counts every one of 25 concurrent reports', async () => {
    const before = (await store.get('oca-1'))!.reportCount ?? 0;
    clockMs += 1000;
    const responses = await Promise.all(
      Array.from({ length: 25 }, (_, i) => handler(applianceEvent('POST /fleet/report', ROLE, { body: report([`t${i}`]) }))),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(25).fill(200));
    expect((await store.get('oca-1'))!.reportCount).toBe(before + 25);
  });

  it('clears the inventory when an appliance reports holding nothing', async () => {
    clockMs += 1000;
    await handler(applianceEvent('POST /fleet/report', ROLE, { body: report([]) }));
    expect((await store.get('oca-1'))!.titles).toEqual([]);
  });

  it('refuses a report older than the stored one instead of rolling it back', async () => {
    clockMs -= 60_000;
    const response = await handler(applianceEvent('POST /fleet/report', ROLE, { body: report(['old']) }));
    clockMs += 120_000;
    expect(response.statusCode).toBe(409);
    expect((await store.get('oca-1'))!.titles).toEqual([]);
  });

  it('refuses reports from unregistered appliances and from the wrong principal', async () => {
    const unknown = await handler(applianceEvent('POST /fleet/report', ROLE, { body: { ...report([]), applianceId: 'oca-404' } }));
    const wrong = await handler(applianceEvent('POST /fleet/report', OTHER_ROLE, { body: report([]) }));
    expect([unknown.statusCode, bodyOf(unknown).error]).toEqual([404, 'not-registered']);
    expect([wrong.statusCode, bodyOf(wrong).error]).toEqual([403, 'owned-by-another-principal']);
  });

  it.each([
    [{ ...registration, prefixes: ['198.51.100.7/24'] }, 'body.prefixes[0]', 'has host bits set'],
    [{ ...registration, prefixes: [] }, 'body.prefixes', 'at least one client prefix'],
    [{ ...registration, applianceId: 'a.b' }, 'body.applianceId', 'must be a appliance id'],
    [{ ...registration, baseUrl: 'https://oca.example/path' }, 'body.baseUrl', 'no path'],
    [{ ...registration, region: 'mars-1' }, 'body.region', 'region name'],
    [{ ...registration, extra: 1 }, 'body.extra', 'Unrecognized key'],
  ])('answers 400 naming the field for a bad registration (%#)', async (body, field, message) => {
    const response = await handler(applianceEvent('POST /fleet/register', ROLE, { body }));
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response)).toMatchObject({ error: 'invalid-request', field });
    expect(bodyOf(response).message).toContain(message);
  });

  it('answers 400 when the inventory digest does not match its titles', async () => {
    const body = { ...report(['t1']), inventory: { titles: ['t1', 't2'], digest: inventoryDigest(['t1']) } };
    const response = await handler(applianceEvent('POST /fleet/report', ROLE, { body }));
    expect(bodyOf(response)).toMatchObject({ error: 'invalid-request', field: 'body.inventory.digest' });
  });

  it('answers 400 for a body that is not JSON, and 413 for one over the limit', async () => {
    const notJson = await handler(applianceEvent('POST /fleet/register', ROLE, { rawBody: '{"applianceId":' }));
    expect([notJson.statusCode, bodyOf(notJson).message]).toEqual([400, 'body: is not valid JSON']);
    const huge = await handler(applianceEvent('POST /fleet/register', ROLE, { rawBody: 'x'.repeat(17 * 1024) }));
    expect([huge.statusCode, bodyOf(huge).error]).toEqual([413, 'body-too-large']);
  });

  it('answers 401 for an unsigned request', async () => {
    const event = applianceEvent('POST /fleet/register', ROLE, { body: registration });
    delete (event.requestContext as { authorizer?: unknown }).authorizer;
    expect((await handler(event)).statusCode).toBe(401);
  });

  it('tells an appliance where its cluster\'s current manifest is, once there is one', async () => {
    const before = await handler(applianceEvent('GET /fleet/manifest', ROLE, { query: { applianceId: 'oca-1' } }));
    expect([before.statusCode, bodyOf(before).error]).toEqual([404, 'no-manifest']);

    const pointer = { clusterId: 'isp-a-nyc', generation: 7, bucket: 'origin', key: 'manifests/isp-a-nyc/7.json', createdAt: '2026-11-21T02:00:00Z' };
    await store.putManifestPointer(pointer);
    await expect(store.putManifestPointer({ ...pointer, generation: 6 })).rejects.toThrow();

    const after = await handler(applianceEvent('GET /fleet/manifest', ROLE, { query: { applianceId: 'oca-1' } }));
    expect(after.statusCode).toBe(200);
    expect(bodyOf(after)).toEqual(pointer);
    const stranger = await handler(applianceEvent('GET /fleet/manifest', OTHER_ROLE, { query: { applianceId: 'oca-1' } }));
    expect(stranger.statusCode).toBe(403);
  });
});
