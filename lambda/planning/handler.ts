import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { GetObjectCommand, S3Client, PutObjectCommand } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { CatalogStore } from '../catalog/catalog-store';
import { CatalogTitle } from '../catalog/catalog';
import { FleetStore } from '../fleet/fleet-store';
import { sharedDocumentClient } from '../shared/dynamodb';
import { positiveIntegerEnv, requireEnv } from '../shared/env';
import { lambdaEntry } from '../shared/lambda-entry';
import { PLANNING_METRICS } from '../shared/metric-names';
import { logger, metrics, tracer } from '../shared/powertools';
import { SecretCache } from '../shared/secret-cache';
import { parseKeyring } from '../shared/url-token';
import { DemandStore } from '../telemetry/demand-store';
import { NightlyDependencies, planRegion } from './nightly';
import { DEFAULT_PLANNER_OPTIONS } from './fill-plan';
import { TitleInventory } from './title-inventory';

/**
 * Kept back from the function's remaining time for planning, signing and writing the manifests of
 * the titles whose inventories were read.
 */
const MANIFEST_RESERVE_MS = 3 * 60_000;

/** What a planning run reads and writes through, the same for every run of an execution environment. */
type PlanningClients = Omit<NightlyDependencies, 'nowMs' | 'inventoryDeadlineMs'>;

/** EventBridge Scheduler invokes this before the fill windows; the event carries nothing it needs. */
export const handler = lambdaEntry(() => {
  const clients = clientsFromEnvironment();
  return async (_event: unknown, context: Context): Promise<{ planned: number }> => {
    const nowMs = Date.now();
    const planned = await planRegion({ ...clients, nowMs, inventoryDeadlineMs: nowMs + context.getRemainingTimeInMillis() - MANIFEST_RESERVE_MS });
    for (const cluster of planned) {
      logger.info('fill manifest announced', { ...cluster });
    }
    metrics.addMetric(PLANNING_METRICS.clustersPlanned, MetricUnit.Count, planned.length);
    return { planned: planned.length };
  };
}, { captureResponse: true });

function clientsFromEnvironment(): PlanningClients {
  const table = requireEnv('CONTROL_TABLE_NAME');
  const bucket = requireEnv('ORIGIN_BUCKET');
  const client = sharedDocumentClient();
  const s3 = tracer.captureAWSv3Client(new S3Client({}));
  const fleet = new FleetStore(client, table);
  const catalog = new CatalogStore(client, table);
  const demand = new DemandStore(client, table);
  const secrets = new SecretCache(tracer.captureAWSv3Client(new SecretsManagerClient({})));
  const inventory = new TitleInventory(s3, bucket);
  return {
    loadFleet: () => fleet.loadFleet(),
    availableTitles: async () => {
      const titles: CatalogTitle[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await catalog.list(500, startKey);
        titles.push(...page.titles);
        startKey = page.lastKey;
      } while (startKey);
      return titles;
    },
    clusterStarts: (day, clusterId) => demand.topTitlesInCluster(day, clusterId, Number.MAX_SAFE_INTEGER),
    titleObjects: (title, signal) => inventory.objects(title, signal),
    currentPointer: (clusterId) => fleet.getManifestPointer(clusterId),
    readManifest: async (key) => {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return object.Body!.transformToString('utf8');
    },
    putManifest: async (key, body) => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json' }));
    },
    putPlacement: (applianceId, generation, titles, validUntilMs) => fleet.putPlacement(applianceId, generation, titles, validUntilMs),
    announce: (pointer) => fleet.putManifestPointer(pointer),
    keyring: async () => parseKeyring(await secrets.get(requireEnv('URL_SIGNING_SECRET_NAME'))),
    region: requireEnv('AWS_REGION'),
    originBucket: bucket,
    historyDays: positiveIntegerEnv('PLANNING_HISTORY_DAYS', DEFAULT_PLANNER_OPTIONS.historyDays),
    validForHours: positiveIntegerEnv('MANIFEST_VALID_HOURS', 48),
    clock: Date.now,
  };
}
