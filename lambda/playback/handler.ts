import { randomUUID } from 'node:crypto';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { CatalogStore } from '../catalog/catalog-store';
import { FleetStore } from '../fleet/fleet-store';
import { sharedDocumentClient } from '../shared/dynamodb';
import { positiveIntegerEnv, requireEnv } from '../shared/env';
import { HttpError, httpHandler, json, parseBody, viewerAccountId } from '../shared/http';
import { metrics, tracer } from '../shared/powertools';
import { SecretCache } from '../shared/secret-cache';
import { parseKeyring } from '../shared/url-token';
import { FleetCache } from './fleet-cache';
import { activeKeySigner } from './origin-signer';
import { authorizePlay, PlayDependencies, PlayRefusal, PlayRefusedError, playRequestSchema } from './play-service';
import { DEFAULT_STEERING_POLICY } from './steering';
import { ViewerStore } from './viewer-store';

const REFUSAL_STATUS: Record<PlayRefusal, number> = {
  'unknown-title': 404,
  'no-plan': 403,
  'no-playable-rendition': 422,
  'stream-limit': 403,
};

/** `POST /play`: authorize a play and hand back ranked, signed sources. */
export function createPlayHandler(deps: PlayDependencies) {
  return httpHandler(async (event) => {
    const accountId = viewerAccountId(event);
    const request = parseBody(event, playRequestSchema);
    try {
      const grant = await authorizePlay(deps, accountId, request, event.requestContext.http.sourceIp);
      metrics.addMetric('PlaysAuthorized', MetricUnit.Count, 1);
      metrics.addMetric('SteeringDegraded', MetricUnit.Count, grant.steering.degraded ? 1 : 0);
      return json(200, grant);
    } catch (error) {
      if (error instanceof PlayRefusedError) {
        metrics.addMetric('PlaysRefused', MetricUnit.Count, 1);
        throw new HttpError(REFUSAL_STATUS[error.refusal], error.refusal, error.message);
      }
      throw error;
    } finally {
      metrics.publishStoredMetrics();
    }
  });
}

function dependenciesFromEnvironment(): PlayDependencies {
  const table = requireEnv('CONTROL_TABLE_NAME');
  const client = sharedDocumentClient();
  const secrets = new SecretCache(tracer.captureAWSv3Client(new SecretsManagerClient({ maxAttempts: 2 })));
  const fleet = new FleetStore(client, table);
  return {
    catalog: new CatalogStore(client, table),
    viewers: new ViewerStore(client, table),
    fleet: new FleetCache(() => fleet.loadFleet(), {
      maxAgeMs: positiveIntegerEnv('FLEET_CACHE_SECONDS', 10) * 1000,
      loadTimeoutMs: 1500,
      retryAfterMs: 2000,
      policy: DEFAULT_STEERING_POLICY,
    }),
    keyring: async () => parseKeyring(await secrets.get(requireEnv('URL_SIGNING_SECRET_NAME'))),
    origin: activeKeySigner(secrets, requireEnv('ORIGIN_SIGNING_SECRET_NAME'), requireEnv('ORIGIN_DOMAIN_NAME')),
    region: requireEnv('AWS_REGION'),
    sessionTtlSeconds: positiveIntegerEnv('SESSION_TTL_SECONDS', 4 * 60 * 60),
    leaseSeconds: positiveIntegerEnv('STREAM_LEASE_SECONDS', 300),
    nowMs: Date.now,
    newSessionId: randomUUID,
  };
}

let fromEnvironment: ReturnType<typeof createPlayHandler> | undefined;

export const handler = (event: APIGatewayProxyEventV2) => {
  fromEnvironment ??= createPlayHandler(dependenciesFromEnvironment());
  return fromEnvironment(event);
};
