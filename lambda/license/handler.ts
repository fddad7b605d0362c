import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { z } from 'zod';
import { CatalogStore } from '../catalog/catalog-store';
import { CachingKeyWrapper } from '../keys/caching-key-wrapper';
import { ContentKeyStore } from '../keys/content-key-store';
import { RegionalKmsKeyWrapper } from '../keys/regional-key-wrapper';
import { TitleCache } from '../playback/title-cache';
import { ViewerStore } from '../playback/viewer-store';
import { DRM_SYSTEM_NAMES } from '../shared/content-protection';
import { sharedDocumentClient } from '../shared/dynamodb';
import { requireEnv } from '../shared/env';
import { bodyBytes, HttpError, httpHandler, HttpResult, json, parseBody, parseParameters, viewerAccountId } from '../shared/http';
import { LICENSE_METRICS, MetricSink } from '../shared/metric-names';
import { lambdaEntry } from '../shared/lambda-entry';
import { logger, metrics, tracer } from '../shared/powertools';
import { idField } from '../shared/request-fields';
import { SecretCache } from '../shared/secret-cache';
import { CommercialLicenseProxy, CommercialLicenses } from './commercial-license-proxy';
import {
  checkLicensedPlay,
  clearKeyRequestSchema,
  CommercialSystem,
  entitlementOf,
  issueClearKeyLicense,
  LicenseDependencies,
  LicenseRefusal,
  LicenseRefusedError,
  parseLicenseServices,
} from './license-service';

/**
 * How each refusal is answered. A session of another account is answered exactly as an unknown
 * one (see `checkLicensedPlay`); the metric and the log still tell them apart.
 */
const REFUSAL_ANSWER: Record<LicenseRefusal, { readonly status: number; readonly code: LicenseRefusal }> = {
  'unknown-key-system': { status: 404, code: 'unknown-key-system' },
  'unknown-session': { status: 404, code: 'unknown-session' },
  'not-your-session': { status: 404, code: 'unknown-session' },
  'session-expired': { status: 410, code: 'session-expired' },
  'lease-expired': { status: 410, code: 'lease-expired' },
  'not-protected': { status: 409, code: 'not-protected' },
  'key-not-granted': { status: 403, code: 'key-not-granted' },
  'license-service-unavailable': { status: 502, code: 'license-service-unavailable' },
};

/** A ClearKey request names at most 16 key ids: well under 1 KiB. */
const MAX_CLEARKEY_BODY_BYTES = 4 * 1024;
/** Widevine, PlayReady and FairPlay challenges are a few KiB. */
const MAX_CHALLENGE_BYTES = 64 * 1024;

const licenseQuerySchema = z.strictObject({ session: idField('session', 'must be the session id /play returned') });

export interface LicenseHandlerDependencies extends LicenseDependencies {
  readonly commercial: CommercialLicenses;
  readonly metrics: MetricSink;
}

/** `POST /license/{system}?session=<id>`: a license for a play's keys, or a refusal saying why. */
export function createLicenseHandler(deps: LicenseHandlerDependencies) {
  return httpHandler(async (event) => {
    const accountId = viewerAccountId(event);
    const system = event.pathParameters?.system ?? '';
    const { session } = parseParameters(event.queryStringParameters, licenseQuerySchema, 'query');
    try {
      if (system !== 'clearkey' && !deps.commercial.offers(system)) {
        const offered = DRM_SYSTEM_NAMES.filter((name) => name === 'clearkey' || deps.commercial.offers(name));
        const named = /^[a-z]{1,16}$/.test(system) ? `'${system}'` : 'that key system';
        throw new LicenseRefusedError('unknown-key-system', `path.system: no licenses for ${named}; this platform offers ${offered.join(', ')}`, {
          field: 'path.system',
        });
      }
      const answer = system === 'clearkey' ? await clearKey(deps, event, accountId, session) : await commercial(deps, event, system, accountId, session);
      deps.metrics.addMetric(answer.statusCode < 300 ? LICENSE_METRICS.licensesGranted : LICENSE_METRICS.licensesRefused, MetricUnit.Count, 1);
      return answer;
    } catch (error) {
      if (error instanceof LicenseRefusedError) {
        const unavailable = error.refusal === 'license-service-unavailable';
        deps.metrics.addMetric(unavailable ? LICENSE_METRICS.licenseServiceUnavailable : LICENSE_METRICS.licensesRefused, MetricUnit.Count, 1);
        logger.info('license refused', { refusal: error.refusal, system: system.slice(0, 32), sessionId: session });
        const answer = REFUSAL_ANSWER[error.refusal];
        throw new HttpError(answer.status, answer.code, error.message, error.details);
      }
      throw error;
    }
  });
}

async function clearKey(deps: LicenseDependencies, event: APIGatewayProxyEventV2, accountId: string, sessionId: string): Promise<HttpResult> {
  const request = parseBody(event, clearKeyRequestSchema, MAX_CLEARKEY_BODY_BYTES);
  return json(200, await issueClearKeyLicense(deps, accountId, sessionId, request));
}

async function commercial(
  deps: LicenseHandlerDependencies,
  event: APIGatewayProxyEventV2,
  system: CommercialSystem,
  accountId: string,
  sessionId: string,
): Promise<HttpResult> {
  const challenge = challengeOf(event);
  const play = await checkLicensedPlay(deps, accountId, sessionId, system);
  const answer = await deps.commercial.forward(system, challenge, contentTypeOf(event), entitlementOf(play));
  return {
    statusCode: answer.statusCode,
    headers: { 'content-type': answer.contentType, 'cache-control': 'no-store' },
    body: answer.body.toString('base64'),
    isBase64Encoded: true,
  };
}

/** The challenge's bytes: API Gateway hands a binary body over in base64. */
function challengeOf(event: APIGatewayProxyEventV2): Buffer {
  return bodyBytes(event, MAX_CHALLENGE_BYTES, 'the license challenge the player produced is required');
}

/** The player's content type, passed to the provider when it is a plausible one. */
function contentTypeOf(event: APIGatewayProxyEventV2): string {
  const contentType = event.headers?.['content-type'];
  return contentType && /^[\x20-\x7e]{1,256}$/.test(contentType) ? contentType : 'application/octet-stream';
}

/** How long a title read serves licenses: a title's protection changes only with a new encoding. */
const TITLE_CACHE_MS = 5_000;
/** Opened data keys kept per container: a title's licenses call KMS once per 5 minutes, not once each. */
const DATA_KEY_CACHE = { maxAgeMs: 5 * 60_000, maxEntries: 1_000 } as const;

/**
 * The handler's dependencies from the function's environment: `CONTROL_TABLE_NAME`,
 * `CONTENT_KEY_KMS_KEY_ID` (the key the content keys are sealed under), and `LICENSE_SERVICES`
 * when commercial systems are offered, checked here at cold start.
 */
export function dependenciesFromEnvironment(): LicenseHandlerDependencies {
  const table = requireEnv('CONTROL_TABLE_NAME');
  const kmsKeyId = requireEnv('CONTENT_KEY_KMS_KEY_ID');
  const services = parseLicenseServices(process.env.LICENSE_SERVICES);
  const client = sharedDocumentClient();
  // Secrets Manager answers by the client's region, not the ARN's: a provider's secret is read in
  // the region its ARN names (the configuration requires one), wherever this function runs.
  const cachesByRegion = new Map<string, SecretCache>();
  const secrets = {
    get: (secretArn: string) => {
      const region = secretArn.split(':')[3];
      let cache = cachesByRegion.get(region);
      if (!cache) {
        cache = new SecretCache(tracer.captureAWSv3Client(new SecretsManagerClient({ region, maxAttempts: 2 })));
        cachesByRegion.set(region, cache);
      }
      return cache.get(secretArn);
    },
  };
  return {
    sessions: new ViewerStore(client, table),
    catalog: new TitleCache(new CatalogStore(client, table), { maxAgeMs: TITLE_CACHE_MS }),
    // Content keys are sealed under a data key wrapped for each region; this region opens its own.
    titleKeys: new ContentKeyStore(
      client,
      table,
      new CachingKeyWrapper(
        new RegionalKmsKeyWrapper({ region: requireEnv('AWS_REGION'), client: tracer.captureAWSv3Client(new KMSClient({ maxAttempts: 2 })), keyId: kmsKeyId, replicas: [] }),
        DATA_KEY_CACHE,
      ),
    ),
    nowMs: Date.now,
    commercial: new CommercialLicenseProxy(services, secrets),
    metrics,
  };
}

export const handler = lambdaEntry(() => createLicenseHandler(dependenciesFromEnvironment()));
