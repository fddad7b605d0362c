import { Metrics, MetricResolution, MetricUnit } from '@aws-lambda-powertools/metrics';
import { ViewerStore } from '../playback/viewer-store';
import { sharedDocumentClient } from '../shared/dynamodb';
import { positiveIntegerEnv, requireEnv } from '../shared/env';
import { httpHandler, invalid, json, parseBody, viewerAccountId } from '../shared/http';
import { lambdaEntry } from '../shared/lambda-entry';
import { TELEMETRY_METRICS } from '../shared/metric-names';
import { metrics as sharedMetrics } from '../shared/powertools';
import { DemandStore } from './demand-store';
import { EVENT_WINDOW_RULE, eventBatchSchema, firstEventOutsideWindow, SessionFacts, summarize, utcDay } from './telemetry';

const MAX_BATCH_BYTES = 64 * 1024;

export interface TelemetryDependencies {
  readonly viewers: ViewerStore;
  readonly demand: DemandStore;
  /**
   * Where the SPS and failure metrics go, with a `region` dimension; the caller publishes
   * them after each invocation (`lambdaEntry` publishes the shared `metrics`, which the function
   * passes here).
   */
  readonly metrics: Metrics;
  /** The control-plane region receiving the batch; metrics and demand are per region. */
  readonly region: string;
  readonly leaseSeconds: number;
  readonly nowMs: () => number;
}

/**
 * `POST /events`: a player's batched telemetry. Stream starts become the SPS metric (high
 * resolution, per region) and demand counters; fatal errors become play failures; every event
 * renews its session's stream lease, and a stop frees it.
 */
export function createTelemetryHandler(deps: TelemetryDependencies) {
  return httpHandler(async (event) => {
    const accountId = viewerAccountId(event);
    const { events } = parseBody(event, eventBatchSchema, MAX_BATCH_BYTES);
    const nowMs = deps.nowMs();
    const outside = firstEventOutsideWindow(events, nowMs);
    if (outside !== -1) {
      throw invalid(`body.events[${outside}].at`, `${EVENT_WINDOW_RULE} (${new Date(nowMs).toISOString()})`);
    }

    const sessionIds = [...new Set(events.map((e) => e.sessionId))];
    const found = await Promise.all(sessionIds.map((id) => deps.viewers.getSession(id)));
    const sessions = new Map<string, SessionFacts>();
    found.forEach((session, i) => session && sessions.set(sessionIds[i], session));
    const summary = summarize(events, sessions, accountId);

    const leaseUntilMs = nowMs + deps.leaseSeconds * 1000;
    const [, leaseResults] = await Promise.all([
      deps.demand.addStarts(utcDay(nowMs), deps.region, summary.demand),
      Promise.all(
        summary.leases.map(async (lease) => {
          if (lease.release) {
            await deps.viewers.releaseSlot(accountId, lease.slot, lease.sessionId);
            return true;
          }
          return deps.viewers.extendLease(accountId, lease.slot, lease.sessionId, leaseUntilMs);
        }),
      ),
      Promise.all(summary.positions.map((position) => deps.viewers.putWatchPosition(accountId, position))),
    ]);

    // Per invocation, not as a default: the dimension is cleared when the metrics are published, so
    // it cannot stick to another handler's metrics where several share one process (the local region).
    deps.metrics.addDimension('region', deps.region);
    deps.metrics.addMetric(TELEMETRY_METRICS.streamStarts, MetricUnit.Count, summary.starts, MetricResolution.High);
    deps.metrics.addMetric(TELEMETRY_METRICS.playFailures, MetricUnit.Count, summary.fatalErrors, MetricResolution.High);
    deps.metrics.addMetric(TELEMETRY_METRICS.rebuffers, MetricUnit.Count, summary.rebuffers);

    return json(202, {
      accepted: summary.accepted,
      rejected: summary.rejected,
      leaseLost: summary.leases.filter((_, i) => !leaseResults[i]).map((lease) => lease.sessionId),
    });
  });
}

export const handler = lambdaEntry(() => {
  const table = requireEnv('CONTROL_TABLE_NAME');
  const client = sharedDocumentClient();
  return createTelemetryHandler({
    viewers: new ViewerStore(client, table),
    demand: new DemandStore(client, table),
    metrics: sharedMetrics,
    region: requireEnv('AWS_REGION'),
    leaseSeconds: positiveIntegerEnv('STREAM_LEASE_SECONDS', 300),
    nowMs: Date.now,
  });
});
