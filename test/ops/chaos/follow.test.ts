import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { FisClient } from '@aws-sdk/client-fis';
import { mockClient } from 'aws-sdk-client-mock';
import { followExperiment, FollowDeps, FollowPolicy } from '../../../ops/chaos/follow';
import { ALARM_NAME, experiment, fakeClock, FIS, mockFis, REGION } from './fakes';

const fis = mockFis();
const cloudWatch = mockClient(CloudWatchClient);
const POLICY: FollowPolicy = { pollIntervalMs: 5_000, overrunMs: 60_000, pollFailureBudgetMs: 20_000, stopWaitMs: 30_000 };

function deps(overrides: Partial<FollowDeps> = {}) {
  const lines: string[] = [];
  const clock = fakeClock();
  const follow: FollowDeps = {
    fis: new FisClient({ region: REGION }),
    cloudWatch: new CloudWatchClient({ region: REGION }),
    clock,
    interrupted: new AbortController().signal,
    out: (line) => lines.push(line),
    ...overrides,
  };
  return { follow, lines, clock };
}

beforeEach(() => {
  fis.reset();
  cloudWatch.reset();
  cloudWatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [{ AlarmName: ALARM_NAME, StateValue: 'OK' }] });
});

describe('followExperiment', () => {
  it('polls again after a failed GetExperiment and reaches the final state', async () => {
    fis
      .on(FIS.GetExperiment)
      .rejectsOnce(new Error('Rate exceeded'))
      .resolves({ experiment: experiment('completed') });
    const { follow, lines, clock } = deps();

    const result = await followExperiment(experiment('running'), follow, POLICY);

    expect(result).toMatchObject({ experiment: { state: { status: 'completed' } }, spsAlarmFired: false, gaveUp: undefined });
    expect(lines).toContain('[00:05] GetExperiment failed, trying again: Rate exceeded');
    expect(clock.sleeps).toEqual([5_000, 5_000]);
  });

  it('gives up following, saying why, once GetExperiment has failed longer than its budget', async () => {
    fis.on(FIS.GetExperiment).rejects(new Error('connect ETIMEDOUT'));
    const { follow } = deps();

    const result = await followExperiment(experiment('running'), follow, POLICY);

    expect(result.gaveUp).toBe('GetExperiment has failed for 25 s: connect ETIMEDOUT');
    expect(result.experiment.state?.status).toBe('running');
    expect(fis.commandCalls(FIS.StopExperiment)).toHaveLength(0);
  });

  it('keeps following when the alarm cannot be read, saying so once', async () => {
    cloudWatch.reset();
    cloudWatch.on(DescribeAlarmsCommand).rejects(new Error('AccessDenied'));
    fis
      .on(FIS.GetExperiment)
      .resolvesOnce({ experiment: experiment('running') })
      .resolves({ experiment: experiment('completed') });
    const { follow, lines } = deps();

    const result = await followExperiment(experiment('pending'), follow, POLICY);

    expect(result.experiment.state?.status).toBe('completed');
    expect(lines.filter((line) => line.includes('SPS alarm state unavailable'))).toEqual(['[00:00] SPS alarm state unavailable (FIS still watches it): AccessDenied']);
  });

  it('stops an experiment that runs past its overrun limit', async () => {
    fis.on(FIS.GetExperiment).resolves({ experiment: experiment('running') });
    fis.on(FIS.StopExperiment).callsFake(() => {
      fis.on(FIS.GetExperiment).resolves({ experiment: experiment('stopped') });
      return { experiment: experiment('stopping') };
    });
    const { follow, lines } = deps();

    const result = await followExperiment(experiment('running'), follow, POLICY);

    expect(result).toMatchObject({ stopCause: 'overrun', experiment: { state: { status: 'stopped' } } });
    expect(lines).toContain('[01:05] still running 1 min after it started: stopping experiment EXP1');
  });

  it('gives up when FIS does not confirm a stop in time', async () => {
    const interruption = new AbortController();
    interruption.abort();
    fis.on(FIS.GetExperiment).resolves({ experiment: experiment('stopping') });
    fis.on(FIS.StopExperiment).resolves({ experiment: experiment('stopping') });
    const { follow } = deps({ interrupted: interruption.signal });

    const result = await followExperiment(experiment('running'), follow, POLICY);

    expect(result).toMatchObject({ stopCause: 'interrupted', gaveUp: 'FIS did not confirm the stop within 30 s' });
    expect(fis.commandCalls(FIS.StopExperiment)).toHaveLength(1);
  });

  it('says so when the experiment has no alarm to stop it', async () => {
    const { follow, lines } = deps();

    await followExperiment(experiment('completed', {}, { stopConditions: [{ source: 'none' }] }), follow, POLICY);

    expect(lines).toEqual(['[00:00] experiment completed', '[00:00] the experiment has no alarm stop condition: nothing stops it before its actions end']);
    expect(cloudWatch.calls()).toHaveLength(0);
  });
});
