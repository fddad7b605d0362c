import { STEADY_STATE_METRICS, TELEMETRY_METRICS } from '../shared/metric-names';

/**
 * Copies the other region's stream starts into this region, one minute per run. A CloudWatch alarm
 * watches metrics of its own region only; with the peer's starts here, an alarm on the sum watches
 * the whole platform's steady state, which is what a region evacuation must hold.
 */

/** Where the peer's starts are read from, and where the copy goes. */
export interface PeerStartsSettings {
  readonly namespace: string;
  /** The region whose starts are copied. */
  readonly peerRegion: string;
  /** The `service` dimension the telemetry function publishes stream starts under. */
  readonly telemetryService: string;
  /** The `service` dimension the copy is published under. */
  readonly copyService: string;
}

/** The one-minute sum of a metric in a region: what `GetMetricData` answers for it. */
export interface MinuteSum {
  /** Undefined when the metric has no datapoint in that minute. */
  readonly sum: number | undefined;
}

export interface PeerStartsDependencies {
  readonly settings: PeerStartsSettings;
  /** The peer region's sum of the metric over `[startMs, startMs + 60 s)`. */
  readonly readPeer: (query: { namespace: string; metricName: string; dimensions: Record<string, string>; startMs: number }) => Promise<MinuteSum>;
  /** Publishes one datapoint in this region, timestamped at `atMs`. */
  readonly publish: (datum: { namespace: string; metricName: string; dimensions: Record<string, string>; atMs: number; value: number }) => Promise<void>;
}

/**
 * The minute a run at `nowMs` copies: the whole minute that ended two minutes ago. Datapoints reach
 * CloudWatch up to a minute late, so the minute before the last may still be filling; each run
 * copies exactly one minute, so a minute is never sent twice (a copy sent twice would be counted
 * twice).
 */
export function minuteToCopy(nowMs: number): number {
  const minuteMs = 60_000;
  return Math.floor(nowMs / minuteMs) * minuteMs - 2 * minuteMs;
}

/**
 * One run: reads the peer's starts in `minuteToCopy(nowMs)` and publishes them here. No datapoint
 * in the peer is zero starts, published as 0: a peer that served nobody counts as nobody served.
 */
export async function copyPeerStarts(deps: PeerStartsDependencies, nowMs: number): Promise<{ minuteStartMs: number; starts: number }> {
  const { settings } = deps;
  const minuteStartMs = minuteToCopy(nowMs);
  const { sum } = await deps.readPeer({
    namespace: settings.namespace,
    metricName: TELEMETRY_METRICS.streamStarts,
    dimensions: { service: settings.telemetryService, region: settings.peerRegion },
    startMs: minuteStartMs,
  });
  const starts = sum ?? 0;
  await deps.publish({
    namespace: settings.namespace,
    metricName: STEADY_STATE_METRICS.peerStreamStarts,
    dimensions: { service: settings.copyService, region: settings.peerRegion },
    atMs: minuteStartMs,
    value: starts,
  });
  return { minuteStartMs, starts };
}
