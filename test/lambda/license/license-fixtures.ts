import { randomBytes } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CatalogTitle } from '../../../lambda/catalog/catalog';
import { CatalogStore } from '../../../lambda/catalog/catalog-store';
import { FleetStore } from '../../../lambda/fleet/fleet-store';
import { TitleKeys } from '../../../lambda/license/license-service';
import { FleetCache } from '../../../lambda/playback/fleet-cache';
import { createPlayHandler } from '../../../lambda/playback/handler';
import { activeKeySigner } from '../../../lambda/playback/origin-signer';
import { PlayDependencies } from '../../../lambda/playback/play-service';
import { DEFAULT_STEERING_POLICY } from '../../../lambda/playback/steering';
import { ViewerStore } from '../../../lambda/playback/viewer-store';
import { ContentKey, DRM_SYSTEM_NAMES, DrmSystem, KEY_GROUPS, KeyGroup, kidToBase64Url } from '../../../lambda/shared/content-protection';
import { formatOriginSigningKey } from '../../../lambda/shared/origin-signing-key';
import { bodyOf, viewerEvent } from '../../support/events';
import { catalogTitle, cloudFrontKeyPair, TEST_KEYRING } from '../../support/fixtures';
import { snapshotLoader } from '../../support/steering';

/** One content key per group, as the key provider would make them for `titleId`. */
export function titleKeysOf(titleId: string): Record<KeyGroup, ContentKey> {
  return Object.fromEntries(
    KEY_GROUPS.map((group) => [group, { titleId, group, kid: randomBytes(16).toString('hex'), key: randomBytes(16) }]),
  ) as Record<KeyGroup, ContentKey>;
}

/**
 * A title packaged under `keys` for `systems` (by default every one the platform knows), with the
 * fixtures' full ladder (240p-2160p) in avc1 and hvc1.
 */
export function protectedTitle(titleId: string, keys: Record<KeyGroup, ContentKey>, systems: readonly DrmSystem[] = DRM_SYSTEM_NAMES): CatalogTitle {
  return catalogTitle(titleId, { protection: { scheme: 'cbcs', keys: Object.values(keys).map(({ group, kid }) => ({ group, kid })), systems } });
}

/** The key store, in memory: like `ContentKeyStore`, it opens only the kids asked for, and it records what it opened. */
export class InMemoryTitleKeys implements TitleKeys {
  private readonly keys = new Map<string, ContentKey[]>();
  /** The kids of every key handed out, one entry per call. */
  readonly opened: string[][] = [];

  add(...keys: ContentKey[]): void {
    for (const key of keys) {
      this.keys.set(key.titleId, [...(this.keys.get(key.titleId) ?? []), key]);
    }
  }

  async keysForTitle(titleId: string, kids?: ReadonlySet<string>): Promise<readonly ContentKey[]> {
    const keys = (this.keys.get(titleId) ?? []).filter((key) => !kids || kids.has(key.kid));
    this.opened.push(keys.map((key) => key.kid));
    return keys;
  }
}

/** A ClearKey license request for `keys`, as a CDM writes it. */
export function clearKeyRequest(...keys: ContentKey[]): { kids: string[]; type: 'temporary' } {
  return { kids: keys.map((key) => kidToBase64Url(key.kid)), type: 'temporary' };
}

/**
 * Plays through the real `POST /play` handler (origin tier only: no appliance is registered), so
 * license tests start from sessions and slots exactly as a play records them.
 */
export function playerOf(client: DynamoDBDocumentClient, table: string, nowMs: () => number, overrides: Partial<PlayDependencies> = {}) {
  const originSecret = formatOriginSigningKey({ keyPairId: 'K2JCJMDEHXQW5F', generation: 1, privateKeyPem: cloudFrontKeyPair().privateKeyPem });
  let sessions = 0;
  const play = createPlayHandler({
    catalog: new CatalogStore(client, table),
    viewers: new ViewerStore(client, table),
    fleet: new FleetCache(snapshotLoader(new FleetStore(client, table), 'us-east-1', nowMs), { maxAgeMs: 10_000, loadTimeoutMs: 2000, retryAfterMs: 1000, policy: DEFAULT_STEERING_POLICY }, nowMs),
    keyring: async () => TEST_KEYRING,
    origin: activeKeySigner({ get: async () => originSecret }, 'origin-signing-key', 'd111111abcdef8.cloudfront.net'),
    region: 'us-east-1',
    sessionTtlSeconds: 4 * 3600,
    leaseSeconds: 300,
    nowMs,
    newSessionId: () => `play-${++sessions}`,
    licenseSystems: ['clearkey', 'widevine'],
    ...overrides,
  });
  /** Starts a play of `titleId` on a ClearKey device up to `maxHeight`, returning its session id. */
  return async (account: string, titleId: string, maxHeight: number, keySystems: string[] = ['clearkey', 'widevine']): Promise<string> => {
    const response = await play(viewerEvent('POST /play', account, { body: { titleId, device: { codecs: ['avc1'], maxHeight, keySystems } } }));
    if (response.statusCode !== 200) {
      throw new Error(`play of ${titleId} for ${account} answered ${response.statusCode}: ${response.body}`);
    }
    return bodyOf(response).sessionId as string;
  };
}
