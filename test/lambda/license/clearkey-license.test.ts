import { randomBytes } from 'node:crypto';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { CatalogStore } from '../../../lambda/catalog/catalog-store';
import { contentKeyItemKeys, ContentKeyStore, LocalKeyWrapper } from '../../../lambda/keys/content-key-store';
import { CommercialLicenseProxy } from '../../../lambda/license/commercial-license-proxy';
import { createLicenseHandler, LicenseHandlerDependencies } from '../../../lambda/license/handler';
import { ViewerStore } from '../../../lambda/playback/viewer-store';
import { itemKeys } from '../../../lambda/shared/control-table';
import { ContentKey, kidToBase64Url, KeyGroup } from '../../../lambda/shared/content-protection';
import { LICENSE_METRICS } from '../../../lambda/shared/metric-names';
import { DynamoDbLocal } from '../../support/dynamodb-local';
import { bodyOf, viewerEvent } from '../../support/events';
import { catalogTitle } from '../../support/fixtures';
import { MetricRecorder } from '../../support/metric-recorder';
import { clearKeyRequest, InMemoryTitleKeys, playerOf, protectedTitle, titleKeysOf } from './license-fixtures';

const TABLE = 'nearstream-clearkey-license';

describe('POST /license/clearkey against DynamoDB Local', () => {
  let dynamo: DynamoDbLocal;
  let clockMs = Date.parse('2026-11-21T20:00:00Z');
  const nowMs = () => clockMs;
  const movie = titleKeysOf('locked-1');
  const other = titleKeysOf('locked-2');
  const titleKeys = new InMemoryTitleKeys();
  let metrics: MetricRecorder;
  let license: ReturnType<typeof createLicenseHandler>;
  let play: ReturnType<typeof playerOf>;

  const requestLicense = (account: string, sessionId: string, body: unknown) =>
    license(viewerEvent('POST /license/{system}', account, { pathParameters: { system: 'clearkey' }, query: { session: sessionId }, body }));
  const grantedKeys = (response: { body: string }) =>
    (bodyOf(response).keys as { kid: string; k: string }[]).map(({ kid, k }) => ({ kid, k }));
  const asJwk = (...keys: ContentKey[]) => keys.map((key) => ({ kid: kidToBase64Url(key.kid), k: key.key.toString('base64url') }));

  beforeAll(async () => {
    dynamo = await DynamoDbLocal.start();
    await dynamo.createControlTable(TABLE);
    const client = dynamo.documentClient();
    const catalog = new CatalogStore(client, TABLE);
    await catalog.put(protectedTitle('locked-1', movie));
    await catalog.put(protectedTitle('locked-2', other));
    await catalog.put(protectedTitle('widevine-only', movie, ['widevine']));
    await catalog.put(catalogTitle('open-1'));
    titleKeys.add(...Object.values(movie), ...Object.values(other));
    const viewers = new ViewerStore(client, TABLE);
    for (const [account, plan] of [['alice', 'premium'], ['bob', 'basic'], ['carol', 'standard'], ['dave', 'basic'], ['erin', 'basic']] as const) {
      await viewers.putPlan(account, plan);
    }
    play = playerOf(client, TABLE, nowMs);
  });

  const dependencies = (): LicenseHandlerDependencies => ({
    sessions: new ViewerStore(dynamo.documentClient(), TABLE),
    catalog: new CatalogStore(dynamo.documentClient(), TABLE),
    titleKeys,
    nowMs,
    commercial: new CommercialLicenseProxy({}, { get: async () => '{"headers":{}}' }),
    metrics,
  });

  beforeEach(() => {
    // Every case starts its plays with the stream slots of the one before free again.
    clockMs += 301_000;
    metrics = new MetricRecorder();
    license = createLicenseHandler(dependencies());
  });

  afterAll(async () => {
    await dynamo?.stop();
  });

  it('grants the audio, SD, HD1 and HD2 keys of the session\'s title to a play capped at 1080p, as a W3C ClearKey JSON Web Key Set that is never cached', async () => {
    const session = await play('alice', 'locked-1', 1080);

    const response = await requestLicense('alice', session, clearKeyRequest(movie.AUDIO, movie.SD, movie.HD1, movie.HD2));

    expect(response.statusCode).toBe(200);
    expect(response.headers).toMatchObject({ 'content-type': 'application/json', 'cache-control': 'no-store' });
    expect(bodyOf(response)).toEqual({ keys: asJwk(movie.AUDIO, movie.SD, movie.HD1, movie.HD2).map((jwk) => ({ kty: 'oct', ...jwk })), type: 'temporary' });
    expect(metrics.values(LICENSE_METRICS.licensesGranted)).toEqual([1]);
  });

  it('grants the keys the content key store sealed for the title, opened from the control table', async () => {
    const store = new ContentKeyStore(dynamo.documentClient(), TABLE, new LocalKeyWrapper(randomBytes(32)));
    const [audio, hd] = await store.getOrCreate('locked-1', [movie.AUDIO, movie.HD2].map(({ kid, group }) => ({ kid, group })));
    const session = await play('alice', 'locked-1', 1080);
    const fromStore = createLicenseHandler({ ...dependencies(), titleKeys: store });

    const response = await fromStore(viewerEvent('POST /license/{system}', 'alice', { pathParameters: { system: 'clearkey' }, query: { session }, body: clearKeyRequest(audio, hd) }));

    expect(grantedKeys(response)).toEqual(asJwk(audio, hd));
  });

  it('opens only the keys the request names, so a sealed key it does not name is never decrypted', async () => {
    const store = new ContentKeyStore(dynamo.documentClient(), TABLE, new LocalKeyWrapper(randomBytes(32)));
    const sealedKeys = titleKeysOf('locked-3');
    await new CatalogStore(dynamo.documentClient(), TABLE).put(protectedTitle('locked-3', sealedKeys));
    const [audio, sd, hd1] = await store.getOrCreate('locked-3', Object.values(sealedKeys).map(({ kid, group }) => ({ kid, group })));
    // HD2's sealed key no longer opens: a license that decrypted it would fail.
    const hd2 = contentKeyItemKeys.contentKey('locked-3', sealedKeys.HD2.kid);
    const { Item } = await dynamo.documentClient().send(new GetCommand({ TableName: TABLE, Key: hd2 }));
    const ciphertext = Buffer.from(Item!.ciphertext);
    ciphertext[0] ^= 0x01;
    await dynamo.documentClient().send(new UpdateCommand({ TableName: TABLE, Key: hd2, UpdateExpression: 'SET ciphertext = :c', ExpressionAttributeValues: { ':c': ciphertext } }));
    const session = await play('alice', 'locked-3', 1080);
    const fromStore = createLicenseHandler({ ...dependencies(), titleKeys: store });
    const request = (...keys: ContentKey[]) =>
      fromStore(viewerEvent('POST /license/{system}', 'alice', { pathParameters: { system: 'clearkey' }, query: { session }, body: clearKeyRequest(...keys) }));

    const response = await request(audio, sd, hd1);

    expect(response.statusCode).toBe(200);
    expect(grantedKeys(response)).toEqual(asJwk(audio, sd, hd1));
    expect((await request(sealedKeys.HD2)).statusCode).toBe(500);
  });

  it('asks the key store for the requested key ids alone', async () => {
    const session = await play('alice', 'locked-1', 2160);
    titleKeys.opened.length = 0;

    const response = await requestLicense('alice', session, clearKeyRequest(movie.SD, movie.AUDIO));

    expect(grantedKeys(response)).toEqual(asJwk(movie.SD, movie.AUDIO));
    expect(titleKeys.opened.map((kids) => [...kids].sort())).toEqual([[movie.SD.kid, movie.AUDIO.kid].sort()]);
  });

  it('refuses the UHD key to a play on a 1080p plan, naming the key id and not the key', async () => {
    const session = await play('carol', 'locked-1', 2160);

    const response = await requestLicense('carol', session, clearKeyRequest(movie.HD2, movie.UHD));

    expect([response.statusCode, bodyOf(response).error, bodyOf(response).kids]).toEqual([403, 'key-not-granted', [kidToBase64Url(movie.UHD.kid)]]);
    expect(bodyOf(response).message).toContain(kidToBase64Url(movie.UHD.kid));
    expect(response.body).not.toContain(movie.UHD.key.toString('base64url'));
    expect(response.body).not.toContain(movie.HD2.key.toString('base64url'));
    expect(metrics.values(LICENSE_METRICS.licensesRefused)).toEqual([1]);
  });

  it('grants the UHD key to a premium play on a 2160p device', async () => {
    const session = await play('alice', 'locked-1', 2160);

    const response = await requestLicense('alice', session, clearKeyRequest(movie.UHD));

    expect(grantedKeys(response)).toEqual(asJwk(movie.UHD));
  });

  it.each<[string, string, number, KeyGroup[], KeyGroup[]]>([
    ['a basic plan (720p) on a 2160p device', 'bob', 2160, ['AUDIO', 'SD', 'HD1'], ['HD2', 'UHD']],
    ['a basic plan (720p) on a 360p phone: keys follow the plan, the device\'s cap only limits its tokens', 'dave', 360, ['AUDIO', 'SD', 'HD1'], ['HD2', 'UHD']],
    ['a standard plan (1080p)', 'carol', 2160, ['AUDIO', 'SD', 'HD1', 'HD2'], ['UHD']],
    ['a premium plan (2160p) on a 1080p device', 'alice', 1080, ['AUDIO', 'SD', 'HD1', 'HD2', 'UHD'], []],
  ])('unlocks for %s exactly the groups whose renditions all fit the plan\'s height', async (_what, account, maxHeight, granted, refused) => {
    const session = await play(account, 'locked-1', maxHeight);

    const allowed = await requestLicense(account, session, clearKeyRequest(...granted.map((group) => movie[group])));
    const refusals = await Promise.all(refused.map((group) => requestLicense(account, session, clearKeyRequest(movie[group]))));

    expect(grantedKeys(allowed)).toEqual(asJwk(...granted.map((group) => movie[group])));
    expect(refusals.map((response) => response.statusCode)).toEqual(refused.map(() => 403));
  });

  it('caps a basic plan at 720p whatever the device, on a title with 720p and 1080p: HD1 (720p) is granted, HD2 (1080p) and UHD are not', async () => {
    const session = await play('bob', 'locked-1', 2160);

    const [hd1, hd2, uhd] = [
      await requestLicense('bob', session, clearKeyRequest(movie.HD1)),
      await requestLicense('bob', session, clearKeyRequest(movie.HD2)),
      await requestLicense('bob', session, clearKeyRequest(movie.UHD)),
    ];

    expect([hd1.statusCode, hd2.statusCode, uhd.statusCode]).toEqual([200, 403, 403]);
    expect(grantedKeys(hd1)).toEqual(asJwk(movie.HD1));
    expect([bodyOf(hd2).error, bodyOf(hd2).kids]).toEqual(['key-not-granted', [kidToBase64Url(movie.HD2.kid)]]);
    expect(bodyOf(hd2).message).toContain('up to 720p');
    expect(hd2.body).not.toContain(movie.HD2.key.toString('base64url'));
  });

  it('refuses a whole request that mixes HD1 with HD2 on a 720p plan, granting neither', async () => {
    const session = await play('bob', 'locked-1', 1080);

    const response = await requestLicense('bob', session, clearKeyRequest(movie.AUDIO, movie.HD1, movie.HD2));

    expect([response.statusCode, bodyOf(response).kids]).toEqual([403, [kidToBase64Url(movie.HD2.kid)]]);
    expect(response.body).not.toContain(movie.HD1.key.toString('base64url'));
    expect(response.body).not.toContain(movie.HD2.key.toString('base64url'));
  });

  it('refuses a ClearKey license for a title packaged for a commercial system alone: its raw keys never leave through ClearKey', async () => {
    const session = await play('alice', 'widevine-only', 1080);

    const response = await requestLicense('alice', session, clearKeyRequest(movie.AUDIO));

    expect([response.statusCode, bodyOf(response).error]).toEqual([404, 'unknown-key-system']);
    expect(response.body).not.toContain(movie.AUDIO.key.toString('base64url'));
  });

  it('refuses another title\'s key id, granting nothing of the request', async () => {
    const session = await play('alice', 'locked-1', 1080);

    const response = await requestLicense('alice', session, clearKeyRequest(movie.AUDIO, other.AUDIO));

    expect([response.statusCode, bodyOf(response).kids]).toEqual([403, [kidToBase64Url(other.AUDIO.kid)]]);
    expect(response.body).not.toContain(movie.AUDIO.key.toString('base64url'));
  });

  it('answers another account\'s session exactly as one that does not exist, so a leaked id reveals nothing', async () => {
    const session = await play('alice', 'locked-1', 1080);

    const foreign = await requestLicense('carol', session, clearKeyRequest(movie.AUDIO));
    const unknown = await requestLicense('carol', 'no-such-play', clearKeyRequest(movie.AUDIO));

    expect([foreign.statusCode, bodyOf(foreign).error]).toEqual([404, 'unknown-session']);
    expect(bodyOf(foreign).message).toBe((bodyOf(unknown).message as string).replace('no-such-play', session));
    expect(Object.keys(bodyOf(foreign))).toEqual(Object.keys(bodyOf(unknown)));
  });

  it('refuses an expired session with 410', async () => {
    const session = await play('alice', 'locked-1', 1080);
    clockMs += 4 * 3600 * 1000;

    const response = await requestLicense('alice', session, clearKeyRequest(movie.AUDIO));

    expect([response.statusCode, bodyOf(response).error]).toEqual([410, 'session-expired']);
  });

  it('refuses a session whose stream lease ran out without telemetry', async () => {
    const session = await play('dave', 'locked-1', 720);
    clockMs += 301_000;

    const response = await requestLicense('dave', session, clearKeyRequest(movie.AUDIO));

    expect([response.statusCode, bodyOf(response).error]).toEqual([410, 'lease-expired']);
    expect(bodyOf(response).message).toContain('ran out');
  });

  it('refuses a session whose stream slot another play of the account has taken over', async () => {
    const first = await play('erin', 'locked-1', 720);
    clockMs += 301_000;
    const second = await play('erin', 'locked-1', 720);

    const [stale, current] = [await requestLicense('erin', first, clearKeyRequest(movie.AUDIO)), await requestLicense('erin', second, clearKeyRequest(movie.AUDIO))];

    expect([stale.statusCode, bodyOf(stale).error, current.statusCode]).toEqual([410, 'lease-expired', 200]);
    expect(bodyOf(stale).message).toContain('another play took it');
  });

  it('refuses a license for a title that is not encrypted with 409', async () => {
    const session = await play('alice', 'open-1', 1080);

    const response = await requestLicense('alice', session, clearKeyRequest(movie.AUDIO));

    expect([response.statusCode, bodyOf(response).error]).toEqual([409, 'not-protected']);
  });

  it('refuses a session recorded before sessions kept their codec and height', async () => {
    const viewers = new ViewerStore(dynamo.documentClient(), TABLE);
    await viewers.putSession({ sessionId: 'old-play', accountId: 'frank', titleId: 'locked-1', slot: 0, createdAt: '', expiresAtEpochSeconds: clockMs / 1000 + 3600 });
    await dynamo.documentClient().send(new PutCommand({ TableName: TABLE, Item: { ...itemKeys.streamSlot('frank', 0), sessionId: 'old-play', leaseUntilMs: clockMs + 60_000 } }));

    const response = await requestLicense('frank', 'old-play', clearKeyRequest(movie.AUDIO));

    expect([response.statusCode, bodyOf(response).error]).toEqual([410, 'session-expired']);
  });

  it.each([
    ['widevine, with no license service configured', 'widevine'],
    ['a system that does not exist', 'rot13'],
  ])('answers 404 unknown-key-system for %s, naming what is offered', async (_what, system) => {
    const session = await play('alice', 'locked-1', 1080);

    const response = await license(viewerEvent('POST /license/{system}', 'alice', { pathParameters: { system }, query: { session }, body: clearKeyRequest(movie.AUDIO) }));

    expect([response.statusCode, bodyOf(response).error, bodyOf(response).message]).toEqual([404, 'unknown-key-system', expect.stringContaining('offers clearkey')]);
  });
});
