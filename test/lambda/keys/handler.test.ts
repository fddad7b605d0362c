import { randomBytes } from 'node:crypto';
import { GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { CPIX_NAMESPACE, MAX_CPIX_REQUEST_BYTES } from '../../../lambda/keys/cpix';
import { ContentKeyStore, KmsKeyWrapper, LocalKeyWrapper } from '../../../lambda/keys/content-key-store';
import { createKeyProviderHandler, KEY_PROVIDER_USER_AGENT, KeyProviderHandler } from '../../../lambda/keys/handler';
import { clearKeyLicenseUrl, KeyProvider } from '../../../lambda/keys/key-provider';
import { attributeOf, parseXml, XmlElement } from '../../../lambda/keys/strict-xml';
import { ContentKey, DRM_SYSTEMS } from '../../../lambda/shared/content-protection';
import { logger } from '../../../lambda/shared/powertools';
import { DynamoDbLocal } from '../../support/dynamodb-local';
import { tableItems } from '../../support/hostile';
import { KMS_KEY_ID, kmsModel } from './kms-model';
import { hex, KIDS, mediaConvertRequest, spekeEvent } from './speke-requests';

const TABLE = 'nearstream-key-provider';
const LICENSE_BASE_URL = 'https://api.nearstream.example';
const cpixChildren = (element: XmlElement, name: string) => element.children.filter((child) => child.namespace === CPIX_NAMESPACE && child.localName === name);

/** kid (hex) to the key the response hands out for it. */
function keysIn(response: APIGatewayProxyResult): Map<string, string> {
  const root = parseXml(response.body);
  const [list] = cpixChildren(root, 'ContentKeyList');
  return new Map(
    cpixChildren(list, 'ContentKey').map((key) => [hex(attributeOf(key, 'kid')!), cpixChildren(key, 'Data')[0].children[0].children[0].text]),
  );
}

function forms(key: Buffer): string[] {
  return [key.toString('hex'), key.toString('base64'), key.toString('base64url')];
}

describe('the SPEKE v2.0 key provider endpoint, against DynamoDB Local and KMS', () => {
  let dynamo: DynamoDbLocal;
  let client: DynamoDBDocumentClient;
  let store: ContentKeyStore;
  let handler: KeyProviderHandler;
  const model = kmsModel();
  const items = () => tableItems(client, TABLE);

  beforeAll(async () => {
    dynamo = await DynamoDbLocal.start();
    await dynamo.createControlTable(TABLE);
    client = dynamo.documentClient();
  });

  afterAll(async () => {
    await dynamo?.stop();
  });

  beforeEach(() => {
    model.reset();
    store = new ContentKeyStore(client, TABLE, new KmsKeyWrapper(new KMSClient({ region: 'us-east-1' }), KMS_KEY_ID));
    handler = createKeyProviderHandler({ provider: new KeyProvider({ store, licenseBaseUrl: LICENSE_BASE_URL }) });
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  it("answers MediaConvert's ClearKey request with the title's stored keys and ClearKey signalling", async () => {
    const response = await handler(spekeEvent(mediaConvertRequest({ contentId: 'title-answer', systems: ['clearkey'] })));

    expect(response.statusCode).toBe(200);
    expect(response.headers).toEqual({
      'Content-Type': 'application/xml',
      'X-Speke-Version': '2.0',
      'X-Speke-User-Agent': KEY_PROVIDER_USER_AGENT,
      'Speke-User-Agent': KEY_PROVIDER_USER_AGENT,
      'Cache-Control': 'no-store',
    });
    const stored = await store.keysForTitle('title-answer');
    expect(keysIn(response)).toEqual(new Map(stored.map((key) => [key.kid, key.key.toString('base64')])));
    expect(new Map(stored.map((key) => [key.kid, key.group]))).toEqual(new Map(Object.entries(KIDS).map(([group, kid]) => [hex(kid), group])));
    const root = parseXml(response.body);
    const drm = cpixChildren(cpixChildren(root, 'DRMSystemList')[0], 'DRMSystem')[0];
    expect(attributeOf(drm, 'systemId')).toBe(DRM_SYSTEMS.clearkey.systemId);
    const media = Buffer.from(cpixChildren(drm, 'HLSSignalingData')[0].text, 'base64').toString();
    expect(media).toContain(`URI="${clearKeyLicenseUrl(LICENSE_BASE_URL)}"`);
    expect(clearKeyLicenseUrl(`${LICENSE_BASE_URL}/`)).toBe(`${LICENSE_BASE_URL}/license/clearkey`);
  });

  it('gives a retried request and a second job with the same kids the same keys, and the same document', async () => {
    const body = mediaConvertRequest({ contentId: 'title-retry', systems: ['clearkey'] });

    const first = await handler(spekeEvent(body));
    const retry = await handler(spekeEvent(body, { base64: true, headers: { 'Content-Type': undefined, 'content-type': 'application/xml; charset=UTF-8', 'X-Speke-Version': undefined, 'x-speke-version': '2.0' } }));

    expect([first.statusCode, retry.statusCode]).toEqual([200, 200]);
    expect(retry.body).toBe(first.body);
    expect(model.kms.commandCalls(GenerateDataKeyCommand)).toHaveLength(1);
  });

  it('gives two parallel requests for the same new kids the same keys', async () => {
    const body = mediaConvertRequest({ contentId: 'title-race', systems: ['clearkey'] });

    const [a, b] = await Promise.all([handler(spekeEvent(body)), handler(spekeEvent(body))]);

    expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
    expect(keysIn(a)).toEqual(keysIn(b));
    expect((await store.keysForTitle('title-race')).length).toBe(5);
  });

  const hostile: [string, () => APIGatewayProxyEvent, string][] = [
    ['no X-Speke-Version', () => spekeEvent(mediaConvertRequest(), { headers: { 'X-Speke-Version': undefined } }), 'X-Speke-Version: Unsupported SPEKE version (the header is missing)'],
    ['SPEKE 1.0', () => spekeEvent(mediaConvertRequest(), { headers: { 'X-Speke-Version': '1.0' } }), 'X-Speke-Version: Unsupported SPEKE version (another version was sent)'],
    ['a JSON content type', () => spekeEvent(mediaConvertRequest(), { headers: { 'Content-Type': 'application/json' } }), 'Content-Type: must be application/xml'],
    ['no body', () => spekeEvent(null), 'body: a CPIX document is required'],
    ['an XXE DOCTYPE', () => spekeEvent(mediaConvertRequest().replace('<cpix:CPIX', '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<cpix:CPIX')), 'DOCTYPE: document type declarations are refused'],
    ['a huge body', () => spekeEvent(`${mediaConvertRequest()}<!--${'x'.repeat(MAX_CPIX_REQUEST_BYTES)}-->`), `body: is ${MAX_CPIX_REQUEST_BYTES + 4 + Buffer.byteLength(mediaConvertRequest()) + 3} bytes`],
    ['a huge base64 body', () => spekeEvent('x'.repeat(MAX_CPIX_REQUEST_BYTES * 2), { base64: true }), 'body: is about'],
    ['a body marked base64 that is not', () => ({ ...spekeEvent(mediaConvertRequest()), isBase64Encoded: true }), 'body: is marked base64-encoded but is not base64'],
    ['a kid that is not a UUID', () => spekeEvent(mediaConvertRequest({ kids: { SD: 'not-a-uuid' } })), 'ContentKeyList/ContentKey[1]@kid: is not a UUID'],
    ['no contentId', () => spekeEvent(mediaConvertRequest().replace(/contentId="[^"]*" /, '')), 'CPIX@contentId: is missing or empty'],
    ['a contentId that is not a title id', () => spekeEvent(mediaConvertRequest({ contentId: 'title/../42' })), "CPIX@contentId: must be a title id: 1-64 letters, digits, '-' or '_'"],
    ['Widevine with no commercial provider', () => spekeEvent(mediaConvertRequest({ contentId: 'title-widevine' })), 'DRMSystemList/DRMSystem[6]@systemId: widevine signalling comes from a commercial DRM provider, and none is configured'],
    ['an unknown track type', () => spekeEvent(mediaConvertRequest().replace('intendedTrackType="UHD"', 'intendedTrackType="VIDEO"')), "ContentKeyUsageRuleList/ContentKeyUsageRule[4]@intendedTrackType: 'VIDEO' is not one of"],
  ];

  it.each(hostile)('answers %s with 400 naming the reason, stores nothing, and still serves the next request', async (_what, event, reason) => {
    const before = await items();

    const response = await handler(event());

    expect(response.statusCode).toBe(400);
    expect(response.headers?.['Content-Type']).toBe('text/plain; charset=utf-8');
    expect(response.body.startsWith(reason)).toBe(true);
    expect(await items()).toEqual(before);
    expect((await handler(spekeEvent(mediaConvertRequest({ contentId: 'title-after', systems: ['clearkey'] })))).statusCode).toBe(200);
  });

  it('refuses a request that would move a stored kid to another track type, naming the key, and stores nothing', async () => {
    await handler(spekeEvent(mediaConvertRequest({ contentId: 'title-moved', systems: ['clearkey'] })));
    const before = await items();
    const newSd = '11111111-2222-4333-8444-555555555555';

    const response = await handler(spekeEvent(mediaConvertRequest({ contentId: 'title-moved', systems: ['clearkey'], kids: { SD: newSd, HD1: KIDS.SD } })));

    expect(response.statusCode).toBe(400);
    expect(response.body).toBe(
      `ContentKeyList/ContentKey[2]@kid: title title-moved holds ${KIDS.SD} as its SD key; a kid cannot change track type (asked for HD1)\n`,
    );
    expect(await items()).toEqual(before);
  });

  it('answers a GET with 405', async () => {
    const response = await handler(spekeEvent(null, { method: 'GET' }));

    expect([response.statusCode, response.headers?.Allow]).toEqual([405, 'POST']);
  });

  it('answers 500 with only the request id when KMS fails, and stores nothing', async () => {
    model.kms.on(GenerateDataKeyCommand).rejects(Object.assign(new Error('AccessDeniedException: not allowed on arn:aws:kms:secret'), { name: 'AccessDeniedException' }));
    const before = await items();

    const response = await handler(spekeEvent(mediaConvertRequest({ contentId: 'title-kms-down', systems: ['clearkey'] })));

    expect(response.statusCode).toBe(500);
    expect(response.body).toBe('the key provider failed; retry, or report request id request-7\n');
    expect(await items()).toEqual(before);
  });

  it('logs titles, kids and refusals, and never a key or the request body', async () => {
    const lines: string[] = [];
    for (const level of ['debug', 'info', 'warn', 'error'] as const) {
      jest.spyOn(logger, level).mockImplementation((...args: unknown[]) => {
        lines.push(JSON.stringify(args, (_, value) => (value instanceof Error ? { name: value.name, message: value.message, stack: value.stack } : value)));
      });
    }
    const body = mediaConvertRequest({ contentId: 'title-logged', systems: ['clearkey'] });

    await handler(spekeEvent(body));
    await handler(spekeEvent(body.replace('version="2.3"', 'version="9"')));
    model.kms.on(GenerateDataKeyCommand).rejects(new Error('KMS is down'));
    await handler(spekeEvent(mediaConvertRequest({ contentId: 'title-logged-2', systems: ['clearkey'] })));

    const keys: ContentKey[] = await store.keysForTitle('title-logged');
    const log = lines.join('\n');
    expect(log).toContain('title-logged');
    expect(log).toContain(`SD:${hex(KIDS.SD)}`);
    expect(log).toContain('CPIX@version');
    expect(log).toContain('KMS is down');
    expect(keys.flatMap((key) => forms(key.key)).some((form) => log.includes(form))).toBe(false);
    expect(log).not.toContain('ContentKeyUsageRule ');
    expect(log).not.toContain('<cpix:');
  });

  it('runs on the local stand-in wrapper just the same', async () => {
    const local = new ContentKeyStore(client, TABLE, new LocalKeyWrapper(randomBytes(32)));
    const localHandler = createKeyProviderHandler({ provider: new KeyProvider({ store: local, licenseBaseUrl: 'http://127.0.0.1:3000' }) });

    const response = await localHandler(spekeEvent(mediaConvertRequest({ contentId: 'title-local', systems: ['clearkey'] })));

    expect(response.statusCode).toBe(200);
    expect(keysIn(response)).toEqual(new Map((await local.keysForTitle('title-local')).map((key) => [key.kid, key.key.toString('base64')])));
    expect(model.kms.commandCalls(GenerateDataKeyCommand)).toHaveLength(0);
  });
});
