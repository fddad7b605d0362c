import { CloudWatchClient, GetMetricDataCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { cloudWatchPeerStarts } from '../../../lambda/steady-state/handler';
import { copyPeerStarts, minuteToCopy, PeerStartsSettings } from '../../../lambda/steady-state/peer-starts';

const SETTINGS: PeerStartsSettings = { namespace: 'Nearstream', peerRegion: 'us-west-2', telemetryService: 'telemetry', copyService: 'steady-state' };
const peer = mockClient(new CloudWatchClient({ region: 'us-west-2' }));
const local = mockClient(new CloudWatchClient({ region: 'us-east-1' }));

beforeEach(() => {
  peer.reset();
  local.reset();
});

describe('copying the other region\'s stream starts', () => {
  it('copies the whole minute that ended two minutes ago, so a minute still filling is never read', () => {
    const now = Date.parse('2026-11-29T21:07:42.123Z');

    expect(new Date(minuteToCopy(now)).toISOString()).toBe('2026-11-29T21:05:00.000Z');
    expect(minuteToCopy(Date.parse('2026-11-29T21:08:00.000Z'))).toBe(Date.parse('2026-11-29T21:06:00.000Z'));
  });

  it('reads the peer\'s one-minute sum of stream starts there and publishes it here, at that minute', async () => {
    peer.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'starts', Values: [420], Timestamps: [new Date('2026-11-29T21:05:00Z')] }] });
    local.on(PutMetricDataCommand).resolves({});

    const copied = await copyPeerStarts(cloudWatchPeerStarts(SETTINGS, peer as unknown as CloudWatchClient, local as unknown as CloudWatchClient), Date.parse('2026-11-29T21:07:42Z'));

    expect(copied).toEqual({ minuteStartMs: Date.parse('2026-11-29T21:05:00Z'), starts: 420 });
    const query = peer.commandCalls(GetMetricDataCommand)[0].args[0].input;
    expect(query.StartTime).toEqual(new Date('2026-11-29T21:05:00Z'));
    expect(query.EndTime).toEqual(new Date('2026-11-29T21:06:00Z'));
    expect(query.MetricDataQueries![0].MetricStat).toEqual({
      Metric: {
        Namespace: 'Nearstream',
        MetricName: 'StreamStarts',
        Dimensions: [
          { Name: 'service', Value: 'telemetry' },
          { Name: 'region', Value: 'us-west-2' },
        ],
      },
      Period: 60,
      Stat: 'Sum',
    });
    const published = local.commandCalls(PutMetricDataCommand)[0].args[0].input;
    expect(published).toEqual({
      Namespace: 'Nearstream',
      MetricData: [
        {
          MetricName: 'PeerStreamStarts',
          Dimensions: [
            { Name: 'service', Value: 'steady-state' },
            { Name: 'region', Value: 'us-west-2' },
          ],
          Timestamp: new Date('2026-11-29T21:05:00Z'),
          Value: 420,
          Unit: 'Count',
        },
      ],
    });
  });

  it('publishes zero for a minute in which the peer counted no start: a peer that served nobody counts as nobody served', async () => {
    peer.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'starts', Values: [], Timestamps: [] }] });
    local.on(PutMetricDataCommand).resolves({});

    const copied = await copyPeerStarts(cloudWatchPeerStarts(SETTINGS, peer as unknown as CloudWatchClient, local as unknown as CloudWatchClient), Date.now());

    expect(copied.starts).toBe(0);
    expect(local.commandCalls(PutMetricDataCommand)[0].args[0].input.MetricData![0].Value).toBe(0);
  });

  it('publishes nothing when the peer cannot be read, so the run fails rather than copying a false zero', async () => {
    peer.on(GetMetricDataCommand).rejects(new Error('AccessDenied'));

    await expect(copyPeerStarts(cloudWatchPeerStarts(SETTINGS, peer as unknown as CloudWatchClient, local as unknown as CloudWatchClient), Date.now())).rejects.toThrow('AccessDenied');
    expect(local.commandCalls(PutMetricDataCommand)).toHaveLength(0);
  });
});
