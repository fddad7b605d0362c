import { generateKeyPairSync } from 'node:crypto';
import { CatalogTitle, Codec } from '../../lambda/catalog/catalog';
import { holdingsOf } from '../../lambda/fleet/fleet-protocol';
import { FleetStore } from '../../lambda/fleet/fleet-store';
import { parseKeyring } from '../../lambda/shared/url-token';

export const TEST_KEYRING = parseKeyring(JSON.stringify({ activeKeyId: 'k1', k1: 'test-signing-key-'.padEnd(48, 'x') }));

/** A fresh RSA key pair, as the origin key custom resource creates for CloudFront. */
export function cloudFrontKeyPair(): { publicKeyPem: string; privateKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKeyPem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
  };
}

const LADDER: readonly [number, number][] = [
  [240, 235],
  [360, 750],
  [480, 1750],
  [720, 3000],
  [1080, 5800],
  [1440, 9000],
  [2160, 16000],
];

/** A title as the encoding workflow lands it: both manifests per codec, a full ladder each. */
export function catalogTitle(titleId: string, overrides: Partial<CatalogTitle> = {}, codecs: Codec[] = ['avc1', 'hvc1']): CatalogTitle {
  return {
    titleId,
    name: `Title ${titleId}`,
    durationSeconds: 5400,
    status: 'available',
    availableFrom: '2020-01-01T00:00:00.000Z',
    renditions: codecs.flatMap((codec) =>
      LADDER.map(([height, bitrateKbps]) => ({
        codec,
        width: Math.round((height * 16) / 9),
        height,
        bitrateKbps: codec === 'avc1' ? bitrateKbps : Math.round(bitrateKbps * 0.6),
        bytes: bitrateKbps * 5400 * 125,
      })),
    ),
    manifests: Object.fromEntries(
      codecs.map((codec) => [codec, { hls: `titles/${titleId}/${codec}/index.m3u8`, dash: `titles/${titleId}/${codec}/index.mpd` }]),
    ),
    ...overrides,
  };
}

/** A report of an appliance holding all of `titles`, placed on it in that order in `generation`. */
export function healthReport(applianceId: string, titles: string[], load = 0.2, generation = 1) {
  return {
    applianceId,
    health: { load, egressGbps: 10, diskUsedBytes: 1e12, errorRate: 0 },
    holdings: holdingsOf(generation, titles, new Set(titles)),
  };
}

/** Stores the placement `healthReport` refers to, then the report, as planning and the appliance would. */
export async function reportHolding(store: FleetStore, principalArn: string, nowMs: number, applianceId: string, titles: string[], load = 0.2): Promise<void> {
  await store.putPlacement(applianceId, 1, titles, nowMs + 86_400_000);
  await store.report(healthReport(applianceId, titles, load), principalArn, nowMs);
}

export function registration(applianceId: string, clusterId: string, prefixes: string[], region = 'us-east-1') {
  return {
    applianceId,
    clusterId,
    region,
    baseUrl: `https://${applianceId}.${clusterId}.example`,
    capacity: { egressGbps: 40, diskBytes: 100e12 },
    prefixes,
  };
}
