import { CloudWatchClient, GetMetricDataCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { requireEnv } from '../shared/env';
import { lambdaEntry } from '../shared/lambda-entry';
import { logger, tracer } from '../shared/powertools';
import { copyPeerStarts, PeerStartsDependencies, PeerStartsSettings } from './peer-starts';

/** Reads the peer's minute with `GetMetricData` there, and publishes the copy here. */
export function cloudWatchPeerStarts(settings: PeerStartsSettings, peer: CloudWatchClient, local: CloudWatchClient): PeerStartsDependencies {
  return {
    settings,
    readPeer: async ({ namespace, metricName, dimensions, startMs }) => {
      const answer = await peer.send(
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
      return { sum: values.length > 0 ? values.reduce((total, value) => total + value, 0) : undefined };
    },
    publish: async ({ namespace, metricName, dimensions, atMs, value }) => {
      await local.send(
        new PutMetricDataCommand({
          Namespace: namespace,
          MetricData: [
            {
              MetricName: metricName,
              Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })),
              Timestamp: new Date(atMs),
              Value: value,
              Unit: 'Count',
            },
          ],
        }),
      );
    },
  };
}

/** Scheduled every minute: the other region's stream starts, copied here for the global steady-state alarm. */
export const handler = lambdaEntry(
  () => {
    const settings: PeerStartsSettings = {
      namespace: requireEnv('METRICS_NAMESPACE'),
      peerRegion: requireEnv('PEER_REGION'),
      telemetryService: requireEnv('TELEMETRY_SERVICE'),
      copyService: requireEnv('POWERTOOLS_SERVICE_NAME'),
    };
    const deps = cloudWatchPeerStarts(
      settings,
      tracer.captureAWSv3Client(new CloudWatchClient({ region: settings.peerRegion, maxAttempts: 3 })),
      tracer.captureAWSv3Client(new CloudWatchClient({ maxAttempts: 3 })),
    );
    return async () => {
      const copied = await copyPeerStarts(deps, Date.now());
      logger.info('copied the peer region\'s stream starts', { peerRegion: settings.peerRegion, ...copied });
      return copied;
    };
  },
  { captureResponse: true },
);
