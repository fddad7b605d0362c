import { createFleetHandler } from '../../lambda/fleet/handler';
import { holdingsDigest, holdingsOf } from '../../lambda/fleet/fleet-protocol';
import { FleetStore } from '../../lambda/fleet/fleet-store';
import { DynamoDbLocal } from '../support/dynamodb-local';
import { applianceEvent, bodyOf } from '../support/events';
import { MetricRecorder } from '../support/metric-recorder';
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

/** What planning placed on oca-1 in generation 1. */
const PLACEMENT = ['t1', 't2', 't3'];

function report(titles: string[] | undefined, health: Partial<{ load: number; errorRate: number }> = {}) {
  return {
    applianceId: 'oca-1',
    health: { load: 0.3, egressGbps: 12, diskUsedBytes: 5e12, errorRate: 0.001, ...health },
    ...(titles ? { holdings: holdingsOf(1, PLACEMENT, new Set(titles)) } : {}),
  };
}

describe('fleet API against DynamoDB Local', () => {
  let dynamo: DynamoDbLocal;
  let store: FleetStore;
  let clockMs = Date.parse('2026-11-21T12:00:00Z');
  let handler: ReturnType<typeof createFleetHandler>;
  const metrics = new MetricRecorder();

  beforeAll(async () => {
    dynamo = await DynamoDbLocal.start();
    await dynamo.createControlTable(TABLE);
    store = new FleetStore(dynamo.documentClient(), TABLE);
    await store.putPlacement('oca-1', 1, PLACEMENT, clockMs + 86_400_000);
    handler = iam.actingAs('fleet', createFleetHandler({ store, now: () => new Date(clockMs), metrics }));
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

  it('lets one principal register at most four appliance ids, however many it sends at once, and re-register those freely', async () => {
    const principal = 'arn:aws:sts::123456789012:assumed-role/nearstream-appliance/i-0flood';
    const ids = Array.from({ length: 10 }, (_, i) => `flood-${i}`);
    const responses = await Promise.all(ids.map((applianceId) => handler(applianceEvent('POST /fleet/register', principal, { body: { ...registration, applianceId } }))));
    const registered = ids.filter((_, i) => responses[i].statusCode === 200);
    const refused = responses.filter((response) => response.statusCode !== 200);
    const again = await handler(applianceEvent('POST /fleet/register', principal, { body: { ...registration, applianceId: registered[0], baseUrl: 'https://flood.example' } }));

    expect(registered).toHaveLength(4);
    expect(refused.map((response) => [response.statusCode, bodyOf(response).error])).toEqual(Array(6).fill([403, 'appliance-limit']));
    expect(bodyOf(refused[0]).message).toContain('4 appliances, the most one principal may');
    expect(again.statusCode).toBe(200);
    expect(await store.get(ids.find((id) => !registered.includes(id))!)).toBeUndefined();
  });

  it('refuses to let another principal take over a registered appliance id', async () => {
    const response = await handler(applianceEvent('POST /fleet/register', OTHER_ROLE, { body: registration }));
    expect(response.statusCode).toBe(403);
    expect(bodyOf(response)).toMatchObject({ error: 'owned-by-another-principal' });
    expect((await store.get('oca-1'))!.principalArn).toBe(ROLE);
  });

  it('stores health and the holdings a report carries, and answers what it stored', async () => {
    clockMs += 1000;
    const response = await handler(applianceEvent('POST /fleet/report', ROLE, { body: report(['t1', 't3']) }));

    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toEqual({
      applianceId: 'oca-1',
      reportedAtMs: clockMs,
      holdings: { generation: 1, count: 2, digest: holdingsDigest(holdingsOf(1, PLACEMENT, new Set(['t1', 't3']))) },
    });
    expect(await store.describe('oca-1')).toMatchObject({ load: 0.3, errorRate: 0.001 });
    expect(await store.heldTitles('oca-1')).toEqual(['t1', 't3']);
    expect(metrics.recorded.slice(-3)).toEqual([
      { name: 'ApplianceReports', unit: 'Count', value: 1 },
      { name: 'ApplianceEgressGbps', unit: 'Gigabits', value: report([]).health.egressGbps },
      { name: 'ApplianceErrorRate', unit: 'None', value: 0.001 },
    ]);
  });

  it('keeps the holdings when a report carries health only', async () => {
    clockMs += 1000;
    const response = await handler(applianceEvent('POST /fleet/report', ROLE, { body: report(undefined, { load: 0.5 }) }));

    expect(bodyOf(response)).toMatchObject({ reportedAtMs: clockMs, holdings: { generation: 1, count: 2 } });
    expect(await store.describe('oca-1')).toMatchObject({ load: 0.5, reportedAtMs: clockMs });
    expect(await store.heldTitles('oca-1')).toEqual(['t1', 't3']);
  });

  it('keeps the registration when a report arrives, and the report when the appliance re-registers', async () => {
    await handler(applianceEvent('POST /fleet/register', ROLE, { body: { ...registration, baseUrl: 'https://oca-1b.isp-a.example' } }));
    expect(await store.describe('oca-1')).toMatchObject({ baseUrl: 'https://oca-1b.isp-a.example', load: 0.5 });
    expect(await store.heldTitles('oca-1')).toEqual(['t1', 't3']);
  });

  it('counts every one of 25 concurrent reports', async () => {
    const before = (await store.describe('oca-1'))!.reportCount ?? 0;
    clockMs += 1000;
    const responses = await Promise.all(
      Array.from({ length: 25 }, (_, i) => handler(applianceEvent('POST /fleet/report', ROLE, { body: report([PLACEMENT[i % 3]]) }))),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(25).fill(200));
    expect((await store.describe('oca-1'))!.reportCount).toBe(before + 25);
  });

  it('stores holding nothing when an appliance reports holding nothing of its placement', async () => {
    clockMs += 1000;
    await handler(applianceEvent('POST /fleet/report', ROLE, { body: report([]) }));
    expect(await store.heldTitles('oca-1')).toEqual([]);
  });

  it('refuses a report older than the stored one instead of rolling it back', async () => {
    clockMs -= 60_000;
    const response = await handler(applianceEvent('POST /fleet/report', ROLE, { body: report(['t2']) }));
    clockMs += 120_000;
    expect(response.statusCode).toBe(409);
    expect(await store.heldTitles('oca-1')).toEqual([]);
  });

  it('refuses reports from unregistered appliances and from the wrong principal, counting neither', async () => {
    const before = metrics.recorded.length;
    const unknown = await handler(applianceEvent('POST /fleet/report', ROLE, { body: { ...report([]), applianceId: 'oca-404' } }));
    const wrong = await handler(applianceEvent('POST /fleet/report', OTHER_ROLE, { body: report([]) }));
    expect([unknown.statusCode, bodyOf(unknown).error]).toEqual([404, 'not-registered']);
    expect([wrong.statusCode, bodyOf(wrong).error]).toEqual([403, 'owned-by-another-principal']);
    expect(metrics.recorded).toHaveLength(before);
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

  it('answers 400 when the holdings count does not match the bits held', async () => {
    const body = { ...report(['t1']), holdings: { ...holdingsOf(1, PLACEMENT, new Set(['t1'])), count: 3 } };
    const response = await handler(applianceEvent('POST /fleet/report', ROLE, { body }));
    expect(bodyOf(response)).toMatchObject({ error: 'invalid-request', field: 'body.holdings.count' });
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
