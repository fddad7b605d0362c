import { holdingsOf, MAX_PLACEMENT_TITLES, MAX_PREFIXES } from '../../lambda/fleet/fleet-protocol';
import { MetricRecorder } from '../support/metric-recorder';
import { FleetStore } from '../../lambda/fleet/fleet-store';
import { createFleetHandler } from '../../lambda/fleet/handler';
import { REQUEST_LIMITS } from '../../lambda/shared/control-table';
import { recordConsumedCapacity } from '../../lambda/shared/consumed-capacity';
import { DynamoDbLocal } from '../support/dynamodb-local';
import { applianceEvent, bodyOf } from '../support/events';
import { expectRefusedWithoutTrace, Hostile, hostileRows, long, RouteUnderTest, tableItems, withAuthorizer, withRawBody } from '../support/hostile';

/**
 * The appliance routes, fed what a hostile or broken appliance sends: each request must be
 * answered 4xx with a message naming the field, leave the registry as it was, and leave the route
 * working for the next, legitimate request.
 */

const TABLE = 'nearstream-hostile-fleet-test';
const ROLE = 'arn:aws:sts::123456789012:assumed-role/nearstream-appliance/i-0abc';
const clockMs = Date.parse('2026-11-21T20:00:00Z');

type Route = 'POST /fleet/register' | 'POST /fleet/report' | 'GET /fleet/manifest';

const REGISTRATION = {
  applianceId: 'oca-1',
  clusterId: 'isp-a-nyc',
  region: 'us-east-1',
  baseUrl: 'https://oca-1.isp-a.example',
  capacity: { egressGbps: 40, diskBytes: 100e12 },
  prefixes: ['198.51.100.0/24'],
};
const report = (titles: string[] = ['movie-1'], health: Record<string, unknown> = {}) => ({
  applianceId: 'oca-1',
  health: { load: 0.3, egressGbps: 12, diskUsedBytes: 5e12, errorRate: 0.001, ...health },
  holdings: holdingsOf(1, titles, new Set(titles)),
});
const withHoldings = (holdings: Record<string, unknown>) => ({ ...report(), holdings: { ...report().holdings, ...holdings } });
/** The bits of a placement of `count` titles (a multiple of 8), all held: what a node could send, whatever its placement. */
const allHeld = (count: number) => ({ generation: 1, held: Buffer.alloc(count / 8, 0xff).toString('base64url'), count });
const appliance = (route: Route, options: Parameters<typeof applianceEvent>[2] = {}) => () => applianceEvent(route, ROLE, options);
const registerWith = (body: unknown) => appliance('POST /fleet/register', { body });
const reportWith = (body: unknown) => appliance('POST /fleet/report', { body });

/** The IAM authorizer's caller as API Gateway could pass it on. */
function oddPrincipals(route: Route): Hostile[] {
  const options = {
    body: route === 'POST /fleet/register' ? REGISTRATION : route === 'POST /fleet/report' ? report() : undefined,
    query: route === 'GET /fleet/manifest' ? { applianceId: 'oca-1' } : undefined,
  };
  const principal = (authorizer: unknown) => () => withAuthorizer(applianceEvent(route, ROLE, options), authorizer);
  return [
    ['no signature', undefined],
    ['a numeric caller ARN', { iam: { userArn: 42 } }],
    ['a caller that is not an ARN', { iam: { userArn: 'oca-1' } }],
    ['a caller ARN over 2048 characters', { iam: { userArn: `${ROLE}/${long(2048)}` } }],
  ].map(([what, authorizer]) => ({ what: what as string, event: principal(authorizer), status: 401, field: 'Authorization' }));
}

const HOSTILE: Record<Route, Hostile[]> = {
  'POST /fleet/register': [
    ...oddPrincipals('POST /fleet/register'),
    { what: 'no body', event: appliance('POST /fleet/register'), status: 400, field: 'body' },
    { what: 'base64 that is not JSON', event: () => withRawBody(applianceEvent('POST /fleet/register', ROLE), 'not base64 !!', true), status: 400, field: 'body' },
    { what: 'a body over 16 KiB', event: registerWith({ ...REGISTRATION, prefixes: Array(400).fill('2001:db8:ffff:ffff:ffff:ffff:ffff:0/112') }), status: 413, field: 'body' },
    { what: 'an unknown field', event: registerWith({ ...REGISTRATION, extra: 1 }), status: 400, field: 'body.extra' },
    ...[long(65), long(5000), 'oca#1', 'oca-1\u0000', 'oca.1'].map((applianceId) => ({
      what: `appliance id ${JSON.stringify(applianceId.slice(0, 12))} (${applianceId.length} characters)`,
      event: registerWith({ ...REGISTRATION, applianceId }),
      status: 400,
      field: 'body.applianceId',
    })),
    { what: 'a cluster id with a #', event: registerWith({ ...REGISTRATION, clusterId: 'isp#a' }), status: 400, field: 'body.clusterId' },
    { what: 'a region with a NUL', event: registerWith({ ...REGISTRATION, region: 'us-east-1\u0000' }), status: 400, field: 'body.region' },
    { what: 'a 5,000-character region', event: registerWith({ ...REGISTRATION, region: `us-${long(5000)}-1` }), status: 400, field: 'body.region' },
    ...['not a url', 'javascript:alert(1)', 'https://oca-1.example/path', `https://${long(300)}.example`, 'https://oca-1.example?x=1'].map((baseUrl) => ({
      what: `base URL '${baseUrl.slice(0, 30)}'`,
      event: registerWith({ ...REGISTRATION, baseUrl }),
      status: 400,
      field: 'body.baseUrl',
    })),
    ...[1e200, 1e-300, 0, -1, '40', 1001].map((egressGbps) => ({
      what: `capacity.egressGbps ${JSON.stringify(egressGbps)}`,
      event: registerWith({ ...REGISTRATION, capacity: { ...REGISTRATION.capacity, egressGbps } }),
      status: 400,
      field: 'body.capacity.egressGbps',
    })),
    ...[1e200, 1.5, 2 ** 60, 0].map((diskBytes) => ({
      what: `capacity.diskBytes ${diskBytes}`,
      event: registerWith({ ...REGISTRATION, capacity: { ...REGISTRATION.capacity, diskBytes } }),
      status: 400,
      field: 'body.capacity.diskBytes',
    })),
    { what: `${MAX_PREFIXES + 1} prefixes`, event: registerWith({ ...REGISTRATION, prefixes: Array(MAX_PREFIXES + 1).fill('10.0.0.0/8') }), status: 400, field: 'body.prefixes' },
    { what: 'a 100-character prefix', event: registerWith({ ...REGISTRATION, prefixes: [long(100)] }), status: 400, field: 'body.prefixes[0]' },
    { what: 'a prefix longer than its address', event: registerWith({ ...REGISTRATION, prefixes: ['10.0.0.0/33'] }), status: 400, field: 'body.prefixes[0]' },
  ],
  'POST /fleet/report': [
    ...oddPrincipals('POST /fleet/report'),
    { what: 'a body that is not JSON', event: appliance('POST /fleet/report', { rawBody: 'load=1' }), status: 400, field: 'body' },
    ...[1e200, -1, '12'].map((egressGbps) => ({
      what: `health.egressGbps ${JSON.stringify(egressGbps)}`,
      event: reportWith(report(undefined, { egressGbps })),
      status: 400,
      field: 'body.health.egressGbps',
    })),
    ...[2, -0.1, 1e200].map((load) => ({ what: `health.load ${load}`, event: reportWith(report(undefined, { load })), status: 400, field: 'body.health.load' })),
    ...[1e200, -1, 0.5].map((diskUsedBytes) => ({
      what: `health.diskUsedBytes ${diskUsedBytes}`,
      event: reportWith(report(undefined, { diskUsedBytes })),
      status: 400,
      field: 'body.health.diskUsedBytes',
    })),
    { what: 'holdings of more titles than a placement may have', event: reportWith({ ...report(), holdings: allHeld(MAX_PLACEMENT_TITLES + 8) }), status: 400, field: 'body.holdings.count' },
    { what: 'held longer than any placement\'s bits', event: reportWith(withHoldings({ held: 'A'.repeat(8000) })), status: 400, field: 'body.holdings.held' },
    { what: 'a count of other bits than held sets', event: reportWith(withHoldings({ count: 2 })), status: 400, field: 'body.holdings.count' },
    { what: 'held that is not base64url', event: reportWith(withHoldings({ held: 'gA==' })), status: 400, field: 'body.holdings.held' },
    { what: 'held of a length base64 never has', event: reportWith(withHoldings({ held: 'gAAAA', count: 1 })), status: 400, field: 'body.holdings.held' },
    ...[0, -1, 1.5, 2 ** 60, '1'].map((generation) => ({
      what: `holdings.generation ${JSON.stringify(generation)}`,
      event: reportWith(withHoldings({ generation })),
      status: 400,
      field: 'body.holdings.generation',
    })),
    { what: 'holdings with an unknown field', event: reportWith(withHoldings({ titles: ['movie-1'] })), status: 400, field: 'body.holdings.titles' },
    { what: 'the inventory the old protocol sent', event: reportWith({ applianceId: 'oca-1', health: report().health, inventory: { titles: ['movie-1'] } }), status: 400, field: 'body.inventory' },
    { what: 'a body over the holdings limit', event: reportWith({ ...report(), holdings: allHeld(MAX_PLACEMENT_TITLES), padding: long(8192) }), status: 413, field: 'body' },
  ],
  'GET /fleet/manifest': [
    ...oddPrincipals('GET /fleet/manifest'),
    { what: 'no appliance id', event: appliance('GET /fleet/manifest'), status: 400, field: 'query.applianceId' },
    ...['oca-1,oca-2', long(5000), 'oca-1\u0000', ''].map((applianceId) => ({
      what: `appliance id ${JSON.stringify(applianceId.slice(0, 12))} (${applianceId.length} characters)`,
      event: appliance('GET /fleet/manifest', { query: { applianceId } }),
      status: 400,
      field: 'query.applianceId',
    })),
  ],
};

describe('hostile appliance requests against DynamoDB Local', () => {
  let dynamo: DynamoDbLocal;
  let store: FleetStore;
  let routes: Record<Route, RouteUnderTest>;

  beforeAll(async () => {
    dynamo = await DynamoDbLocal.start();
    await dynamo.createControlTable(TABLE);
    store = new FleetStore(dynamo.documentClient(), TABLE);
    await store.register(REGISTRATION, ROLE, new Date(clockMs));
    await store.putManifestPointer({ clusterId: 'isp-a-nyc', generation: 1, bucket: 'origin', key: 'manifests/isp-a-nyc/1.json', createdAt: new Date(clockMs).toISOString() });
    const handler = createFleetHandler({ store, now: () => new Date(clockMs), metrics: new MetricRecorder() });
    routes = {
      'POST /fleet/register': { handler, legitimate: registerWith(REGISTRATION), status: 200 },
      'POST /fleet/report': { handler, legitimate: reportWith(report()), status: 200 },
      'GET /fleet/manifest': { handler, legitimate: appliance('GET /fleet/manifest', { query: { applianceId: 'oca-1' } }), status: 200 },
    };
  });

  afterAll(async () => {
    await dynamo?.stop();
  });

  it.each(hostileRows(HOSTILE))('%s with %s: answers 4xx naming the field, writes nothing, and the next request works', async (route, _what, hostile) => {
    await expectRefusedWithoutTrace(routes[route], hostile, () => tableItems(dynamo.documentClient(), TABLE));
  });

  it('stores shares and rates too small for DynamoDB as the 0 they round to', async () => {
    const response = await routes['POST /fleet/report'].handler(reportWith(report(['movie-1'], { load: 1e-300, errorRate: 4e-7, egressGbps: 1e-300 }))());
    expect(response.statusCode).toBe(200);
    expect(await store.describe('oca-1')).toMatchObject({ load: 0, errorRate: 0 });
  });

  it('stores the largest registration and holdings the schemas accept, with health items under 1 KB', async () => {
    const longestArn = `${ROLE}/`.padEnd(REQUEST_LIMITS.principalArnChars, 'r');
    const host = ['a', 'b', 'c'].map((label) => label.repeat(63)).concat('d'.repeat(61)).join('.');
    const largest = {
      applianceId: long(REQUEST_LIMITS.idChars),
      clusterId: long(REQUEST_LIMITS.idChars),
      region: 'us-gov-southeast-1',
      baseUrl: `https://${host}:65535`,
      capacity: { egressGbps: 999.999, diskBytes: Number.MAX_SAFE_INTEGER },
      prefixes: Array(MAX_PREFIXES).fill('ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128'),
    };
    const fullReport = {
      ...report([], { egressGbps: 999.999, diskUsedBytes: Number.MAX_SAFE_INTEGER, load: 0.123457, errorRate: 0.654321 }),
      applianceId: largest.applianceId,
      holdings: { ...allHeld(MAX_PLACEMENT_TITLES), generation: Number.MAX_SAFE_INTEGER },
    };

    const registered = await routes['POST /fleet/register'].handler(applianceEvent('POST /fleet/register', longestArn, { body: largest }));
    const reported = await routes['POST /fleet/report'].handler(applianceEvent('POST /fleet/report', longestArn, { body: fullReport }));

    expect([largest.baseUrl.length, largest.prefixes[0].length]).toEqual([REQUEST_LIMITS.baseUrlChars, REQUEST_LIMITS.prefixChars]);
    expect([registered.statusCode, reported.statusCode, (bodyOf(reported).holdings as { count: number }).count]).toEqual([200, 200, MAX_PLACEMENT_TITLES]);
    // DynamoDB charges a write by the larger of the item before and after, 1 KB per unit: one unit is an item under 1 KB.
    const client = dynamo.documentClient();
    const consumed = recordConsumedCapacity(client);
    await new FleetStore(client, TABLE).report({ ...fullReport, holdings: undefined }, longestArn, clockMs + 1);
    expect(consumed().byCommand.UpdateItemCommand).toEqual({ calls: 1, units: 1 });
  });
});
