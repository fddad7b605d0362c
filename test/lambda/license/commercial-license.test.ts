import { once } from 'node:events';
import { createServer, IncomingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { CatalogStore } from '../../../lambda/catalog/catalog-store';
import { CommercialLicenseProxy, ENTITLEMENT_HEADER } from '../../../lambda/license/commercial-license-proxy';
import { createLicenseHandler } from '../../../lambda/license/handler';
import { ViewerStore } from '../../../lambda/playback/viewer-store';
import { kidToUuid } from '../../../lambda/shared/content-protection';
import { LICENSE_METRICS } from '../../../lambda/shared/metric-names';
import { SecretCache } from '../../../lambda/shared/secret-cache';
import { DynamoDbLocal } from '../../support/dynamodb-local';
import { bodyOf, viewerEvent } from '../../support/events';
import { MetricRecorder } from '../../support/metric-recorder';
import { freePort } from '../../support/ports';
import { InMemoryTitleKeys, playerOf, protectedTitle, titleKeysOf } from './license-fixtures';

const TABLE = 'nearstream-commercial-license';
const WIDEVINE_SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:nearstream/widevine-AbCdEf';
const PLAYREADY_SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:nearstream/playready-AbCdEf';
const PROVIDER_HEADERS = { 'x-api-key': 'provider-api-key-1', 'x-customer': 'nearstream' };
/** A Widevine challenge is protobuf: bytes that are not text. */
const CHALLENGE = Buffer.from([0x08, 0x04, 0x12, 0xff, 0x00, 0x80, 0x7f, 0x0a]);
const LICENSE = Buffer.from([0x08, 0x02, 0x12, 0xfe, 0x00, 0x01]);

interface ProviderRequest {
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** A commercial license server stand-in on 127.0.0.1: records each request, answers as `respond` says. */
class ProviderStandIn {
  readonly requests: ProviderRequest[] = [];
  respond: (response: ServerResponse) => void = (response) => response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(LICENSE);
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<ProviderStandIn> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const stand = new ProviderStandIn(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/license/widevine`);
    server.on('request', async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      stand.requests.push({ headers: request.headers, body: Buffer.concat(chunks) });
      stand.respond(response);
    });
    return stand;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }
}

describe('POST /license/{widevine,playready} through a commercial license service on 127.0.0.1', () => {
  const secrets = mockClient(SecretsManagerClient);
  let dynamo: DynamoDbLocal;
  let provider: ProviderStandIn;
  let closedPort: number;
  let clockMs = Date.parse('2026-11-21T20:00:00Z');
  const nowMs = () => clockMs;
  const movie = titleKeysOf('locked-1');
  let metrics: MetricRecorder;
  let play: ReturnType<typeof playerOf>;

  function licenseHandler(timeoutMs = 5000) {
    const proxy = new CommercialLicenseProxy(
      { widevine: { url: provider.url, secretArn: WIDEVINE_SECRET }, playready: { url: `http://127.0.0.1:${closedPort}/rightsmanager.asmx`, secretArn: PLAYREADY_SECRET } },
      new SecretCache(new SecretsManagerClient({ region: 'us-east-1' })),
      { timeoutMs },
    );
    return createLicenseHandler({
      sessions: new ViewerStore(dynamo.documentClient(), TABLE),
      catalog: new CatalogStore(dynamo.documentClient(), TABLE),
      titleKeys: new InMemoryTitleKeys(),
      nowMs,
      commercial: proxy,
      metrics,
    });
  }

  /** A challenge as API Gateway passes a binary body on: base64, flagged so. */
  const challengeEvent = (system: string, account: string, session: string, challenge = CHALLENGE) => ({
    ...viewerEvent('POST /license/{system}', account, { pathParameters: { system }, query: { session } }),
    headers: { 'content-type': 'application/octet-stream' },
    body: challenge.toString('base64'),
    isBase64Encoded: true,
  });

  beforeAll(async () => {
    [dynamo, provider, closedPort] = await Promise.all([DynamoDbLocal.start(), ProviderStandIn.start(), freePort()]);
    await dynamo.createControlTable(TABLE);
    const client = dynamo.documentClient();
    await new CatalogStore(client, TABLE).put(protectedTitle('locked-1', movie));
    const viewers = new ViewerStore(client, TABLE);
    await viewers.putPlan('alice', 'standard');
    await viewers.putPlan('bob', 'basic');
    play = playerOf(client, TABLE, nowMs);
  });

  beforeEach(() => {
    clockMs += 301_000;
    metrics = new MetricRecorder();
    provider.requests.length = 0;
    provider.respond = (response) => response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(LICENSE);
    secrets.reset();
    secrets.on(GetSecretValueCommand, { SecretId: WIDEVINE_SECRET }).resolves({ SecretString: JSON.stringify({ headers: PROVIDER_HEADERS }) });
    secrets.on(GetSecretValueCommand, { SecretId: PLAYREADY_SECRET }).resolves({ SecretString: JSON.stringify({ headers: {} }) });
  });

  afterAll(async () => {
    secrets.restore();
    await Promise.all([dynamo?.stop(), provider?.stop()]);
  });

  it('forwards the challenge\'s bytes with the secret\'s headers and the entitlement (a 1080p plan\'s key ids), and passes the provider\'s license back unchanged', async () => {
    const session = await play('alice', 'locked-1', 2160);

    const response = await licenseHandler()(challengeEvent('widevine', 'alice', session));

    expect([response.statusCode, response.isBase64Encoded, Buffer.from(response.body, 'base64')]).toEqual([200, true, LICENSE]);
    expect(response.headers).toEqual({ 'content-type': 'application/octet-stream', 'cache-control': 'no-store' });
    const [forwarded] = provider.requests;
    expect(forwarded.body).toEqual(CHALLENGE);
    expect(forwarded.headers).toMatchObject({ ...PROVIDER_HEADERS, 'content-type': 'application/octet-stream' });
    expect(JSON.parse(forwarded.headers[ENTITLEMENT_HEADER] as string)).toEqual({
      titleId: 'locked-1',
      sessionId: session,
      kids: [movie.AUDIO, movie.SD, movie.HD1, movie.HD2].map((key) => kidToUuid(key.kid)),
      expiresAt: new Date(clockMs + 4 * 3600 * 1000).toISOString(),
    });
    expect(metrics.values(LICENSE_METRICS.licensesGranted)).toEqual([1]);
  });

  it('entitles a play on a 720p plan to the audio, SD and HD1 key ids only, whatever the device: HD2 opens the 1080p rendition too', async () => {
    const session = await play('bob', 'locked-1', 2160);

    const response = await licenseHandler()(challengeEvent('widevine', 'bob', session));

    expect(response.statusCode).toBe(200);
    const [forwarded] = provider.requests;
    expect(JSON.parse(forwarded.headers[ENTITLEMENT_HEADER] as string).kids).toEqual([movie.AUDIO, movie.SD, movie.HD1].map((key) => kidToUuid(key.kid)));
  });

  it('passes a provider\'s refusal on as it came, and counts it refused', async () => {
    const session = await play('alice', 'locked-1', 2160);
    provider.respond = (response) => response.writeHead(403, { 'content-type': 'application/json' }).end('{"reason":"device revoked"}');

    const response = await licenseHandler()(challengeEvent('widevine', 'alice', session));

    expect([response.statusCode, response.headers?.['content-type'], Buffer.from(response.body, 'base64').toString()]).toEqual([403, 'application/json', '{"reason":"device revoked"}']);
    expect(metrics.values(LICENSE_METRICS.licensesRefused)).toEqual([1]);
  });

  it('answers 502 license-service-unavailable when the provider does not answer in time', async () => {
    const session = await play('alice', 'locked-1', 1080);
    provider.respond = () => {};
    const startedMs = Date.now();

    const response = await licenseHandler(300)(challengeEvent('widevine', 'alice', session));

    expect([response.statusCode, bodyOf(response).error, bodyOf(response).message]).toEqual([502, 'license-service-unavailable', expect.stringContaining('within 300 ms')]);
    expect(Date.now() - startedMs).toBeLessThan(3000);
    expect(metrics.values(LICENSE_METRICS.licenseServiceUnavailable)).toEqual([1]);
  });

  it('answers 502 license-service-unavailable when the provider cannot be reached', async () => {
    const session = await play('alice', 'locked-1', 1080);

    const response = await licenseHandler()(challengeEvent('playready', 'alice', session));

    expect([response.statusCode, bodyOf(response).error]).toEqual([502, 'license-service-unavailable']);
  });

  it('checks the session before the provider hears of the request', async () => {
    const session = await play('alice', 'locked-1', 1080);

    const foreign = await licenseHandler()(challengeEvent('widevine', 'bob', session));
    clockMs += 301_000;
    const leaseRunOut = await licenseHandler()(challengeEvent('widevine', 'alice', session));

    expect([foreign.statusCode, leaseRunOut.statusCode, provider.requests.length]).toEqual([404, 410, 0]);
  });

  it.each([
    ['no challenge', Buffer.alloc(0), 400],
    ['a challenge over 64 KiB', Buffer.alloc(65 * 1024, 1), 413],
  ])('refuses %s with a 4xx naming the body, forwarding nothing', async (_what, challenge, status) => {
    const session = await play('alice', 'locked-1', 1080);

    const response = await licenseHandler()(challengeEvent('widevine', 'alice', session, challenge));

    expect([response.statusCode, bodyOf(response).field, provider.requests.length]).toEqual([status, 'body', 0]);
  });

  it('answers 500 without the secret\'s value when the secret is not the headers object, forwarding nothing', async () => {
    const session = await play('alice', 'locked-1', 1080);
    secrets.on(GetSecretValueCommand, { SecretId: WIDEVINE_SECRET }).resolves({ SecretString: '{"x-api-key":"leaked-if-echoed"}' });

    const response = await licenseHandler()(challengeEvent('widevine', 'alice', session));

    expect([response.statusCode, bodyOf(response).error, provider.requests.length]).toEqual([500, 'internal', 0]);
    expect(response.body).not.toContain('leaked-if-echoed');
  });
});
