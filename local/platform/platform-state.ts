import * as fs from 'node:fs';
import { METRICS_NAMESPACE } from '../../lib/constructs/nearstream-function';
import { EnvironmentConfig } from '../../lib/config/environment';
import { EnvironmentNaming } from '../../lib/config/naming';

/** What every local process signs with: the S3 server accepts only its own key; the other local services check none. */
export const LOCAL_AWS_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' } as const;

/** The account every local resource is in: the local gateway's and the KMS stand-ins'. */
export const LOCAL_ACCOUNT_ID = '000000000000';

/** A local region: the AWS region it plays and where its API listens. */
export interface RegionInfo {
  readonly label: 'A' | 'B';
  readonly name: string;
  readonly url: string;
}

export interface ApplianceInfo {
  readonly applianceId: string;
  readonly clusterId: string;
  readonly region: string;
  readonly baseUrl: string;
  readonly configFile: string;
  readonly accessLog: string;
}

/**
 * What a running platform tells `npm run local` commands (`platform.json`): enough to encode into
 * it, plan, fill and play, from another process.
 */
export interface PlatformState {
  readonly pid: number;
  readonly pageUrl: string;
  readonly workdir: string;
  readonly issuer: { readonly url: string; readonly tokenUrl: string; readonly jwksUrl: string; readonly audience: string };
  readonly viewer: { readonly username: string; readonly password: string; readonly sub: string };
  readonly endpoints: {
    readonly dynamodb: string;
    readonly s3: string;
    readonly secrets: string;
    readonly cloudfront: string;
    /** Each region's KMS stand-in, by region name. */
    readonly kms: Readonly<Record<string, string>>;
  };
  readonly tableName: string;
  /** The alias of the content-key KMS key: the same name in each region, a different key in each. */
  readonly contentKeyAlias: string;
  readonly buckets: { readonly source: string; readonly origin: string };
  readonly secretNames: { readonly urlSigning: string; readonly originSigning: string };
  readonly regions: readonly RegionInfo[];
  readonly appliances: readonly ApplianceInfo[];
  readonly bundles: { readonly region: string; readonly agent: string };
  readonly logsDir: string;
  readonly demoTitleId?: string;
}

export function writePlatformState(file: string, state: PlatformState): void {
  fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
}

/** The running platform's state, or an error saying to start it. */
export function readPlatformState(file: string): PlatformState {
  if (!fs.existsSync(file)) {
    throw new Error(`no local platform is running here (${file} is missing): start it with npm start`);
  }
  const state = JSON.parse(fs.readFileSync(file, 'utf8')) as PlatformState;
  try {
    process.kill(state.pid, 0);
  } catch {
    throw new Error(`the local platform that wrote ${file} (pid ${state.pid}) is not running: start it with npm start`);
  }
  return state;
}

/** The names the data stack gives the table, secrets and buckets, for the local environment's config. */
export function resourceNames(config: EnvironmentConfig) {
  const naming = new EnvironmentNaming(config);
  return {
    tableName: naming.controlTableName,
    contentKeyAlias: naming.contentKeyAlias,
    secretNames: { urlSigning: naming.urlSigningSecretName, originSigning: naming.originSigningSecretName },
    buckets: { source: `nearstream-${config.name}-source`, origin: `nearstream-${config.name}-origin` },
  };
}

/** Where a local region's steering snapshot is, in the one local bucket. */
export function steeringSnapshotKey(region: string): string {
  return `steering/${region}/snapshot.bin`;
}

/** A local fleet is a handful of appliances: its snapshot is rebuilt every 2 s, so plays see a fill within a few seconds. */
const LOCAL_STEERING_SNAPSHOT_SECONDS = 2;

/** The content-key KMS key of `region`, as its alias ARN: what the license function is given. */
export function contentKeyArn(state: Pick<PlatformState, 'contentKeyAlias'>, region: string): string {
  return `arn:aws:kms:${region}:${LOCAL_ACCOUNT_ID}:${state.contentKeyAlias}`;
}

/**
 * The variables a region's functions get: what their constructs set in AWS (table, secrets,
 * content key, origin, playback settings, Powertools), with the SDK pointed at the local services.
 */
export function regionEnvironment(state: PlatformState, config: EnvironmentConfig, region: string): Record<string, string> {
  return {
    AWS_REGION: region,
    ...LOCAL_AWS_CREDENTIALS,
    AWS_ENDPOINT_URL_DYNAMODB: state.endpoints.dynamodb,
    AWS_ENDPOINT_URL_S3: state.endpoints.s3,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: state.endpoints.secrets,
    AWS_ENDPOINT_URL_KMS: kmsEndpoint(state, region),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    CONTROL_TABLE_NAME: state.tableName,
    URL_SIGNING_SECRET_NAME: state.secretNames.urlSigning,
    ORIGIN_SIGNING_SECRET_NAME: state.secretNames.originSigning,
    CONTENT_KEY_KMS_KEY_ID: contentKeyArn(state, region),
    ORIGIN_DOMAIN_NAME: new URL(state.endpoints.cloudfront).host,
    ORIGIN_BASE_URL: state.endpoints.cloudfront,
    ORIGIN_BUCKET: state.buckets.origin,
    SESSION_TTL_SECONDS: String(config.playback.sessionTtlSeconds),
    STREAM_LEASE_SECONDS: String(config.playback.streamLeaseSeconds),
    FLEET_CACHE_SECONDS: String(config.playback.fleetCacheSeconds),
    // Every local appliance signs with the one set of local credentials: one principal for them all.
    MAX_APPLIANCES_PER_PRINCIPAL: '64',
    // Each region's builder writes its snapshot beside the content (one local S3 bucket serves both regions).
    STEERING_SNAPSHOT_BUCKET: state.buckets.origin,
    STEERING_SNAPSHOT_KEY: steeringSnapshotKey(region),
    STEERING_SNAPSHOT_SECONDS: String(LOCAL_STEERING_SNAPSHOT_SECONDS),
    HEALTH_TABLE_BUDGET_MS: String(config.healthProbe.tableBudgetMs),
    POWERTOOLS_SERVICE_NAME: `local-${region}`,
    POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
    POWERTOOLS_LOG_LEVEL: 'INFO',
    POWERTOOLS_TRACE_ENABLED: 'false',
    // Without a daemon to send to, the X-Ray SDK's automatic mode only adds async hooks to every call.
    AWS_XRAY_MANUAL_MODE: '1',
  };
}

/** The KMS stand-in of `region`, or an error naming the regions that have one. */
export function kmsEndpoint(state: Pick<PlatformState, 'endpoints'>, region: string): string {
  const endpoint = state.endpoints.kms?.[region];
  if (!endpoint) {
    throw new Error(`no KMS stand-in serves ${region} (the platform runs one for ${Object.keys(state.endpoints.kms ?? {}).join(', ') || 'no region'}); restart it with npm start`);
  }
  return endpoint;
}
