import { randomUUID } from 'node:crypto';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CatalogStore } from '../catalog/catalog-store';
import { licenseSystemsOffered, parseLicenseServices } from '../license/license-service';
import { sharedDocumentClient } from '../shared/dynamodb';
import { positiveIntegerEnv, requireEnv } from '../shared/env';
import { HttpError, httpHandler, json, parseBody, viewerAccountId } from '../shared/http';
import { lambdaEntry } from '../shared/lambda-entry';
import { PLAY_METRICS } from '../shared/metric-names';
import { metrics, tracer } from '../shared/powertools';
import { SecretCache } from '../shared/secret-cache';
import { parseKeyring } from '../shared/url-token';
import { FleetCache } from './fleet-cache';
import { SnapshotSource } from './snapshot-source';
import { activeKeySigner, checkOriginBaseUrl, OriginLocation } from './origin-signer';
import { authorizePlay, PlayDependencies, PlayRefusal, PlayRefusedError, playRequestSchema } from './play-service';
import { DEFAULT_STEERING_POLICY } from './steering';
import { TitleCache } from './title-cache';
import { ViewerStore } from './viewer-store';

const REFUSAL_STATUS: Record<PlayRefusal, number> = {
  'unknown-title': 404,
  'no-plan': 403,
  'no-playable-rendition': 422,
  'no-key-system': 422,
  'stream-limit': 403,
};

/** `POST /play`: authorize a play and hand back ranked, signed sources. */
export function createPlayHandler(deps: PlayDependencies) {
  return httpHandler(async (event) => {
    const accountId = viewerAccountId(event);
    const request = parseBody(event, playRequestSchema);
    try {
      const grant = await authorizePlay(deps, accountId, request, event.requestContext.http.sourceIp);
      metrics.addMetric(PLAY_METRICS.playsAuthorized, MetricUnit.Count, 1);
      metrics.addMetric(PLAY_METRICS.steeringDegraded, MetricUnit.Count, grant.steering.degraded ? 1 : 0);
      return json(200, grant);
    } catch (error) {
      if (error instanceof PlayRefusedError) {
        metrics.addMetric(PLAY_METRICS.playsRefused, MetricUnit.Count, 1);
        throw new HttpError(REFUSAL_STATUS[error.refusal], error.refusal, error.message);
      }
      throw error;
    }
  });
}

/** How long a title read serves plays: a change to a title reaches them within this. */
const TITLE_CACHE_MS = 5_000;

function dependenciesFromEnvironment(): PlayDependencies {
  const table = requireEnv('CONTROL_TABLE_NAME');
  const client = sharedDocumentClient();
  const secrets = new SecretCache(tracer.captureAWSv3Client(new SecretsManagerClient({ maxAttempts: 2 })));
  const snapshots = new SnapshotSource(
    tracer.captureAWSv3Client(new S3Client({ maxAttempts: 2 })),
    { bucket: requireEnv('STEERING_SNAPSHOT_BUCKET'), key: requireEnv('STEERING_SNAPSHOT_KEY') },
    DEFAULT_STEERING_POLICY,
  );
  return {
    catalog: new TitleCache(new CatalogStore(client, table), { maxAgeMs: TITLE_CACHE_MS }),
    viewers: new ViewerStore(client, table),
    fleet: new FleetCache(snapshots.load, {
      maxAgeMs: positiveIntegerEnv('FLEET_CACHE_SECONDS', 10) * 1000,
      // A first load decodes the whole fleet's snapshot: about a second at 20,000 appliances.
      loadTimeoutMs: 5000,
      retryAfterMs: 2000,
      policy: DEFAULT_STEERING_POLICY,
    }),
    keyring: parsedSecret(secrets, requireEnv('URL_SIGNING_SECRET_NAME'), parseKeyring),
    origin: activeKeySigner(secrets, requireEnv('ORIGIN_SIGNING_SECRET_NAME'), originFromEnvironment()),
    region: requireEnv('AWS_REGION'),
    sessionTtlSeconds: positiveIntegerEnv('SESSION_TTL_SECONDS', 4 * 60 * 60),
    leaseSeconds: positiveIntegerEnv('STREAM_LEASE_SECONDS', 300),
    nowMs: Date.now,
    newSessionId: randomUUID,
    licenseSystems: licenseSystemsOffered(parseLicenseServices(process.env.LICENSE_SERVICES)),
  };
}

/** A secret's value as `parse` makes it, parsed again only when the value changes (a rotation). */
function parsedSecret<T>(secrets: SecretCache, secretId: string, parse: (value: string) => T): () => Promise<T> {
  let current: { value: string; parsed: T } | undefined;
  return async () => {
    const value = await secrets.get(secretId);
    if (current?.value !== value) {
      current = { value, parsed: parse(value) };
    }
    return current.parsed;
  };
}

/** The distribution's domain, unless `ORIGIN_BASE_URL` names a whole base URL (a local stand-in's). */
function originFromEnvironment(): OriginLocation {
  const baseUrl = process.env.ORIGIN_BASE_URL;
  if (baseUrl) {
    return { baseUrl: checkOriginBaseUrl(baseUrl, 'Environment variable ORIGIN_BASE_URL') };
  }
  return { domainName: requireEnv('ORIGIN_DOMAIN_NAME') };
}

export const handler = lambdaEntry(() => createPlayHandler(dependenciesFromEnvironment()));
