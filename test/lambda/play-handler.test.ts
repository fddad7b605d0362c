import { createVerify } from 'node:crypto';
import { CatalogStore } from '../../lambda/catalog/catalog-store';
import { FleetStore } from '../../lambda/fleet/fleet-store';
import { FleetCache } from '../../lambda/playback/fleet-cache';
import { createPlayHandler } from '../../lambda/playback/handler';
import { activeKeySigner } from '../../lambda/playback/origin-signer';
import { PlayDependencies } from '../../lambda/playback/play-service';
import { DEFAULT_STEERING_POLICY } from '../../lambda/playback/steering';
import { ViewerStore } from '../../lambda/playback/viewer-store';
import { formatOriginSigningKey } from '../../lambda/shared/origin-signing-key';
import { verifyToken } from '../../lambda/shared/url-token';
import { localInvocationContext } from '../../local/api/local-gateway';
import { DynamoDbLocal, LOCAL_AWS_ENV } from '../support/dynamodb-local';
import { bodyOf, viewerEvent } from '../support/events';
import { leastPrivilege } from '../support/iam/least-privilege';
import { catalogTitle, cloudFrontKeyPair, reportHolding, registration, TEST_KEYRING } from '../support/fixtures';
import { snapshotLoader } from '../support/steering';

const TABLE = 'nearstream-play-test';
const iam = leastPrivilege({ controlTables: [TABLE] });
const ROLE = 'arn:aws:sts::123456789012:assumed-role/appliance/i-1';
const ORIGIN_DOMAIN = 'd111111abcdef8.cloudfront.net';
const NEAR_CLIENT = '198.51.100.20';

interface Source {
  tier: string;
  applianceId?: string;
  clusterId?: string;
  hls: string;
  dash: string;
  cookies?: Record<string, string>;
}

describe('POST /play against DynamoDB Local', () => {
  let dynamo: DynamoDbLocal;
  let viewers: ViewerStore;
  let fleetStore: FleetStore;
  let clockMs = Date.parse('2026-11-21T20:00:00Z');
  const keys = cloudFrontKeyPair();
  let originSigningSecret = formatOriginSigningKey({ keyPairId: 'K2JCJMDEHXQW5F', generation: 1, privateKeyPem: keys.privateKeyPem });
  let sessionCounter = 0;

  function dependencies(overrides: Partial<PlayDependencies> = {}): PlayDependencies {
    return {
      catalog: new CatalogStore(dynamo.documentClient(), TABLE),
      viewers,
      fleet: new FleetCache(snapshotLoader(fleetStore, 'us-east-1', () => clockMs, iam), { maxAgeMs: 10_000, loadTimeoutMs: 2000, retryAfterMs: 1000, policy: DEFAULT_STEERING_POLICY }, () => clockMs),
      keyring: async () => TEST_KEYRING,
      origin: activeKeySigner({ get: async () => originSigningSecret }, 'nearstream/test/origin-signing-key', ORIGIN_DOMAIN),
      region: 'us-east-1',
      sessionTtlSeconds: 4 * 3600,
      leaseSeconds: 300,
      nowMs: () => clockMs,
      newSessionId: () => `session-${++sessionCounter}`,
      ...overrides,
    };
  }

  const play = (handler: ReturnType<typeof createPlayHandler>, account: string | undefined, body: unknown) =>
    iam.actingAs('play', handler)(viewerEvent('POST /play', account, { body, sourceIp: '203.0.113.50' }));

  beforeAll(async () => {
    dynamo = await DynamoDbLocal.start();
    await dynamo.createControlTable(TABLE);
    viewers = new ViewerStore(dynamo.documentClient(), TABLE);
    fleetStore = new FleetStore(dynamo.documentClient(), TABLE);
    const catalog = new CatalogStore(dynamo.documentClient(), TABLE);
    await catalog.put(catalogTitle('movie-1'));
    await catalog.put(catalogTitle('rare-1'));
    await catalog.put(catalogTitle('future-1', { availableFrom: '2030-01-01T00:00:00.000Z' }));
    await catalog.put(catalogTitle('locked-1', { protection: { scheme: 'cbcs', keys: [{ group: 'AUDIO', kid: '00112233445566778899aabbccddeeff' }], systems: ['clearkey', 'widevine', 'fairplay'] } }));
    await catalog.put(catalogTitle('clearkey-only-1', { protection: { scheme: 'cbcs', keys: [{ group: 'AUDIO', kid: '00112233445566778899aabbccddeef0' }] } }));
    for (const [account, plan] of [['alice', 'premium'], ['bob', 'basic'], ['carol', 'standard'], ['dave', 'premium'], ['erin', 'premium'], ['gwen', 'standard'], ['hank', 'premium'], ['ivy', 'premium']] as const) {
      await viewers.putPlan(account, plan);
    }
    const now = new Date(clockMs);
    for (const [id, cluster, prefixes] of [
      ['oca-near-1', 'isp-near', ['198.51.100.0/24']],
      ['oca-near-2', 'isp-near', ['198.51.100.0/24']],
      ['oca-wide-1', 'isp-wide', ['198.51.0.0/16']],
    ] as const) {
      await fleetStore.register(registration(id, cluster, [...prefixes]), ROLE, now);
      await reportHolding(fleetStore, ROLE, clockMs, id, ['movie-1']);
    }
  });

  afterAll(async () => {
    await dynamo?.stop();
  });

  it('ranks appliances nearest first, each URL carrying a token for that appliance, then the origin tier', async () => {
    const response = await play(createPlayHandler(dependencies()), 'alice', {
      titleId: 'movie-1',
      device: { codecs: ['avc1'], maxHeight: 2160 },
      clientIp: NEAR_CLIENT,
    });

    expect(response.statusCode).toBe(200);
    const grant = bodyOf(response) as { sources: Source[]; sessionId: string; codec: string; steering: unknown };
    const appliances = grant.sources.filter((s) => s.tier === 'appliance');
    expect(appliances.map((s) => s.clusterId)).toEqual(['isp-near', 'isp-near', 'isp-wide']);
    expect(new Set(appliances.map((s) => s.applianceId)).size).toBe(3);
    expect(grant.sources.at(-1)!.tier).toBe('origin');
    expect(grant.steering).toEqual({ degraded: false, fleetAgeSeconds: 0 });
    for (const source of appliances) {
      const url = new URL(source.hls);
      expect(url.origin).toBe(`https://${source.applianceId}.${source.clusterId}.example`);
      const [, t, token, ...rest] = url.pathname.split('/');
      expect(t).toBe('t');
      expect(rest.join('/')).toBe('titles/movie-1/avc1/index.m3u8');
      const verdict = verifyToken(token, {
        keyring: TEST_KEYRING,
        applianceId: source.applianceId!,
        requestedPath: 'titles/movie-1/avc1/720p/segment-1.m4s',
        nowEpochSeconds: Math.floor(clockMs / 1000),
      });
      expect(verdict).toMatchObject({ valid: true, claims: { maxHeight: 2160, expiresAt: Math.floor(clockMs / 1000) + 4 * 3600 } });
      expect(verifyToken(token, { ...verdictContext(source), applianceId: 'someone-else' })).toMatchObject({ valid: false });
    }
    expect(await viewers.getSession(grant.sessionId)).toMatchObject({ accountId: 'alice', titleId: 'movie-1', clusterId: 'isp-near' });
  });

  function verdictContext(source: Source) {
    return {
      keyring: TEST_KEYRING,
      applianceId: source.applianceId!,
      requestedPath: 'titles/movie-1/avc1/index.m3u8',
      nowEpochSeconds: Math.floor(clockMs / 1000),
    };
  }

  it('signs the origin tier for CloudFront with a policy over the chosen codec of the title only, capped at the session\'s height, verifiable with the public key', async () => {
    const response = await play(createPlayHandler(dependencies()), 'alice', {
      titleId: 'rare-1',
      device: { codecs: ['hvc1', 'avc1'], maxHeight: 1080 },
      clientIp: NEAR_CLIENT,
    });
    const grant = bodyOf(response) as { sources: Source[]; codec: string };
    expect(grant.codec).toBe('hvc1');
    expect(grant.sources.map((s) => s.tier)).toEqual(['origin']);
    const url = new URL(grant.sources[0].hls);
    expect(`${url.origin}${url.pathname}`).toBe(`https://${ORIGIN_DOMAIN}/titles/rare-1/hvc1/index.m3u8`);
    const fromCloudFrontBase64 = (text: string) =>
      Buffer.from(text.replace(/-/g, '+').replace(/_/g, '=').replace(/~/g, '/'), 'base64');
    const policy = fromCloudFrontBase64(url.searchParams.get('Policy')!);
    const signature = fromCloudFrontBase64(url.searchParams.get('Signature')!);
    expect(createVerify('RSA-SHA1').update(policy).verify(keys.publicKeyPem, signature)).toBe(true);
    expect(JSON.parse(policy.toString()).Statement[0]).toMatchObject({
      Resource: `https://${ORIGIN_DOMAIN}/titles/rare-1/hvc1/*`,
      Condition: { DateGreaterThan: { 'AWS:EpochTime': 1080 } },
    });
    expect(grant.sources[0].cookies).toMatchObject({ 'CloudFront-Key-Pair-Id': 'K2JCJMDEHXQW5F' });
  });

  it('signs the origin tier with the key pair the signing secret names at the time of the play, so a rotation needs no redeploy', async () => {
    const handler = createPlayHandler(dependencies());
    const previous = originSigningSecret;
    const next = cloudFrontKeyPair();
    originSigningSecret = formatOriginSigningKey({ keyPairId: 'K3NEXTGENERATN', generation: 2, privateKeyPem: next.privateKeyPem });
    try {
      const response = await play(handler, 'alice', { titleId: 'rare-1', device: { codecs: ['avc1'], maxHeight: 1080 }, clientIp: NEAR_CLIENT });
      const origin = (bodyOf(response) as { sources: Source[] }).sources[0];
      const url = new URL(origin.hls);
      const fromCloudFrontBase64 = (text: string) => Buffer.from(text.replace(/-/g, '+').replace(/_/g, '=').replace(/~/g, '/'), 'base64');
      const verifies = (publicKeyPem: string) =>
        createVerify('RSA-SHA1').update(fromCloudFrontBase64(url.searchParams.get('Policy')!)).verify(publicKeyPem, fromCloudFrontBase64(url.searchParams.get('Signature')!));
      expect([url.searchParams.get('Key-Pair-Id'), verifies(next.publicKeyPem), verifies(keys.publicKeyPem)]).toEqual(['K3NEXTGENERATN', true, false]);
      expect(origin.cookies).toMatchObject({ 'CloudFront-Key-Pair-Id': 'K3NEXTGENERATN' });
    } finally {
      originSigningSecret = previous;
    }
  });

  it('offers only the renditions the plan allows, and says so in the tokens', async () => {
    const response = await play(createPlayHandler(dependencies()), 'carol', {
      titleId: 'movie-1',
      device: { codecs: ['avc1'], maxHeight: 2160 },
      clientIp: NEAR_CLIENT,
    });
    const grant = bodyOf(response) as { renditions: { height: number }[]; sources: Source[] };
    expect(Math.max(...grant.renditions.map((r) => r.height))).toBe(1080);
    const token = new URL(grant.sources[0].hls).pathname.split('/')[2];
    expect(token.split('.')[5]).toBe('1080');
  });

  it('tells a player of a protected title where to get licenses, for each key system both the device and the platform support, in the device\'s order', async () => {
    const handler = createPlayHandler(dependencies({ licenseSystems: ['clearkey', 'widevine', 'fairplay'] }));

    const response = await play(handler, 'gwen', { titleId: 'locked-1', device: { codecs: ['avc1'], maxHeight: 2160, keySystems: ['playready', 'widevine', 'clearkey'] } });

    expect(response.statusCode).toBe(200);
    const grant = bodyOf(response) as { sessionId: string; protection: unknown };
    expect(grant.protection).toEqual({
      scheme: 'cbcs',
      keySystems: [
        { system: 'widevine', keySystem: 'com.widevine.alpha', licenseUrl: `/license/widevine?session=${grant.sessionId}` },
        { system: 'clearkey', keySystem: 'org.w3.clearkey', licenseUrl: `/license/clearkey?session=${grant.sessionId}` },
      ],
    });
    expect(await viewers.getSession(grant.sessionId)).toMatchObject({ titleId: 'locked-1', codec: 'avc1', maxHeight: 1080, planMaxHeight: 1080 });
  });

  it('offers no key system the title\'s manifests do not signal, whatever license services exist', async () => {
    const handler = createPlayHandler(dependencies({ licenseSystems: ['clearkey', 'widevine'] }));

    const response = await play(handler, 'ivy', { titleId: 'clearkey-only-1', device: { codecs: ['avc1'], maxHeight: 1080, keySystems: ['widevine', 'clearkey'] } });

    expect((bodyOf(response) as { protection: { keySystems: { system: string }[] } }).protection.keySystems.map((offer) => offer.system)).toEqual(['clearkey']);
    const refused = await play(handler, 'ivy', { titleId: 'clearkey-only-1', device: { codecs: ['avc1'], maxHeight: 1080, keySystems: ['widevine'] } });
    expect([refused.statusCode, bodyOf(refused).error]).toEqual([422, 'no-key-system']);
  });

  it.each([
    ['declares no key system the platform offers', { keySystems: ['fairplay'] }, 'the device declared key systems [fairplay], the platform offers [clearkey, widevine]'],
    ['declares no key system at all', {}, 'the device declared key systems [], the platform offers [clearkey, widevine]'],
  ])('refuses a protected title with 422 no-key-system when the device %s, taking no stream slot', async (_what, keySystems, message) => {
    const handler = createPlayHandler(dependencies({ licenseSystems: ['clearkey', 'widevine'] }));

    const refused = await play(handler, 'gwen', { titleId: 'locked-1', device: { codecs: ['avc1'], maxHeight: 1080, ...keySystems } });

    expect([refused.statusCode, bodyOf(refused).error, bodyOf(refused).message]).toEqual([422, 'no-key-system', expect.stringContaining(message)]);
    expect((await viewers.getPlanAndHeldSlots('gwen', clockMs)).heldSlots.size).toBe(1);
  });

  it('grants an unprotected title as before whatever key systems the device declares, recording the codec and height the licenses would need', async () => {
    const response = await play(createPlayHandler(dependencies()), 'alice', { titleId: 'rare-1', device: { codecs: ['hvc1'], maxHeight: 720, keySystems: ['widevine'] } });

    const grant = bodyOf(response) as { sessionId: string };
    expect([response.statusCode, 'protection' in grant]).toEqual([200, false]);
    expect(await viewers.getSession(grant.sessionId)).toMatchObject({ codec: 'hvc1', maxHeight: 720 });
  });

  it('lets exactly one of two simultaneous plays through on a one-stream plan', async () => {
    const handler = createPlayHandler(dependencies());
    const body = { titleId: 'movie-1', device: { codecs: ['avc1'], maxHeight: 720 }, clientIp: NEAR_CLIENT };
    const responses = await Promise.all([play(handler, 'bob', body), play(handler, 'bob', body)]);

    expect(responses.map((r) => r.statusCode).sort()).toEqual([200, 403]);
    const refused = responses.find((r) => r.statusCode === 403)!;
    expect(bodyOf(refused)).toMatchObject({ error: 'stream-limit', message: expect.stringContaining('basic plan allows 1') });
  });

  it('frees the slot when the lease runs out without telemetry', async () => {
    clockMs += 301_000;
    const handler = createPlayHandler(dependencies());
    const response = await play(handler, 'bob', { titleId: 'movie-1', device: { codecs: ['avc1'], maxHeight: 720 } });
    expect(response.statusCode).toBe(200);
  });

  it('admits exactly four of six simultaneous plays on a four-stream plan', async () => {
    const handler = createPlayHandler(dependencies());
    const body = { titleId: 'movie-1', device: { codecs: ['avc1'], maxHeight: 1080 } };
    const responses = await Promise.all(Array.from({ length: 6 }, () => play(handler, 'dave', body)));
    expect(responses.filter((r) => r.statusCode === 200)).toHaveLength(4);
    expect(responses.filter((r) => r.statusCode === 403)).toHaveLength(2);
  });

  it('keeps steering with the last good fleet snapshot when the registry fails, and says it is degraded once a refresh has failed', async () => {
    let registryUp = true;
    const loadSnapshot = snapshotLoader(fleetStore, 'us-east-1', () => clockMs, iam);
    const fleet = new FleetCache(
      async () => {
        if (!registryUp) throw new Error('registry down');
        return loadSnapshot();
      },
      { maxAgeMs: 10_000, loadTimeoutMs: 2000, retryAfterMs: 1000, policy: DEFAULT_STEERING_POLICY },
      () => clockMs,
    );
    const handler = createPlayHandler(dependencies({ fleet }));
    const body = { titleId: 'movie-1', device: { codecs: ['avc1'], maxHeight: 1080 }, clientIp: NEAR_CLIENT };
    await reportHolding(fleetStore, ROLE, clockMs, 'oca-near-1', ['movie-1']);
    await play(handler, 'alice', body);
    registryUp = false;
    clockMs += 20_000;

    // The first play after the snapshot aged starts the refresh and does not wait for it; the refresh fails.
    const duringRefresh = await play(handler, 'alice', body);
    const afterFailure = await play(handler, 'alice', body);
    const outcome = (response: Awaited<ReturnType<typeof play>>) => {
      const grant = bodyOf(response) as { steering: { degraded: boolean }; sources: Source[] };
      return [response.statusCode, grant.steering.degraded, grant.sources.some((s) => s.tier === 'appliance')];
    };
    expect([outcome(duringRefresh), outcome(afterFailure)]).toEqual([
      [200, false, true],
      [200, true, true],
    ]);
  });

  it('answers a play while the fleet registry is being read again, without waiting for that read', async () => {
    clockMs += 301_000;
    let releaseRegistry = () => {};
    let refreshes = 0;
    const loadSnapshot = snapshotLoader(fleetStore, 'us-east-1', () => clockMs, iam);
    const fleet = new FleetCache(
      async () => {
        if (refreshes++ > 0) {
          await new Promise<void>((resolve) => (releaseRegistry = resolve));
        }
        return loadSnapshot();
      },
      { maxAgeMs: 10_000, loadTimeoutMs: 5000, retryAfterMs: 1000, policy: DEFAULT_STEERING_POLICY },
      () => clockMs,
    );
    const handler = createPlayHandler(dependencies({ fleet }));
    const body = { titleId: 'movie-1', device: { codecs: ['avc1'], maxHeight: 1080 }, clientIp: NEAR_CLIENT };
    await reportHolding(fleetStore, ROLE, clockMs, 'oca-near-1', ['movie-1']);
    await play(handler, 'erin', body);
    clockMs += 11_000;
    try {
      const response = await play(handler, 'erin', body);

      const grant = bodyOf(response) as { steering: unknown; sources: Source[] };
      expect([response.statusCode, refreshes]).toEqual([200, 2]);
      expect(grant.steering).toEqual({ degraded: false, fleetAgeSeconds: 11 });
      expect(grant.sources[0]).toMatchObject({ tier: 'appliance', clusterId: 'isp-near' });
    } finally {
      releaseRegistry();
    }
  });

  it('goes to the origin tier, degraded, when the registry has never answered', async () => {
    const fleet = new FleetCache(() => Promise.reject(new Error('down')), { maxAgeMs: 10_000, loadTimeoutMs: 100, retryAfterMs: 1000, policy: DEFAULT_STEERING_POLICY });
    const response = await play(createPlayHandler(dependencies({ fleet })), 'alice', {
      titleId: 'movie-1',
      device: { codecs: ['avc1'], maxHeight: 1080 },
    });
    const grant = bodyOf(response) as { steering: { degraded: boolean }; sources: Source[] };
    expect(grant.steering.degraded).toBe(true);
    expect(grant.sources.map((s) => s.tier)).toEqual(['origin']);
  });

  it.each([
    ['an unknown title', 'alice', { titleId: 'nope', device: { codecs: ['avc1'], maxHeight: 720 } }, 404, 'unknown-title'],
    ['a title outside its availability window', 'alice', { titleId: 'future-1', device: { codecs: ['avc1'], maxHeight: 720 } }, 404, 'unknown-title'],
    ['an account without a plan', 'mallory', { titleId: 'movie-1', device: { codecs: ['avc1'], maxHeight: 720 } }, 403, 'no-plan'],
    ['a device no rendition fits', 'alice', { titleId: 'movie-1', device: { codecs: ['av01'], maxHeight: 720 } }, 422, 'no-playable-rendition'],
  ])('refuses %s', async (_label, account, body, status, error) => {
    const response = await play(createPlayHandler(dependencies()), account, body);
    expect([response.statusCode, bodyOf(response).error]).toEqual([status, error]);
  });

  it.each([
    [{ titleId: 'movie-1' }, 'body.device'],
    [{ titleId: 'movie-1', device: { codecs: ['vp9'], maxHeight: 720 } }, 'body.device.codecs[0]'],
    [{ titleId: 'movie-1', device: { codecs: ['avc1'], maxHeight: 99_999 } }, 'body.device.maxHeight'],
    [{ titleId: '../etc', device: { codecs: ['avc1'], maxHeight: 720 } }, 'body.titleId'],
    [{ titleId: 'movie-1', device: { codecs: ['avc1'], maxHeight: 720 }, clientIp: 'not-an-ip' }, 'body.clientIp'],
    [{ titleId: 'movie-1', device: { codecs: ['avc1'], maxHeight: 720, keySystems: ['com.widevine.alpha'] } }, 'body.device.keySystems[0]'],
    [{ titleId: 'movie-1', device: { codecs: ['avc1'], maxHeight: 720, keySystems: Array(5).fill('clearkey') } }, 'body.device.keySystems'],
  ])('answers 400 naming the field for %j', async (body, field) => {
    const response = await play(createPlayHandler(dependencies()), 'alice', body);
    expect([response.statusCode, bodyOf(response).field]).toEqual([400, field]);
  });

  it('answers 401 without a viewer identity and 413 for an oversized body, consuming no slot', async () => {
    const handler = createPlayHandler(dependencies());
    expect((await play(handler, undefined, { titleId: 'movie-1' })).statusCode).toBe(401);
    const huge = await handler(viewerEvent('POST /play', 'bob', { rawBody: JSON.stringify({ pad: 'x'.repeat(20_000) }) }));
    expect(huge.statusCode).toBe(413);
  });

  it('answers 500 with a request id and no stack when a dependency breaks, and frees the slot it took', async () => {
    const broken = createPlayHandler(dependencies({ origin: async () => ({ sign: () => { throw new Error('kms exploded at /var/task/index.js:1'); } }) }));
    clockMs += 301_000;
    const response = await play(broken, 'bob', { titleId: 'movie-1', device: { codecs: ['avc1'], maxHeight: 720 } });
    expect(response.statusCode).toBe(500);
    expect(bodyOf(response)).toEqual({ error: 'internal', message: expect.any(String), requestId: 'request-1' });
    expect(response.body).not.toContain('/var/task');
    const retry = await play(createPlayHandler(dependencies()), 'bob', { titleId: 'movie-1', device: { codecs: ['avc1'], maxHeight: 720 } });
    expect(retry.statusCode).toBe(200);
  });

  it('frees the slot it took when the session cannot be recorded', async () => {
    clockMs += 301_000;
    class UnrecordedSessions extends ViewerStore {
      override async putSession(): Promise<void> {
        throw new Error('table throttled');
      }
    }
    const failing = createPlayHandler(dependencies({ viewers: new UnrecordedSessions(dynamo.documentClient(), TABLE) }));
    const body = { titleId: 'movie-1', device: { codecs: ['avc1'], maxHeight: 720 } };

    const refused = await play(failing, 'bob', body);
    const retry = await play(createPlayHandler(dependencies()), 'bob', body);

    expect([refused.statusCode, retry.statusCode]).toEqual([500, 200]);
  });

  describe('built from its environment', () => {
    const LOCAL_ORIGIN = 'http://127.0.0.1:4523';
    const variables = (overrides: Record<string, string>): Record<string, string> => ({
      ...LOCAL_AWS_ENV,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      CONTROL_TABLE_NAME: TABLE,
      URL_SIGNING_SECRET_NAME: 'nearstream/test/url-signing',
      ORIGIN_SIGNING_SECRET_NAME: 'nearstream/test/origin-signing-key',
      ORIGIN_DOMAIN_NAME: ORIGIN_DOMAIN,
      // No snapshot to read (nothing listens there): these plays go to the origin tier, degraded.
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
      STEERING_SNAPSHOT_BUCKET: 'steering',
      STEERING_SNAPSHOT_KEY: 'steering/snapshot.bin',
      ...overrides,
    });
    let restore: (() => void)[] = [];

    type PlayFunction = typeof import('../../lambda/playback/handler').handler;
    const invocation = () => localInvocationContext({ functionName: 'play', region: LOCAL_AWS_ENV.AWS_REGION, timeoutMs: 10_000, memorySizeMb: 1024 });

    /** The module's own `handler`, loaded afresh under `env`, with Secrets Manager answering from memory. */
    function handlerFrom(env: Record<string, string>): PlayFunction {
      const previous = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
      Object.assign(process.env, env);
      restore.push(() => {
        for (const [name, value] of Object.entries(previous)) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
      });
      let handler!: PlayFunction;
      jest.isolateModules(() => {
        const { SecretsManagerClient, GetSecretValueCommand } = require('@aws-sdk/client-secrets-manager');
        const { mockClient } = require('aws-sdk-client-mock');
        const secrets = mockClient(SecretsManagerClient);
        secrets.on(GetSecretValueCommand, { SecretId: env.URL_SIGNING_SECRET_NAME }).resolves({
          SecretString: JSON.stringify({ activeKeyId: 'k1', k1: TEST_KEYRING.keys.get('k1')!.toString('utf8') }),
        });
        secrets.on(GetSecretValueCommand, { SecretId: env.ORIGIN_SIGNING_SECRET_NAME }).resolves({ SecretString: originSigningSecret });
        restore.push(() => secrets.restore());
        handler = require('../../lambda/playback/handler').handler;
      });
      return handler;
    }

    afterEach(() => {
      restore.reverse().forEach((undo) => undo());
      restore = [];
    });

    it('signs the origin tier under ORIGIN_BASE_URL when it is set, for a local CloudFront stand-in', async () => {
      const handler = handlerFrom(variables({ ORIGIN_BASE_URL: LOCAL_ORIGIN }));

      const response = await handler(viewerEvent('POST /play', 'erin', { body: { titleId: 'rare-1', device: { codecs: ['avc1'], maxHeight: 1080 } } }), invocation());

      expect(response.statusCode).toBe(200);
      const origin = (bodyOf(response) as { sources: Source[] }).sources.at(-1)!;
      const url = new URL(origin.hls);
      const policy = JSON.parse(Buffer.from(url.searchParams.get('Policy')!.replace(/-/g, '+').replace(/_/g, '=').replace(/~/g, '/'), 'base64').toString());
      expect(`${url.origin}${url.pathname}`).toBe(`${LOCAL_ORIGIN}/titles/rare-1/avc1/index.m3u8`);
      expect(policy.Statement[0].Resource).toBe(`${LOCAL_ORIGIN}/titles/rare-1/avc1/*`);
      expect(origin.cookies).toMatchObject({ 'CloudFront-Policy': url.searchParams.get('Policy'), 'CloudFront-Signature': url.searchParams.get('Signature') });
    });

    it('signs the origin tier under https://ORIGIN_DOMAIN_NAME when no base URL is set', async () => {
      const handler = handlerFrom(variables({ ORIGIN_BASE_URL: '' }));

      const response = await handler(viewerEvent('POST /play', 'erin', { body: { titleId: 'rare-1', device: { codecs: ['avc1'], maxHeight: 1080 } } }), invocation());

      const origin = (bodyOf(response) as { sources: Source[] }).sources.at(-1)!;
      expect(origin.hls.startsWith(`https://${ORIGIN_DOMAIN}/titles/rare-1/avc1/index.m3u8?Policy=`)).toBe(true);
    });

    it('offers a protected title\'s devices the commercial key systems LICENSE_SERVICES configures, besides ClearKey', async () => {
      const widevine = { url: 'https://license.example.com/widevine', secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:nearstream/widevine-AbCdEf' };
      const handler = handlerFrom(variables({ LICENSE_SERVICES: JSON.stringify({ widevine }) }));

      const response = await handler(viewerEvent('POST /play', 'hank', { body: { titleId: 'locked-1', device: { codecs: ['avc1'], maxHeight: 1080, keySystems: ['widevine', 'playready', 'clearkey'] } } }), invocation());

      const grant = bodyOf(response) as { protection: { keySystems: { system: string }[] } };
      expect(grant.protection.keySystems.map((offer) => offer.system)).toEqual(['widevine', 'clearkey']);
    });

    it('refuses an ORIGIN_BASE_URL with a path, naming the variable', async () => {
      const handler = handlerFrom(variables({ ORIGIN_BASE_URL: `${LOCAL_ORIGIN}/origin/` }));

      await expect(handler(viewerEvent('POST /play', 'erin', { body: {} }), invocation())).rejects.toThrow(
        `Environment variable ORIGIN_BASE_URL must be an http(s) URL with no path, query or trailing slash, such as http://127.0.0.1:4523 (got '${LOCAL_ORIGIN}/origin/')`,
      );
    });
  });
});
