import { STEADY_STATE_METRICS, TELEMETRY_METRICS } from '../shared/metric-names';

/**
 * The platform's stream starts, both regions together, published in this region one minute per
 * run. A CloudWatch alarm watches metrics of its own region only; with the sum here, an alarm
 * watches the whole platform's steady state, which is what a region evacuation must hold. Both
 * regions are read the same way at the same time, so the sum has no half that lags the other.
 */

export interface GlobalStartsSettings {
  readonly namespace: string;
  /** This region and the other active one. */
  readonly regions: readonly [string, string];
  /** The `service` dimension the telemetry function publishes stream starts under. */
  readonly telemetryService: string;
  /** The `service` dimension the sum is published under. */
  readonly publishingService: string;
}

export interface GlobalStartsDependencies {
  readonly settings: GlobalStartsSettings;
  /** A region's one-minute sum of the metric over `[startMs, startMs + 60 s)`; undefined when it has no datapoint. */
  readonly readStarts: (region: string, query: { namespace: string; metricName: string; dimensions: Record<string, string>; startMs: number }) => Promise<number | undefined>;
  /** Publishes one datapoint in this region, timestamped at `atMs`. */
  readonly publish: (datum: { namespace: string; metricName: string; dimensions: Record<string, string>; atMs: number; value: number }) => Promise<void>;
}

const MINUTE_MS = 60_000;

/**
 * The minute a run scheduled at `scheduledMs` reads: the whole minute that ended two minutes
 * before it, since datapoints reach CloudWatch up to a couple of minutes late. Taken from the
 * schedule's time, not the clock, so a late start neither skips a minute nor repeats one.
 */
export function minuteToSum(scheduledMs: number): number {
  return Math.floor(scheduledMs / MINUTE_MS) * MINUTE_MS - 3 * MINUTE_MS;
}

/**
 * Where that minute's sum is published: the minute that has just ended at the run. The series is
 * two minutes late throughout, but every finished minute has its datapoint when the alarm looks, so
 * the newest minutes never read as missing (which would breach) or as low.
 */
export function minuteStampedAt(scheduledMs: number): number {
  return Math.floor(scheduledMs / MINUTE_MS) * MINUTE_MS - MINUTE_MS;
}

/**
 * One run: reads each region's starts in `minuteToSum(scheduledMs)` and publishes their sum
 * here. A region without a datapoint counted no start: 0.
 */
export async function publishGlobalStarts(
  deps: GlobalStartsDependencies,
  scheduledMs: number,
): Promise<{ minuteStartMs: number; publishedAtMs: number; starts: Record<string, number> }> {
  const { settings } = deps;
  const minuteStartMs = minuteToSum(scheduledMs);
  const counted = await Promise.all(
    settings.regions.map(async (region) => {
      const sum = await deps.readStarts(region, {
        namespace: settings.namespace,
        metricName: TELEMETRY_METRICS.streamStarts,
        dimensions: { service: settings.telemetryService, region },
        startMs: minuteStartMs,
      });
      return [region, sum ?? 0] as const;
    }),
  );
  await deps.publish({
    namespace: settings.namespace,
    metricName: STEADY_STATE_METRICS.globalStreamStarts,
    dimensions: { service: settings.publishingService },
    atMs: minuteStampedAt(scheduledMs),
    value: counted.reduce((total, [, starts]) => total + starts, 0),
  });
  return { minuteStartMs, publishedAtMs: minuteStampedAt(scheduledMs), starts: Object.fromEntries(counted) };
}
