import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Codec, CatalogTitle } from '../../lambda/catalog/catalog';
import { CatalogStore } from '../../lambda/catalog/catalog-store';
import { ObjectDigestStore } from '../../lambda/encoding/object-digest-store';
import { PROTECTION_METADATA, protectionFromMetadata } from '../../lambda/encoding/ingest';
import { ContentKeyStore } from '../../lambda/keys/content-key-store';
import { KeyProvider } from '../../lambda/keys/key-provider';
import { RegionalKmsKeyWrapper } from '../../lambda/keys/regional-key-wrapper';
import { titleIdFor } from '../../lambda/encoding/title-id';
import { EnvironmentConfig } from '../../lib/config/environment';
import { encodeTitleLocally } from '../encoder/ffmpeg-stand-in';
import { PROTECTABLE_CODECS } from '../encoder/protected-outputs';
import { LocalRegionProcess } from '../region/local-region';
import { healthKeyOf } from '../../lambda/steering/snapshot-store';
import { runFill } from './appliance';
import { contentKeyArn, kmsEndpoint, LOCAL_AWS_CREDENTIALS, PlatformState, regionEnvironment, steeringSnapshotKey } from './platform-state';

const LOCAL_CREDENTIALS = { accessKeyId: LOCAL_AWS_CREDENTIALS.AWS_ACCESS_KEY_ID, secretAccessKey: LOCAL_AWS_CREDENTIALS.AWS_SECRET_ACCESS_KEY };

export function localS3(state: PlatformState): S3Client {
  return new S3Client({ endpoint: state.endpoints.s3, region: 'us-east-1', forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
}

export function localDocumentClient(state: PlatformState): DynamoDBDocumentClient {
  const client = new DynamoDBClient({ endpoint: state.endpoints.dynamodb, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

export interface UploadOptions {
  readonly codecs: readonly Codec[];
  /**
   * Whether the title is encrypted, as the upload's `nearstream-protection` object metadata says
   * it to ingest (`on` or `off`).
   * @default - the environment's default (`config.contentProtection.byDefault`)
   */
  readonly protection?: 'on' | 'off';
  /** Aborting it kills the encode under way. */
  readonly signal?: AbortSignal;
  /** What the encode decided that the user should know (codecs left out of a protected title). */
  readonly log?: (line: string) => void;
}

/**
 * The key provider, in this process: the Lambda's `KeyProvider` over the content-key store, each
 * data key wrapped for both regions by their KMS stand-ins (the primary makes it, the secondary
 * gets a copy), as the key provider function runs in the primary region. Only API Gateway is left
 * out. Destroy it when done.
 */
export function localKeyProvider(state: PlatformState, config: EnvironmentConfig): { provider: KeyProvider; destroy(): void } {
  const documents = localDocumentClient(state);
  const kmsOf = (region: string) => ({
    region,
    keyId: contentKeyArn(state, region),
    client: new KMSClient({ endpoint: kmsEndpoint(state, region), region, credentials: LOCAL_CREDENTIALS, maxAttempts: 3 }),
  });
  const home = kmsOf(config.primaryRegion);
  const replica = kmsOf(config.secondaryRegion);
  const store = new ContentKeyStore(documents, state.tableName, new RegionalKmsKeyWrapper({ ...home, replicas: [replica] }));
  return {
    provider: new KeyProvider({ store, licenseBaseUrl: state.regions[0].url }),
    destroy: () => {
      documents.destroy();
      home.client.destroy();
      replica.client.destroy();
    },
  };
}

/**
 * The cold path of one upload: the file goes into the source bucket (with its protection as
 * object metadata, which decides with the environment's default as ingest decides), the
 * MediaConvert stand-in encodes it into the origin, encrypting a protected title with keys from
 * the key provider, and the catalog entry and inventory are written by the encoding workflow's
 * own code. A title already available from the same file, in every codec asked for, is not
 * encoded again (a restart keeps its titles, and a title keeps the protection it was made with).
 */
export async function encodeUpload(state: PlatformState, config: EnvironmentConfig, file: string, options: UploadOptions): Promise<CatalogTitle> {
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
    throw new Error(`${file}: no such file`);
  }
  const metadata = options.protection === undefined ? undefined : { [PROTECTION_METADATA]: options.protection };
  // The local platform always has its key provider: ClearKey is the system it licenses.
  const protection = protectionFromMetadata(metadata, { keyProviderUrl: state.regions[0].url, systems: ['clearkey'], byDefault: config.contentProtection.byDefault });
  if (typeof protection === 'string') {
    throw new Error(protection);
  }
  const s3 = localS3(state);
  const documents = localDocumentClient(state);
  const catalog = new CatalogStore(documents, state.tableName);
  const keys = protection ? localKeyProvider(state, config) : undefined;
  try {
    const key = `uploads/${path.basename(file)}`;
    // s3rver keeps no versions: the content's digest stands in for the version id S3 would give, so
    // a changed file under the same name is a new title, and the same file is the same title.
    const versionId = await contentVersion(file);
    const existing = await catalog.get(titleIdFor(state.buckets.source, key, versionId));
    if (existing?.status === 'available' && options.codecs.every((codec) => codec in existing.manifests || (existing.protection && !PROTECTABLE_CODECS.includes(codec)))) {
      if ((existing.protection !== undefined) !== protection) {
        options.log?.(`'${existing.name}' (${existing.titleId}) was encoded ${existing.protection ? 'protected' : 'in the clear'} before and stays so; start with --fresh to encode it again`);
      }
      return existing;
    }
    await s3.send(new PutObjectCommand({ Bucket: state.buckets.source, Key: key, Body: fs.readFileSync(file), ...(metadata ? { Metadata: metadata } : {}) }));
    const title = await encodeTitleLocally(
      {
        s3,
        originBucket: state.buckets.origin,
        catalog,
        digests: new ObjectDigestStore(documents, state.tableName),
        rates: config.encoding.ratesUsdPerMinute,
        nowIso: () => new Date().toISOString(),
        ...(keys ? { keyProvider: keys.provider } : {}),
      },
      { file, source: { bucket: state.buckets.source, key, versionId }, codecs: options.codecs, signal: options.signal, protection, log: options.log },
    );
    if (title.status !== 'available') {
      throw new Error(`${path.basename(file)} did not become available: ${title.status}${title.encoding?.failureReason ? ` (${title.encoding.failureReason})` : ''}`);
    }
    return title;
  } finally {
    s3.destroy();
    documents.destroy();
    keys?.destroy();
  }
}

async function contentVersion(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex').slice(0, 32);
}

/** Runs each region's nightly planning function once, as its schedule would. */
export async function planRegions(state: PlatformState, config: EnvironmentConfig): Promise<{ region: string; planned: number }[]> {
  return Promise.all(
    state.regions.map(async (region) => {
      const { planned } = await LocalRegionProcess.invokePlanning(state.bundles.region, {
        region: region.name,
        environment: regionEnvironment(state, config, region.name),
        logFile: path.join(state.logsDir, `planning-${region.name}.log`),
      });
      return { region: region.name, planned };
    }),
  );
}

/** Runs the real agent's fill on every appliance at once; a failed fill names the appliance and its last log line. */
export async function fillAppliances(state: PlatformState, note: (line: string) => void): Promise<void> {
  const outcomes = await Promise.all(
    state.appliances.map(async (appliance) => {
      const result = await runFill(state.bundles.agent, appliance.configFile, path.join(state.logsDir, `fill-${appliance.applianceId}.log`));
      note(`${appliance.applianceId} (${appliance.clusterId}): ${describeFill(result.lastLine)}`);
      return { appliance, ...result };
    }),
  );
  // Each fill reported what it holds before it exited.
  const filledAtMs = Date.now();
  const failed = outcomes.filter((outcome) => outcome.code !== 0);
  if (failed.length > 0) {
    throw new Error(failed.map((outcome) => `${outcome.appliance.applianceId} fill exited ${outcome.code}: ${outcome.lastLine}`).join('; '));
  }
  await steeringSnapshotsAfter(state, filledAtMs);
}

/** How long a region's snapshot builder may take to show a fill (it rebuilds every 2 s locally). */
const SNAPSHOT_WAIT_MS = 20_000;

/**
 * Waits until every region's steering snapshot was built after `afterMs`, so that what the
 * appliances just reported is what the next play steers by (as in the cloud, a fill reaches plays
 * one snapshot later).
 */
async function steeringSnapshotsAfter(state: PlatformState, afterMs: number): Promise<void> {
  const s3 = localS3(state);
  const deadline = Date.now() + SNAPSHOT_WAIT_MS;
  for (const region of state.regions) {
    // Health is rewritten by every build (holdings only when they change).
    const key = healthKeyOf(steeringSnapshotKey(region.name));
    for (;;) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: state.buckets.origin, Key: key })).catch(() => undefined);
      if (Number(head?.Metadata?.['built-at-ms'] ?? 0) > afterMs) {
        break;
      }
      if (Date.now() > deadline) {
        throw new Error(`region ${region.name}'s steering snapshot was not rebuilt within ${SNAPSHOT_WAIT_MS / 1000} s of the fill; see its log in ${state.logsDir}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  s3.destroy();
}

/** The agent's closing log line, in a few words. */
function describeFill(lastLine: string): string {
  try {
    const line = JSON.parse(lastLine) as { result?: string; downloadedObjects?: number; downloadedBytes?: number; message?: string };
    return [line.result, line.downloadedObjects !== undefined ? `${line.downloadedObjects} objects` : undefined, line.downloadedBytes !== undefined ? `${(line.downloadedBytes / 1e6).toFixed(1)} MB` : undefined, line.message]
      .filter(Boolean)
      .join(', ');
  } catch {
    return lastLine;
  }
}
