import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { FleetStore } from '../fleet/fleet-store';
import { sharedDocumentClient } from '../shared/dynamodb';
import { positiveIntegerEnv, requireEnv } from '../shared/env';
import { lambdaEntry } from '../shared/lambda-entry';
import { MetricSink, STEERING_METRICS } from '../shared/metric-names';
import { logger, metrics, tracer } from '../shared/powertools';
import { fleetFigures } from './fleet-figures';
import { SnapshotBuilder } from './snapshot-builder';
import { SnapshotStore } from './snapshot-store';

/** Kept back from the invocation's remaining time: the next scheduled run takes over from here. */
const RESERVE_MS = 5_000;

export interface SteeringRunDependencies {
  readonly builder: SnapshotBuilder;
  /** Each build's fleet figures and each failed build (the region's dashboard and silent-appliance alarm). */
  readonly metrics: MetricSink;
  readonly store: SnapshotStore;
  readonly intervalMs: number;
  readonly nowMs: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

export interface SteeringRunResult {
  readonly builds: number;
  readonly failures: number;
  readonly appliances: number;
  readonly snapshotBytes: number;
}

/**
 * Builds and writes the region's steering snapshot every `intervalMs` until `remainingMs()` says
 * the invocation is near its end (a schedule starts one every minute). A builder that has not
 * built yet starts from the last snapshot written; a failed build is logged and the next one
 * tried, so plays keep the last good snapshot meanwhile.
 */
export async function runBuilds(deps: SteeringRunDependencies, remainingMs: () => number): Promise<SteeringRunResult> {
  if (!deps.builder.seeded) {
    const previous = await deps.store.read().catch((error: Error) => {
      logger.warn('the last steering snapshot could not be read; building from the registry', { reason: error.message });
      return undefined;
    });
    if (previous) {
      deps.builder.seed(previous);
    }
  }
  let builds = 0;
  let failures = 0;
  let appliances = 0;
  let snapshotBytes = 0;
  do {
    const startedMs = deps.nowMs();
    try {
      const { snapshot, stats } = await deps.builder.build(startedMs);
      const written = await deps.store.write(snapshot);
      const figures = fleetFigures(snapshot, startedMs);
      deps.metrics.addMetric(STEERING_METRICS.appliancesRegistered, MetricUnit.Count, figures.appliancesRegistered);
      deps.metrics.addMetric(STEERING_METRICS.appliancesSilent, MetricUnit.Count, figures.appliancesSilent);
      deps.metrics.addMetric(STEERING_METRICS.titlesHeld, MetricUnit.Count, figures.titlesHeld);
      snapshotBytes = written.snapshotBytes;
      appliances = stats.appliances;
      builds++;
      logger.info('steering snapshot written', { ...stats, ...written, buildMs: deps.nowMs() - startedMs });
    } catch (error) {
      failures++;
      deps.metrics.addMetric(STEERING_METRICS.snapshotBuildFailures, MetricUnit.Count, 1);
      logger.error('steering snapshot build failed', { reason: (error as Error).message });
    }
    const waitMs = Math.max(0, startedMs + deps.intervalMs - deps.nowMs());
    if (remainingMs() - waitMs < deps.intervalMs + RESERVE_MS) {
      break;
    }
    await deps.sleep(waitMs);
  } while (true);
  return { builds, failures, appliances, snapshotBytes };
}

function steeringDependenciesFromEnvironment(): SteeringRunDependencies {
  const region = requireEnv('AWS_REGION');
  return {
    builder: new SnapshotBuilder(new FleetStore(sharedDocumentClient(), requireEnv('CONTROL_TABLE_NAME')), region, {
      warn: (message, details) => logger.warn(message, details),
    }),
    store: new SnapshotStore(tracer.captureAWSv3Client(new S3Client({})), requireEnv('STEERING_SNAPSHOT_BUCKET'), requireEnv('STEERING_SNAPSHOT_KEY')),
    intervalMs: positiveIntegerEnv('STEERING_SNAPSHOT_SECONDS', 10) * 1000,
    metrics,
    nowMs: Date.now,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}

/**
 * Invoked every minute by its schedule; builds until the next invocation is due. The builder lives
 * as long as the execution environment, so a warm one builds on from what it holds.
 */
export const handler = lambdaEntry(() => {
  const deps = steeringDependenciesFromEnvironment();
  return (_event: unknown, context: Context): Promise<SteeringRunResult> => runBuilds(deps, () => context.getRemainingTimeInMillis());
}, { captureResponse: true });
