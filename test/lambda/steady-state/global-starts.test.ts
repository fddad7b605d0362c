import { CloudWatchClient, GetMetricDataCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { cloudWatchGlobalStarts, scheduledMsOf } from '../../../lambda/steady-state/handler';
import { GlobalStartsSettings, minuteStampedAt, minuteToSum, publishGlobalStarts } from '../../../lambda/steady-state/global-starts';

const SETTINGS: GlobalStartsSettings = { namespace: 'Nearstream', regions: ['us-east-1', 'us-west-2'], telemetryService: 'telemetry', publishingService: 'steady-state' };
const east = mockClient(new CloudWatchClient({ region: 'us-east-1' }));
const west = mockClient(new CloudWatchClient({ region: 'us-west-2' }));
const clients = { 'us-east-1': east as unknown as CloudWatchClient, 'us-west-2': west as unknown as CloudWatchClient };

function startsIn(mock: typeof east, values: number[]) {
  mock.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'starts', Values: values, Timestamps: values.map(() => new Date()) }] });
}

beforeEach(() => {
  east.reset();
  west.reset();
  east.on(PutMetricDataCommand).resolves({});
});

describe('the platform\'s stream starts, both regions summed in each', () => {
  it('reads the whole minute that ended two minutes before the scheduled time and stamps it at the minute just ended, so no finished minute is ever missing', () => {
    expect(new Date(minuteToSum(Date.parse('2026-11-29T21:07:00Z'))).toISOString()).toBe('2026-11-29T21:04:00.000Z');
    expect(new Date(minuteStampedAt(Date.parse('2026-11-29T21:07:00Z'))).toISOString()).toBe('2026-11-29T21:06:00.000Z');
    expect(scheduledMsOf({ scheduledTime: '2026-11-29T21:07:00Z' }, Date.parse('2026-11-29T21:07:59.9Z'))).toBe(Date.parse('2026-11-29T21:07:00Z'));
    expect(scheduledMsOf({}, 1234)).toBe(1234);
    expect(scheduledMsOf({ scheduledTime: 'yesterday' }, 1234)).toBe(1234);
  });

  it('reads both regions\' one-minute sums alike and publishes their total here, at that minute', async () => {
    startsIn(east, [300]);
    startsIn(west, [120]);

    const published = await publishGlobalStarts(cloudWatchGlobalStarts(SETTINGS, clients), Date.parse('2026-11-29T21:07:00Z'));

    expect(published).toEqual({ minuteStartMs: Date.parse('2026-11-29T21:04:00Z'), publishedAtMs: Date.parse('2026-11-29T21:06:00Z'), starts: { 'us-east-1': 300, 'us-west-2': 120 } });
    for (const [mock, region] of [[east, 'us-east-1'], [west, 'us-west-2']] as const) {
      const query = mock.commandCalls(GetMetricDataCommand)[0].args[0].input;
      expect([query.StartTime, query.EndTime]).toEqual([new Date('2026-11-29T21:04:00Z'), new Date('2026-11-29T21:05:00Z')]);
      expect(query.MetricDataQueries![0].MetricStat).toEqual({
        Metric: { Namespace: 'Nearstream', MetricName: 'StreamStarts', Dimensions: [{ Name: 'service', Value: 'telemetry' }, { Name: 'region', Value: region }] },
        Period: 60,
        Stat: 'Sum',
      });
    }
    expect(west.commandCalls(PutMetricDataCommand)).toHaveLength(0);
    expect(east.commandCalls(PutMetricDataCommand)[0].args[0].input).toEqual({
      Namespace: 'Nearstream',
      MetricData: [{ MetricName: 'GlobalStreamStarts', Dimensions: [{ Name: 'service', Value: 'steady-state' }], Timestamp: new Date('2026-11-29T21:06:00Z'), Value: 420, Unit: 'Count' }],
    });
  });

  it('counts a region with no datapoint in the minute as zero starts: an evacuated region served nobody', async () => {
    startsIn(east, []);
    startsIn(west, [450]);

    const published = await publishGlobalStarts(cloudWatchGlobalStarts(SETTINGS, clients), Date.now());

    expect(published.starts).toEqual({ 'us-east-1': 0, 'us-west-2': 450 });
    expect(east.commandCalls(PutMetricDataCommand)[0].args[0].input.MetricData![0].Value).toBe(450);
  });

  it('publishes nothing when a region cannot be read, so the run fails rather than publishing a false dip', async () => {
    startsIn(east, [300]);
    west.on(GetMetricDataCommand).rejects(new Error('AccessDenied'));

    await expect(publishGlobalStarts(cloudWatchGlobalStarts(SETTINGS, clients), Date.now())).rejects.toThrow('AccessDenied');
    expect(east.commandCalls(PutMetricDataCommand)).toHaveLength(0);
  });
});
