import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { REQUEST_LIMITS } from '../shared/control-table';
import { sharedDocumentClient } from '../shared/dynamodb';
import { positiveIntegerEnv, requireEnv } from '../shared/env';
import { callerPrincipalArn, HttpError, json, parseBody, parseParameters, routedHandler } from '../shared/http';
import { lambdaEntry } from '../shared/lambda-entry';
import { FLEET_METRICS, MetricSink } from '../shared/metric-names';
import { metrics } from '../shared/powertools';
import { applianceIdSchema, MAX_PLACEMENT_TITLES, registrationSchema, reportSchema } from './fleet-protocol';
import { FleetRefusal, FleetRefusedError, FleetStore } from './fleet-store';

/** Reports carry health and, when they changed, holdings of one bit per placed title, base64url. */
const MAX_REPORT_BYTES = Math.ceil(MAX_PLACEMENT_TITLES / 6) + 4096;

export const manifestQuery = z.object({ applianceId: applianceIdSchema });

const REFUSAL_STATUS: Record<FleetRefusal, number> = {
  'not-registered': 404,
  'owned-by-another-principal': 403,
  'stale-report': 409,
  'appliance-limit': 403,
};

export interface FleetDependencies {
  readonly store: FleetStore;
  readonly now: () => Date;
  /** Each accepted report's egress and error rate (the region's dashboard). */
  readonly metrics: MetricSink;
}

/** `/fleet/*`: appliances register, report health (and holdings when they change), and find their fill manifest. */
export function createFleetHandler(deps: FleetDependencies) {
  return routedHandler({
    'POST /fleet/register': async (event) => {
      const principal = callerPrincipalArn(event);
      const registration = parseBody(event, registrationSchema, REQUEST_LIMITS.registrationBodyBytes);
      const appliance = await refusalsAsHttp(deps.store.register(registration, principal, deps.now()));
      return json(200, { applianceId: appliance.applianceId, clusterId: appliance.clusterId, registeredAt: appliance.registeredAt });
    },
    'POST /fleet/report': async (event) => {
      const principal = callerPrincipalArn(event);
      const report = parseBody(event, reportSchema, MAX_REPORT_BYTES);
      const health = await refusalsAsHttp(deps.store.report(report, principal, deps.now().getTime()));
      deps.metrics.addMetric(FLEET_METRICS.applianceReports, MetricUnit.Count, 1);
      deps.metrics.addMetric(FLEET_METRICS.applianceEgressGbps, MetricUnit.Gigabits, report.health.egressGbps);
      deps.metrics.addMetric(FLEET_METRICS.applianceErrorRate, MetricUnit.NoUnit, report.health.errorRate);
      // The node compares `holdings.digest` with its own and sends its holdings again when they differ.
      return json(200, { applianceId: health.applianceId, reportedAtMs: health.reportedAtMs, holdings: health.holdings ?? null });
    },
    'GET /fleet/manifest': async (event) => {
      const principal = callerPrincipalArn(event);
      const { applianceId } = parseParameters(event.queryStringParameters, manifestQuery, 'query');
      const appliance = await deps.store.get(applianceId);
      if (!appliance) {
        throw new HttpError(404, 'not-registered', `appliance '${applianceId}' is not registered`);
      }
      if (appliance.principalArn !== principal) {
        throw new HttpError(403, 'owned-by-another-principal', `appliance '${applianceId}' is registered to another IAM principal`);
      }
      const pointer = await deps.store.getManifestPointer(appliance.clusterId);
      if (!pointer) {
        throw new HttpError(404, 'no-manifest', `cluster '${appliance.clusterId}' has no fill manifest yet`);
      }
      return json(200, pointer);
    },
  });
}

async function refusalsAsHttp<T>(operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (error) {
    if (error instanceof FleetRefusedError) {
      throw new HttpError(REFUSAL_STATUS[error.refusal], error.refusal, error.message);
    }
    throw error;
  }
}

export const handler = lambdaEntry(() =>
  createFleetHandler({
    store: new FleetStore(sharedDocumentClient(), requireEnv('CONTROL_TABLE_NAME'), {
      maxAppliancesPerPrincipal: positiveIntegerEnv('MAX_APPLIANCES_PER_PRINCIPAL', 4),
    }),
    now: () => new Date(),
    metrics,
  }),
);
