import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { sharedDocumentClient } from '../shared/dynamodb';
import { positiveIntegerEnv, requireEnv } from '../shared/env';
import { lambdaEntry } from '../shared/lambda-entry';
import { logger, metrics } from '../shared/powertools';
import { HeartbeatStore } from './heartbeat-store';
import { healthResponse, probeWithinBudget } from './probe';

/** Table budget when `HEALTH_TABLE_BUDGET_MS` is unset. */
const DEFAULT_TABLE_BUDGET_MS = 500;

export interface HealthDependencies {
  readonly store: HeartbeatStore;
  readonly region: string;
  readonly tableBudgetMs: number;
}

/** `GET /health`: can this region read and write its own table replica, quickly? */
export function createHealthHandler(deps: HealthDependencies) {
  return async (_event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const result = await probeWithinBudget(
      (signal) => deps.store.beat(deps.region, Date.now(), signal),
      deps.tableBudgetMs,
    );
    metrics.addMetric('HeartbeatRoundTrip', MetricUnit.Milliseconds, result.roundTripMs);
    metrics.addMetric('HealthProbeFailure', MetricUnit.Count, result.healthy ? 0 : 1);
    if (!result.healthy) {
      logger.warn('region unhealthy', { region: deps.region, reason: result.reason });
    }
    return healthResponse(deps.region, result);
  };
}

export const handler = lambdaEntry(() =>
  createHealthHandler({
    store: new HeartbeatStore(sharedDocumentClient(), requireEnv('CONTROL_TABLE_NAME')),
    region: requireEnv('AWS_REGION'),
    tableBudgetMs: positiveIntegerEnv('HEALTH_TABLE_BUDGET_MS', DEFAULT_TABLE_BUDGET_MS),
  }),
);
