import { Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { CatalogStore } from '../../lambda/catalog/catalog-store';
import { createCatalogHandler } from '../../lambda/catalog/handler';
import { FleetStore } from '../../lambda/fleet/fleet-store';
import { createHomeHandler } from '../../lambda/home/handler';
import { FleetCache } from '../../lambda/playback/fleet-cache';
import { createPlayHandler } from '../../lambda/playback/handler';
import { activeKeySigner } from '../../lambda/playback/origin-signer';
import { DEFAULT_STEERING_POLICY } from '../../lambda/playback/steering';
import { ViewerStore } from '../../lambda/playback/viewer-store';
import { formatOriginSigningKey } from '../../lambda/shared/origin-signing-key';
import { DemandStore } from '../../lambda/telemetry/demand-store';
import { createTelemetryHandler } from '../../lambda/telemetry/handler';
import { DynamoDbLocal } from '../support/dynamodb-local';
import { bodyOf, viewerEvent } from '../support/events';
import { catalogTitle, cloudFrontKeyPair, TEST_KEYRING } from '../support/fixtures';
import { snapshotLoader } from '../support/steering';
import { b64url, deeplyNested, expectRefusedWithoutTrace, Hostile, hostileRows, long, RouteUnderTest, tableItems, withAuthorizer, withRawBody } from '../support/hostile';
import { freePort } from '../support/ports';

/**
 * The viewer routes, fed what a hostile or broken client sends: each request must be answered 4xx
 * with a message naming the field, leave the table as it was, and leave the route working for the
 * next, legitimate request. Only a failure on our side may be a 500.
 */

const TABLE = 'nearstream-hostile-viewer-test';
let clockMs = Date.parse('2026-11-21T20:00:00Z');

type Route = 'GET /titles' | 'GET /titles/{titleId}' | 'POST /play' | 'POST /events' | 'GET /home';

const PLAY = { titleId: 'movie-1', device: { codecs: ['avc1'], maxHeight: 1080 } };
const event = (overrides: Record<string, unknown> = {}) => ({ type: 'heartbeat', sessionId: 's-alice', at: new Date(clockMs).toISOString(), ...overrides });
const viewer = (route: Route, options: Parameters<typeof viewerEvent>[2] = {}) => () => viewerEvent(route, 'alice', options);
const playWith = (body: unknown) => viewer('POST /play', { body });
const eventsWith = (body: unknown) => viewer('POST /events', { body });

/** The JWT authorizer's claims as API Gateway could pass them on for a token its issuer signed. */
function oddClaims(route: Route): Hostile[] {
  const options = {
    pathParameters: route === 'GET /titles/{titleId}' ? { titleId: 'movie-1' } : undefined,
    body: route === 'POST /play' ? PLAY : route === 'POST /events' ? { events: [event()] } : undefined,
  };
  const claims = (authorizer: unknown) => () => withAuthorizer(viewerEvent(route, 'alice', options), authorizer);
  return [
    ['no authorizer at all', undefined],
    ['claims without sub', { jwt: { claims: { iss: 'x' } } }],
    ['an empty sub', { jwt: { claims: { sub: '' } } }],
    ['a numeric sub', { jwt: { claims: { sub: 42 } } }],
    ['a 5,000-character sub', { jwt: { claims: { sub: long(5000) } } }],
    ['a sub with a NUL', { jwt: { claims: { sub: 'alice\u0000' } } }],
    ['a sub with a newline', { jwt: { claims: { sub: 'alice\nbob' } } }],
    ['a non-ASCII sub', { jwt: { claims: { sub: 'ålice' } } }],
  ].map(([what, authorizer]) => ({ what: what as string, event: claims(authorizer), status: 401, field: 'token.sub' }));
}

const HOSTILE: Record<Route, Hostile[]> = {
  'GET /titles': [
    ...oddClaims('GET /titles'),
    ...['0', '101', '1e2', '0x10', '1.5', '-1', ' 5', '', 'NaN', '9'.repeat(400)].map((limit) => ({
      what: `limit '${limit.slice(0, 12)}'`,
      event: viewer('GET /titles', { query: { limit } }),
      status: 400,
      field: 'query.limit',
    })),
    { what: 'a repeated limit (API Gateway joins them with a comma)', event: viewer('GET /titles', { query: { limit: '1,2' } }), status: 400, field: 'query.limit' },
    { what: 'an unknown parameter', event: viewer('GET /titles', { query: { order: 'desc' } }), status: 400, field: 'query.order' },
    ...[
      ['another partition\'s key as JSON', b64url(JSON.stringify({ pk: 'account#alice', sk: 'plan' }))],
      ['last release\'s JSON cursor', b64url(JSON.stringify({ pk: 'title#movie-1', sk: 'title', gsi1pk: 'catalog', gsi1sk: 'title movie-1#movie-1' }))],
      ['a sort key with no title id', b64url('no title id here')],
      ['a sort key ending in a bad title id', b64url('name#../etc')],
      ['an empty cursor', ''],
      ['characters outside base64url', '***'],
      ['padded base64', 'QQ=='],
      ['non-canonical base64url', 'QR'],
      ['bytes that are not UTF-8', b64url(Buffer.from([0xff, 0xfe, 0x23, 0x61]))],
      ['a cursor longer than any sort key', b64url(`${long(1100)}#movie-1`)],
      ['a repeated cursor (joined with a comma)', `${b64url('a#b')},${b64url('c#d')}`],
    ].map(([what, cursor]) => ({ what, event: viewer('GET /titles', { query: { cursor } }), status: 400, field: 'query.cursor' })),
  ],
  'GET /titles/{titleId}': [
    ...oddClaims('GET /titles/{titleId}'),
    ...[long(65), long(5000), 'a/b', '..', 'a\u0000b', 'a b', 'ñ', '', '-a', 'a#b', 'movie-1\n'].map((titleId) => ({
      what: `title id ${JSON.stringify(titleId.slice(0, 12))} (${titleId.length} characters)`,
      event: viewer('GET /titles/{titleId}', { pathParameters: { titleId } }),
      status: 400,
      field: 'path.titleId',
    })),
    { what: 'no path parameters', event: viewer('GET /titles/{titleId}'), status: 400, field: 'path.titleId' },
  ],
  'POST /play': [
    ...oddClaims('POST /play'),
    { what: 'no body', event: viewer('POST /play'), status: 400, field: 'body' },
    { what: 'a body that is not JSON', event: viewer('POST /play', { rawBody: 'titleId=movie-1' }), status: 400, field: 'body' },
    { what: 'a JSON null', event: viewer('POST /play', { rawBody: 'null' }), status: 400, field: 'body' },
    { what: 'a JSON array', event: viewer('POST /play', { rawBody: '[]' }), status: 400, field: 'body' },
    { what: 'a JSON string', event: viewer('POST /play', { rawBody: '"movie-1"' }), status: 400, field: 'body' },
    { what: 'base64 that is not JSON', event: () => withRawBody(viewerEvent('POST /play', 'alice'), b64url('\u0000\u0001garbage'), true), status: 400, field: 'body' },
    { what: 'a body over 16 KiB', event: playWith({ ...PLAY, clientIp: long(17 * 1024) }), status: 413, field: 'body' },
    {
      what: 'a 7,000-deep nesting',
      event: viewer('POST /play', { rawBody: `{"titleId":"movie-1","device":{"maxHeight":1080,"codecs":${deeplyNested(7000)}}}` }),
      status: 400,
      field: 'body.device.codecs[0]',
    },
    { what: 'a __proto__ key', event: viewer('POST /play', { rawBody: `{"__proto__":{"admin":true},${JSON.stringify(PLAY).slice(1)}` }), status: 400, field: 'body.__proto__' },
    { what: 'an unknown field', event: playWith({ ...PLAY, priority: 'high' }), status: 400, field: 'body.priority' },
    { what: 'a 5,000-character title id', event: playWith({ ...PLAY, titleId: long(5000) }), status: 400, field: 'body.titleId' },
    { what: 'a title id with a NUL', event: playWith({ ...PLAY, titleId: 'movie-1\u0000' }), status: 400, field: 'body.titleId' },
    ...[1e200, 1e-300, 1080.5, -1, '1080', null].map((maxHeight) => ({
      what: `maxHeight ${JSON.stringify(maxHeight)}`,
      event: playWith({ ...PLAY, device: { ...PLAY.device, maxHeight } }),
      status: 400,
      field: 'body.device.maxHeight',
    })),
    { what: 'an unknown codec', event: playWith({ ...PLAY, device: { ...PLAY.device, codecs: ['vp9'] } }), status: 400, field: 'body.device.codecs[0]' },
    { what: 'no codecs', event: playWith({ ...PLAY, device: { ...PLAY.device, codecs: [] } }), status: 400, field: 'body.device.codecs' },
    { what: 'more codecs than exist', event: playWith({ ...PLAY, device: { ...PLAY.device, codecs: Array(4).fill('avc1') } }), status: 400, field: 'body.device.codecs' },
    { what: 'a client IP that is not one', event: playWith({ ...PLAY, clientIp: '999.1.1.1' }), status: 400, field: 'body.clientIp' },
  ],
  'POST /events': [
    ...oddClaims('POST /events'),
    { what: 'no body', event: viewer('POST /events'), status: 400, field: 'body' },
    { what: 'a body that is not JSON', event: viewer('POST /events', { rawBody: '{"events": [' }), status: 400, field: 'body' },
    { what: 'a body over 64 KiB', event: eventsWith({ events: [event({ code: long(65 * 1024) })] }), status: 413, field: 'body' },
    { what: 'no events', event: eventsWith({ events: [] }), status: 400, field: 'body.events' },
    { what: 'events that are not a list', event: eventsWith({ events: { 0: event() } }), status: 400, field: 'body.events' },
    { what: '101 events', event: eventsWith({ events: Array.from({ length: 101 }, () => event()) }), status: 400, field: 'body.events' },
    { what: 'a 20,000-deep nesting', event: viewer('POST /events', { rawBody: `{"events":${deeplyNested(20_000)}}` }), status: 400, field: 'body.events[0]' },
    { what: 'an unknown event type', event: eventsWith({ events: [event({ type: 'pause' })] }), status: 400, field: 'body.events[0].type' },
    { what: 'an unknown field', event: eventsWith({ events: [event({ extra: 1 })] }), status: 400, field: 'body.events[0].extra' },
    { what: 'a 5,000-character session id', event: eventsWith({ events: [event({ sessionId: long(5000) })] }), status: 400, field: 'body.events[0].sessionId' },
    { what: 'a session id with a NUL', event: eventsWith({ events: [event({ sessionId: 's-alice\u0000' })] }), status: 400, field: 'body.events[0].sessionId' },
    ...[1e200, -1, '60', 7 * 24 * 3600 + 1].map((positionSeconds) => ({
      what: `positionSeconds ${JSON.stringify(positionSeconds)}`,
      event: eventsWith({ events: [event({ positionSeconds })] }),
      status: 400,
      field: 'body.events[0].positionSeconds',
    })),
    ...[1e200, 1.5, 0, -5].map((bitrateKbps) => ({
      what: `bitrateKbps ${bitrateKbps}`,
      event: eventsWith({ events: [event({ type: 'bitrate-switch', bitrateKbps })] }),
      status: 400,
      field: 'body.events[0].bitrateKbps',
    })),
    ...['yesterday', '2026-02-30T00:00:00Z', '9999-12-31T23:59:59Z', '1970-01-01T00:00:00Z', '2026-11-21T20:00:00'].map((at) => ({
      what: `at '${at}'`,
      event: eventsWith({ events: [event(), event({ at })] }),
      status: 400,
      field: 'body.events[1].at',
    })),
    { what: 'fatal that is not a boolean', event: eventsWith({ events: [event({ type: 'error', fatal: 'yes' })] }), status: 400, field: 'body.events[0].fatal' },
    { what: 'a 65-character error code', event: eventsWith({ events: [event({ type: 'error', code: long(65) })] }), status: 400, field: 'body.events[0].code' },
  ],
  'GET /home': oddClaims('GET /home'),
};

describe('hostile viewer requests against DynamoDB Local', () => {
  let dynamo: DynamoDbLocal;
  let catalog: CatalogStore;
  let viewers: ViewerStore;
  let routes: Record<Route, RouteUnderTest>;

  beforeAll(async () => {
    dynamo = await DynamoDbLocal.start();
    await dynamo.createControlTable(TABLE);
    const client = dynamo.documentClient();
    catalog = new CatalogStore(client, TABLE);
    viewers = new ViewerStore(client, TABLE);
    const demand = new DemandStore(client, TABLE);
    const fleet = new FleetStore(client, TABLE);
    await catalog.put(catalogTitle('movie-1'));
    await catalog.put(catalogTitle('movie-2'));
    await viewers.putPlan('alice', 'premium');
    await viewers.putSession({ sessionId: 's-alice', accountId: 'alice', titleId: 'movie-1', slot: 0, createdAt: '', expiresAtEpochSeconds: clockMs / 1000 + 3600 });
    const originSecret = formatOriginSigningKey({ keyPairId: 'K2JCJMDEHXQW5F', generation: 1, privateKeyPem: cloudFrontKeyPair().privateKeyPem });
    const nowMs = () => clockMs;

    const catalogHandler = createCatalogHandler({ catalog, nowMs });
    const play = createPlayHandler({
      catalog,
      viewers,
      fleet: new FleetCache(snapshotLoader(fleet, 'us-east-1', nowMs), { maxAgeMs: 10_000, loadTimeoutMs: 2000, retryAfterMs: 1000, policy: DEFAULT_STEERING_POLICY }, nowMs),
      keyring: async () => TEST_KEYRING,
      origin: activeKeySigner({ get: async () => originSecret }, 'origin-signing-key', 'd111111abcdef8.cloudfront.net'),
      region: 'us-east-1',
      sessionTtlSeconds: 3600,
      leaseSeconds: 300,
      nowMs,
      newSessionId: () => `session-${clockMs}`,
    });
    routes = {
      'GET /titles': { handler: catalogHandler, legitimate: viewer('GET /titles', { query: { limit: '1' } }), status: 200 },
      'GET /titles/{titleId}': { handler: catalogHandler, legitimate: viewer('GET /titles/{titleId}', { pathParameters: { titleId: 'movie-1' } }), status: 200 },
      'POST /play': {
        handler: (request: APIGatewayProxyEventV2) => {
          clockMs += 301_000; // the previous play's stream slot has run out
          return play(request);
        },
        legitimate: playWith(PLAY),
        status: 200,
      },
      'POST /events': {
        handler: createTelemetryHandler({ viewers, demand, metrics: new Metrics(), region: 'us-east-1', leaseSeconds: 300, nowMs }),
        legitimate: () => viewerEvent('POST /events', 'alice', { body: { events: [event({ positionSeconds: 60 })] } }),
        status: 202,
      },
      'GET /home': {
        handler: createHomeHandler({ catalog, viewers, demand, region: 'us-east-1', nowMs, topTitlesCacheMs: 0 }),
        legitimate: viewer('GET /home'),
        status: 200,
      },
    };
  });

  afterAll(async () => {
    await dynamo?.stop();
  });

  it.each(hostileRows(HOSTILE))('%s with %s: answers 4xx naming the field, writes nothing, and the next request works', async (route, _what, hostile) => {
    await expectRefusedWithoutTrace(routes[route], hostile, () => tableItems(dynamo.documentClient(), TABLE));
  });

  it('takes a base64-encoded body as API Gateway passes binary ones', async () => {
    const request = withRawBody(viewerEvent('POST /play', 'alice'), b64url(JSON.stringify(PLAY)), true);
    expect((await routes['POST /play'].handler(request)).statusCode).toBe(200);
  });

  it('stores a position too small for DynamoDB as the 0 it rounds to', async () => {
    clockMs += 1000;
    const response = await routes['POST /events'].handler(viewerEvent('POST /events', 'alice', { body: { events: [event({ positionSeconds: 1e-300 })] } }));
    expect(response.statusCode).toBe(202);
    expect(await viewers.continueWatching('alice', 1)).toEqual([expect.objectContaining({ titleId: 'movie-1', positionSeconds: 0 })]);
  });

  it('lets a forged cursor name only a position in the catalog, where it is harmless', async () => {
    for (const position of ['zzz#zzz', '#movie-1', 'title movie-1\u0000#movie-1', `${'é'.repeat(400)}#${long(64)}`]) {
      const response = await routes['GET /titles'].handler(viewerEvent('GET /titles', 'alice', { query: { cursor: b64url(position) } }));
      expect([position, response.statusCode]).toEqual([position, 200]);
    }
  });

  it('pages through the catalog with the cursors it issues', async () => {
    const list = (query: Record<string, string>) => routes['GET /titles'].handler(viewerEvent('GET /titles', 'alice', { query }));
    const first = bodyOf(await list({ limit: '1' }));
    const second = bodyOf(await list({ limit: '1', cursor: first.nextCursor as string }));
    expect([first.titles, second.titles].map((titles) => (titles as { titleId: string }[]).map((t) => t.titleId))).toEqual([['movie-1'], ['movie-2']]);
  });

  it('answers an unreachable table with a 500 carrying the request id and nothing of the stack', async () => {
    const closedPort = await freePort();
    const unreachable = DynamoDBDocumentClient.from(
      new DynamoDBClient({ endpoint: `http://127.0.0.1:${closedPort}`, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 }),
    );
    const handler = createCatalogHandler({ catalog: new CatalogStore(unreachable, TABLE), nowMs: () => clockMs });

    const response = await handler(viewerEvent('GET /titles/{titleId}', 'alice', { pathParameters: { titleId: 'movie-1' } }));

    expect([response.statusCode, bodyOf(response)]).toEqual([500, { error: 'internal', message: 'the request failed; retry, or report the request id', requestId: 'request-1' }]);
  });
});
