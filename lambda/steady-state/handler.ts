import { CloudWatchClient, GetMetricDataCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { requireEnv } from '../shared/env';
import { lambdaEntry } from '../shared/lambda-entry';
import { logger, tracer } from '../shared/powertools';
import { GlobalStartsDependencies, GlobalStartsSettings, publishGlobalStarts } from './global-starts';

/** Reads each region's minute with `GetMetricData` in that region, and publishes the sum here. */
export function cloudWatchGlobalStarts(settings: GlobalStartsSettings, clients: Readonly<Record<string, CloudWatchClient>>): GlobalStartsDependencies {
  const here = settings.regions[0];
  return {
    settings,
    readStarts: async (region, { namespace, metricName, dimensions, startMs }) => {
      const answer = await clients[region].send(
        new GetMetricDataCommand({
          StartTime: new Date(startMs),
          EndTime: new Date(startMs + 60_000),
          MetricDataQueries: [
            {
              Id: 'starts',
              MetricStat: {
                Metric: { Namespace: namespace, MetricName: metricName, Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })) },
                Period: 60,
                Stat: 'Sum',
              },
            },
          ],
        }),
      );
      const values = answer.MetricDataResults?.find((result) => result.Id === 'starts')?.Values ?? [];
      return values.length > 0 ? values.reduce((total, value) => total + value, 0) : undefined;
    },
    publish: async ({ namespace, metricName, dimensions, atMs, value }) => {
      await clients[here].send(
        new PutMetricDataCommand({
          Namespace: namespace,
          MetricData: [
            { MetricName: metricName, Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })), Timestamp: new Date(atMs), Value: value, Unit: 'Count' },
          ],
        }),
      );
    },
  };
}

/** What EventBridge Scheduler sends: the time the run was scheduled for (`<aws.scheduler.scheduled-time>`). */
export interface ScheduledRun {
  readonly scheduledTime?: string;
}

/** The run's minute comes from its scheduled time; a run without one (invoked by hand) uses the clock. */
export function scheduledMsOf(event: ScheduledRun | undefined, nowMs: number): number {
  const scheduled = event?.scheduledTime === undefined ? Number.NaN : Date.parse(event.scheduledTime);
  return Number.isFinite(scheduled) ? scheduled : nowMs;
}

/** Scheduled every minute: both regions' stream starts, summed here for the global steady-state alarm. */
export const handler = lambdaEntry(
  () => {
    const here = requireEnv('AWS_REGION');
    const settings: GlobalStartsSettings = {
      namespace: requireEnv('METRICS_NAMESPACE'),
      regions: [here, requireEnv('PEER_REGION')],
      telemetryService: requireEnv('TELEMETRY_SERVICE'),
      publishingService: requireEnv('POWERTOOLS_SERVICE_NAME'),
    };
    const clients = Object.fromEntries(settings.regions.map((region) => [region, tracer.captureAWSv3Client(new CloudWatchClient({ region, maxAttempts: 3 }))]));
    const deps = cloudWatchGlobalStarts(settings, clients);
    return async (event: ScheduledRun) => {
      const published = await publishGlobalStarts(deps, scheduledMsOf(event, Date.now()));
      logger.info('published both regions\' stream starts', published);
      return published;
    };
  },
  { captureResponse: true },
);
