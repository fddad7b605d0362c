import { CatalogStore } from '../../../lambda/catalog/catalog-store';
import { CommercialLicenseProxy } from '../../../lambda/license/commercial-license-proxy';
import { createLicenseHandler } from '../../../lambda/license/handler';
import { ViewerStore } from '../../../lambda/playback/viewer-store';
import { kidToBase64Url } from '../../../lambda/shared/content-protection';
import { DynamoDbLocal } from '../../support/dynamodb-local';
import { viewerEvent } from '../../support/events';
import { b64url, deeplyNested, expectRefusedWithoutTrace, Hostile, long, RouteUnderTest, tableItems, withAuthorizer, withRawBody } from '../../support/hostile';
import { MetricRecorder } from '../../support/metric-recorder';
import { clearKeyRequest, InMemoryTitleKeys, playerOf, protectedTitle, titleKeysOf } from './license-fixtures';

/**
 * `POST /license/clearkey` fed what a hostile or broken player sends: each request is answered 4xx
 * naming the field, leaves the table as it was, and the next, legitimate request still gets its keys.
 */

const TABLE = 'nearstream-hostile-license';
const clockMs = Date.parse('2026-11-21T20:00:00Z');
const movie = titleKeysOf('locked-1');
const KID = kidToBase64Url(movie.AUDIO.kid);
let sessionId = '';

const license = (options: Parameters<typeof viewerEvent>[2] = {}) => () =>
  viewerEvent('POST /license/{system}', 'alice', { pathParameters: { system: 'clearkey' }, query: { session: sessionId }, ...options });
const withBody = (body: unknown) => license({ body });
const withKids = (kids: unknown) => withBody({ kids, type: 'temporary' });
const badKid = (what: string, kid: unknown): Hostile => ({ what, event: withKids([KID, kid]), status: 400, field: 'body.kids[1]' });

const HOSTILE: Hostile[] = [
  ...[
    ['no authorizer at all', undefined],
    ['an empty sub', { jwt: { claims: { sub: '' } } }],
    ['a sub with a newline', { jwt: { claims: { sub: 'alice\nbob' } } }],
  ].map(([what, authorizer]) => ({ what: what as string, event: () => withAuthorizer(license({ body: clearKeyRequest(movie.AUDIO) })(), authorizer), status: 401, field: 'token.sub' })),
  { what: 'no session parameter', event: () => viewerEvent('POST /license/{system}', 'alice', { pathParameters: { system: 'clearkey' }, body: clearKeyRequest(movie.AUDIO) }), status: 400, field: 'query.session' },
  ...['', long(65), '../play-1', 'play-1\u0000', 'play 1'].map((session) => ({
    what: `session ${JSON.stringify(session.slice(0, 12))} (${session.length} characters)`,
    event: () => viewerEvent('POST /license/{system}', 'alice', { pathParameters: { system: 'clearkey' }, query: { session }, body: clearKeyRequest(movie.AUDIO) }),
    status: 400,
    field: 'query.session',
  })),
  { what: 'an unknown query parameter', event: () => viewerEvent('POST /license/{system}', 'alice', { pathParameters: { system: 'clearkey' }, query: { session: sessionId, debug: '1' }, body: clearKeyRequest(movie.AUDIO) }), status: 400, field: 'query.debug' },
  { what: 'no body', event: license(), status: 400, field: 'body' },
  { what: 'a body that is not JSON', event: license({ rawBody: 'kids=abc' }), status: 400, field: 'body' },
  { what: 'a truncated JSON body', event: license({ rawBody: '{"kids":["' }), status: 400, field: 'body' },
  { what: 'a JSON null', event: license({ rawBody: 'null' }), status: 400, field: 'body' },
  { what: 'a JSON array', event: license({ rawBody: `["${KID}"]` }), status: 400, field: 'body' },
  { what: 'base64 that is not JSON', event: () => withRawBody(license()(), b64url('\u0000\u0001garbage'), true), status: 400, field: 'body' },
  { what: 'a body over 4 KiB', event: withBody({ ...clearKeyRequest(movie.AUDIO), pad: long(5000) }), status: 413, field: 'body' },
  { what: 'a 1 MiB body', event: license({ rawBody: `{"kids":["${long(1024 * 1024)}"],"type":"temporary"}` }), status: 413, field: 'body' },
  { what: 'no kids', event: withBody({ type: 'temporary' }), status: 400, field: 'body.kids' },
  { what: 'kids that are not a list', event: withKids(KID), status: 400, field: 'body.kids' },
  { what: 'an empty list of kids', event: withKids([]), status: 400, field: 'body.kids' },
  { what: '17 kids', event: withKids(Array(17).fill(KID)), status: 400, field: 'body.kids' },
  { what: 'a 2,000-deep nesting', event: license({ rawBody: `{"type":"temporary","kids":${deeplyNested(2000)}}` }), status: 400, field: 'body.kids[0]' },
  badKid('a numeric kid', 42),
  badKid('a null kid', null),
  badKid('an empty kid', ''),
  badKid('a kid in standard base64 (+ and /)', Buffer.from('fbfbfbfbfbfbfbfbfbfbfbfbfbfbfbfb', 'hex').toString('base64').replace(/=+$/, '')),
  badKid('a padded kid', `${KID}==`),
  badKid('a kid in hex', movie.AUDIO.kid),
  badKid('a kid in UUID form', '01234567-89ab-cdef-0123-456789abcdef'),
  badKid('a 15-byte kid', b64url(Buffer.alloc(15, 1))),
  badKid('a 17-byte kid', b64url(Buffer.alloc(17, 1))),
  badKid('a 21-character kid', KID.slice(0, 21)),
  badKid('a non-canonical kid (unused bits set)', `${KID.slice(0, 21)}${KID.at(-1) === 'B' ? 'C' : 'B'}`),
  badKid('a 1,000-character kid', long(1000)),
  badKid('a kid with a NUL', `${KID.slice(0, 21)}\u0000`),
  { what: 'no type', event: withBody({ kids: [KID] }), status: 400, field: 'body.type' },
  { what: 'a persistent-license type', event: withBody({ kids: [KID], type: 'persistent-license' }), status: 400, field: 'body.type' },
  { what: 'an unknown field', event: withBody({ ...clearKeyRequest(movie.AUDIO), kty: 'oct' }), status: 400, field: 'body.kty' },
  { what: 'a __proto__ key', event: license({ rawBody: `{"__proto__":{"admin":true},"kids":["${KID}"],"type":"temporary"}` }), status: 400, field: 'body.__proto__' },
  { what: 'a well-formed kid of no key of the title', event: withKids([b64url(Buffer.alloc(16, 7))]), status: 403, field: 'body.kids' },
];

describe('hostile license requests against DynamoDB Local', () => {
  let dynamo: DynamoDbLocal;
  let route: RouteUnderTest;

  beforeAll(async () => {
    dynamo = await DynamoDbLocal.start();
    await dynamo.createControlTable(TABLE);
    const client = dynamo.documentClient();
    await new CatalogStore(client, TABLE).put(protectedTitle('locked-1', movie));
    const viewers = new ViewerStore(client, TABLE);
    await viewers.putPlan('alice', 'premium');
    sessionId = await playerOf(client, TABLE, () => clockMs)('alice', 'locked-1', 1080);
    const titleKeys = new InMemoryTitleKeys();
    titleKeys.add(...Object.values(movie));
    route = {
      handler: createLicenseHandler({
        sessions: viewers,
        catalog: new CatalogStore(client, TABLE),
        titleKeys,
        nowMs: () => clockMs,
        commercial: new CommercialLicenseProxy({}, { get: async () => '{"headers":{}}' }),
        metrics: new MetricRecorder(),
      }),
      legitimate: withBody(clearKeyRequest(movie.AUDIO, movie.HD2)),
      status: 200,
    };
  });

  afterAll(async () => {
    await dynamo?.stop();
  });

  it.each(HOSTILE.map((hostile) => [hostile.what, hostile] as const))('%s: answers 4xx naming the field, writes nothing, and the next request gets its keys', async (_what, hostile) => {
    await expectRefusedWithoutTrace(route, hostile, () => tableItems(dynamo.documentClient(), TABLE));
  });

  it('takes a base64-encoded body as API Gateway passes binary ones (an EME message is bytes)', async () => {
    const request = withRawBody(license()(), b64url(JSON.stringify(clearKeyRequest(movie.AUDIO))), true);

    expect((await route.handler(request)).statusCode).toBe(200);
  });
});
