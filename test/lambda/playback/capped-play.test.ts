import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readEdgeTemplate, renderEdgeConfig } from '../../../appliance-image/agent/src/edge-config';
import { CatalogStore } from '../../../lambda/catalog/catalog-store';
import { ObjectDigestStore } from '../../../lambda/encoding/object-digest-store';
import { FleetStore } from '../../../lambda/fleet/fleet-store';
import { FleetCache } from '../../../lambda/playback/fleet-cache';
import { cloudFrontSigner } from '../../../lambda/playback/origin-signer';
import { authorizePlay, PlayDependencies } from '../../../lambda/playback/play-service';
import { DEFAULT_STEERING_POLICY } from '../../../lambda/playback/steering';
import { ViewerStore } from '../../../lambda/playback/viewer-store';
import { dashRepresentations, hlsRenditionHeights } from '../../../lambda/shared/rendition-manifests';
import { resolveEnvironment } from '../../../lib/config/environment';
import { encodeTitleLocally } from '../../../local/encoder/ffmpeg-stand-in';
import { DynamoDbLocal } from '../../support/dynamodb-local';
import { EdgeServer } from '../../support/edge-server';
import { cloudFrontKeyPair, reportHolding, registration, TEST_KEYRING } from '../../support/fixtures';
import { snapshotLoader } from '../../support/steering';
import { testClip } from '../../support/manifests';
import { S3Server } from '../../support/s3-server';

const TABLE = 'nearstream-capped-play';
const ROLE = 'arn:aws:sts::123456789012:assumed-role/appliance/i-1';
const ORIGIN_DOMAIN = 'd111111abcdef8.cloudfront.net';
const NEAR_CLIENT = '198.51.100.20';

interface Grant {
  renditions: { height: number }[];
  sources: { tier: string; hls: string; dash: string; cookies?: Record<string, string> }[];
}

/**
 * The play path end to end for a capped viewer: a title encoded by the ffmpeg stand-in (as the
 * encoding workflow lands it: rendition index and capped manifests included), a real nginx edge
 * holding it, and the grant's URLs followed to what a player would receive.
 */
describe('what a capped viewer\'s player receives', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-capped-play-'));
  const cacheDir = path.join(root, 'cache');
  let dynamo: DynamoDbLocal;
  let s3: S3Server;
  let edge: EdgeServer;
  let titleId: string;
  let deps: PlayDependencies;
  let sessions = 0;

  beforeAll(async () => {
    fs.chmodSync(root, 0o755);
    [dynamo, s3] = await Promise.all([DynamoDbLocal.start(), S3Server.start(['origin'])]);
    await dynamo.createControlTable(TABLE);
    const catalog = new CatalogStore(dynamo.documentClient(), TABLE);
    const clip = path.join(root, 'capped.mp4');
    testClip(clip, 720, 2);
    const title = await encodeTitleLocally(
      {
        s3: s3.client(),
        originBucket: 'origin',
        catalog,
        digests: new ObjectDigestStore(dynamo.documentClient(), TABLE),
        rates: resolveEnvironment({ name: 'dev' }).encoding.ratesUsdPerMinute,
        nowIso: () => new Date(Date.now() - 60_000).toISOString(),
      },
      { file: clip, source: { bucket: 'source', key: 'uploads/capped.mp4' } },
    );
    titleId = title.titleId;
    // The appliance's fill, in short: every object of the title, into its cache.
    for (const key of await s3.keys('origin', `titles/${titleId}/`)) {
      fs.mkdirSync(path.dirname(path.join(cacheDir, key)), { recursive: true, mode: 0o755 });
      fs.writeFileSync(path.join(cacheDir, key), await s3.read('origin', key), { mode: 0o644 });
    }
    const viewers = new ViewerStore(dynamo.documentClient(), TABLE);
    await viewers.putPlan('bob', 'basic');
    await viewers.putPlan('alice', 'premium');
    const fleetStore = new FleetStore(dynamo.documentClient(), TABLE);
    await fleetStore.register(registration('oca-near-1', 'isp-near', ['198.51.100.0/24']), ROLE, new Date());
    await reportHolding(fleetStore, ROLE, Date.now(), 'oca-near-1', [titleId]);

    const keyringFile = path.join(root, 'keyring.json');
    fs.writeFileSync(keyringFile, JSON.stringify({ activeKeyId: 'k1', k1: TEST_KEYRING.keys.get('k1')!.toString('utf8') }), { mode: 0o644 });
    const nginxDir = path.join(__dirname, '..', '..', '..', 'appliance-image', 'nginx');
    edge = await EdgeServer.start(path.join(root, 'nginx'), (listen) =>
      renderEdgeConfig(readEdgeTemplate(path.join(nginxDir, 'nearstream-edge.conf.template')), { applianceId: 'oca-near-1', cacheDir, keyringFile }, { listen, njsDir: nginxDir, accessLog: 'off' }),
    );

    const signer = cloudFrontSigner({ domainName: ORIGIN_DOMAIN, keyPairId: 'K2JCJMDEHXQW5F', privateKeyPem: cloudFrontKeyPair().privateKeyPem });
    deps = {
      catalog,
      viewers,
      fleet: new FleetCache(snapshotLoader(fleetStore, 'us-east-1', Date.now), { maxAgeMs: 10_000, loadTimeoutMs: 2000, retryAfterMs: 1000, policy: DEFAULT_STEERING_POLICY }, Date.now),
      keyring: async () => TEST_KEYRING,
      origin: async () => signer,
      region: 'us-east-1',
      sessionTtlSeconds: 4 * 3600,
      leaseSeconds: 300,
      nowMs: Date.now,
      newSessionId: () => `session-${++sessions}`,
    };
  }, 120_000);

  afterAll(async () => {
    await edge?.stop();
    await s3?.stop();
    await dynamo?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  const grants = new Map<string, Promise<Grant>>();
  /** One play per account and height: a basic plan has one stream. */
  const play = (account: string, maxHeight: number) => {
    const key = `${account}@${maxHeight}`;
    if (!grants.has(key)) {
      grants.set(key, authorizePlay(deps, account, { titleId, device: { codecs: ['avc1'], maxHeight }, clientIp: NEAR_CLIENT }, '203.0.113.50') as Promise<unknown> as Promise<Grant>);
    }
    return grants.get(key)!;
  };
  const source = (grant: Grant, tier: string) => grant.sources.find((candidate) => candidate.tier === tier)!;
  /** What the appliance answers for a URL of the grant. */
  const fromEdge = (url: string) => fetch(edge.url(new URL(url).pathname));
  /** What the origin bucket holds behind an origin-tier URL of the grant. */
  const fromOrigin = async (url: string) => (await s3.read('origin', new URL(url).pathname.slice(1))).toString('utf8');
  const pictures = (heights: Iterable<number>) => [...new Set(heights)].filter((height) => height > 0).sort((a, b) => a - b);

  it('lists only the renditions at or below a 480p device\'s height, from an appliance and from the origin tier, in HLS and DASH', async () => {
    const grant = await play('bob', 480);
    expect(pictures(grant.renditions.map((r) => r.height))).toEqual([234, 360, 432]);

    const appliance = source(grant, 'appliance');
    const hls = await (await fromEdge(appliance.hls)).text();
    const dash = await (await fromEdge(appliance.dash)).text();
    expect(pictures(hlsRenditionHeights(hls).values())).toEqual([234, 360, 432]);
    expect(pictures(dashRepresentations(dash).map((r) => r.height))).toEqual([234, 360, 432]);

    const origin = source(grant, 'origin');
    expect(new URL(origin.hls).pathname).toBe(`/titles/${titleId}/avc1/index.cap432.m3u8`);
    expect(pictures(hlsRenditionHeights(await fromOrigin(origin.hls)).values())).toEqual([234, 360, 432]);
    expect(pictures(dashRepresentations(await fromOrigin(origin.dash)).map((r) => r.height))).toEqual([234, 360, 432]);
  });

  it('lets the appliance serve every playlist the cut manifest lists, and refuse the ones it left out', async () => {
    const appliance = source(await play('bob', 480), 'appliance');
    const base = appliance.hls.slice(0, appliance.hls.lastIndexOf('/') + 1);
    const listed = hlsRenditionHeights(await (await fromEdge(appliance.hls)).text());
    const all = hlsRenditionHeights(fs.readFileSync(path.join(cacheDir, 'titles', titleId, 'avc1', 'index.m3u8'), 'utf8'));
    for (const [playlist, height] of all) {
      expect([playlist, height, (await fromEdge(`${base}${playlist}`)).status]).toEqual([playlist, height, listed.has(playlist) ? 200 : 403]);
    }
    expect([...all.keys()].filter((playlist) => !listed.has(playlist))).toHaveLength(2);
  });

  it('opens the origin policy on the chosen codec only, carrying the session\'s height for the distribution\'s guard', async () => {
    const origin = source(await play('bob', 480), 'origin');
    const policy = JSON.parse(Buffer.from(new URL(origin.hls).searchParams.get('Policy')!.replace(/-/g, '+').replace(/_/g, '=').replace(/~/g, '/'), 'base64').toString());
    expect(policy.Statement[0]).toMatchObject({
      Resource: `https://${ORIGIN_DOMAIN}/titles/${titleId}/avc1/*`,
      Condition: { DateGreaterThan: { 'AWS:EpochTime': 480 } },
    });
  });

  it('gives an uncapped premium viewer every rendition, from the manifests cut at the tallest', async () => {
    const grant = await play('alice', 2160);
    const origin = source(grant, 'origin');
    expect(new URL(origin.hls).pathname).toBe(`/titles/${titleId}/avc1/index.cap720.m3u8`);
    expect(pictures(hlsRenditionHeights(await fromOrigin(origin.hls)).values())).toEqual([234, 360, 432, 540, 720]);
    expect(pictures(hlsRenditionHeights(await (await fromEdge(source(grant, 'appliance').hls)).text()).values())).toEqual([234, 360, 432, 540, 720]);
  });
});
