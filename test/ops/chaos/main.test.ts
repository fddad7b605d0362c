import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { CHAOS_EXPERIMENTS } from '../../../lib/chaos/catalog';
import { runChaos } from '../../../ops/chaos/main';
import { ALARM_ARN, ALARM_NAME, CALLER_ARN, experiment, fakeClock, fakeIo, FIS, mockFis, REGION, template } from './fakes';

const fis = mockFis();
const cloudWatch = mockClient(CloudWatchClient);

const RUN = ['run', 'chaos-monkey', '--env', 'pr-7', '--region', REGION];
const alarmIs = (state: string) => ({ MetricAlarms: [{ AlarmName: ALARM_NAME, StateValue: state as never }] });

beforeEach(() => {
  fis.reset();
  cloudWatch.reset();
  fis.on(FIS.ListExperimentTemplates).resolves({ experimentTemplates: [template('EXT1', 'chaos-monkey', 'pr-7')] });
  cloudWatch.on(DescribeAlarmsCommand).resolves(alarmIs('OK'));
});

describe('npm run chaos: list and usage', () => {
  it('lists the catalog as a table without credentials or AWS', async () => {
    const { io, out, err } = fakeIo({ findCredentials: async () => Promise.reject(new Error('list must not look for credentials')) });

    await expect(runChaos(['list'], io)).resolves.toBe(0);

    const [header, ...rows] = out.join('\n').split('\n');
    expect(header).toMatch(/^EXPERIMENT +FAULT +BLAST RADIUS +DURATION +SPS DIP ALLOWED$/);
    expect(rows[0]).toMatch(/^chaos-monkey +terminate 1 appliance instance +one opted-in appliance instance of the region +15 min +5%$/);
    expect(rows.slice(0, CHAOS_EXPERIMENTS.length).map((row) => row.split(' ')[0])).toEqual(CHAOS_EXPERIMENTS.map((entry) => entry.name));
    expect(err).toEqual([]);
    expect(fis.calls()).toHaveLength(0);
  });

  it('prints its usage on --help, naming every experiment and the exit codes', async () => {
    const { io, out } = fakeIo();

    await expect(runChaos(['--help'], io)).resolves.toBe(0);

    expect(out.join('\n')).toMatch(/^usage: npm run chaos -- <command> \[options\]/);
    expect(out.join('\n')).toContain(`Experiments: ${CHAOS_EXPERIMENTS.map((entry) => entry.name).join(', ')}.`);
    expect(out.join('\n')).toContain('Exit codes: 0 completed (or list), 1 stopped, failed or not found, 2 bad usage, 3 no AWS credentials.');
  });

  it.each([
    [['run', 'gremlin', '--env', 'pr-7', '--region', REGION], "run: no chaos experiment 'gremlin': the catalog has chaos-monkey, latency-monkey, lambda-errors, appliance-degradation"],
    [['run', 'chaos-monkey', '--region', REGION], 'run chaos-monkey: missing --env NAME (the environment, e.g. pr-7)'],
    [['run', 'chaos-monkey', '--env', 'pr-7'], 'run chaos-monkey: missing --region R (the region to run in, e.g. us-east-1)'],
    [['run', 'chaos-monkey', '--env', 'pr-7', '--region', 'useast1'], "run chaos-monkey: --region: 'useast1' is not an AWS region name (like us-east-1)"],
    [['run', 'chaos-monkey', '--env', 'PR_7', '--region', REGION], "run chaos-monkey: --env: 'PR_7' must be 1-16 lower-case letters"],
    [['run', 'chaos-monkey', 'latency-monkey', '--env', 'pr-7', '--region', REGION], 'run: one experiment at a time (got chaos-monkey, latency-monkey)'],
    [['run', '--env', 'pr-7', '--region', REGION], 'run: which experiment? give one of chaos-monkey, latency-monkey'],
    [[...RUN, '--dryrun'], "run: unknown option '--dryrun' (--help lists each command's options)"],
    [['list', '--env', 'pr-7'], "list: unknown option '--env'"],
    [['start', 'chaos-monkey'], "unknown command 'start': choose list, run or local"],
  ])('refuses %j in one line naming what is wrong, exit 2, before looking for credentials', async (argv, message) => {
    let credentialChecks = 0;
    const { io, out, err } = fakeIo({ findCredentials: async () => (credentialChecks++, { ok: false, reason: 'no AWS credentials' }) });

    await expect(runChaos(argv, io)).resolves.toBe(2);

    expect(err).toHaveLength(1);
    expect(err[0]).toContain(`npm run chaos: ${message}`);
    expect(out).toEqual([]);
    expect(credentialChecks).toBe(0);
  });

  it('without credentials, prints one line and exits 3 without calling AWS', async () => {
    const { io, out, err } = fakeIo({ findCredentials: async () => ({ ok: false, reason: 'no AWS credentials' }) });

    await expect(runChaos(RUN, io)).resolves.toBe(3);

    expect(err).toEqual([
      `npm run chaos -- ${RUN.join(' ')}: no AWS credentials (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, for the account of pr-7)`,
    ]);
    expect(out).toEqual([]);
    expect(fis.calls()).toHaveLength(0);
  });
});

describe('npm run chaos -- run', () => {
  it('starts the template, prints each change from pending to completed with the actions and the alarm, and exits 0', async () => {
    fis.on(FIS.StartExperiment).resolves({ experiment: experiment('pending', { terminate: 'pending' }) });
    fis
      .on(FIS.GetExperiment)
      .resolvesOnce({ experiment: experiment('initiating', { terminate: 'pending' }) })
      .resolvesOnce({ experiment: experiment('running', { terminate: 'running' }) })
      .resolvesOnce({ experiment: experiment('running', { terminate: 'running' }) })
      .resolvesOnce({
        experiment: experiment('completed', { terminate: 'completed' }, {
          state: { status: 'completed', reason: 'Experiment completed.' },
          startTime: new Date('2026-12-01T12:00:00Z'),
          endTime: new Date('2026-12-01T12:15:07Z'),
        }),
      });
    const { io, out, err, destroyed } = fakeIo();

    await expect(runChaos(RUN, io)).resolves.toBe(0);

    expect(out).toEqual([
      'chaos-monkey in pr-7 (us-east-1): starting template EXT1: Chaos Monkey: one appliance instance terminated; blast radius: one opted-in appliance instance of the region; 15 min; SPS may dip 5%',
      `chaos-monkey in pr-7 (us-east-1): experiment EXP1 started; FIS stops it when ${ALARM_NAME} fires; Ctrl-C stops it`,
      '[00:00] experiment pending',
      '[00:00] action terminate (aws:ec2:terminate-instances): pending',
      `[00:00] SPS alarm ${ALARM_NAME}: OK`,
      '[00:05] experiment initiating',
      '[00:10] experiment running',
      '[00:10] action terminate (aws:ec2:terminate-instances): running',
      '[00:20] experiment completed: Experiment completed.',
      '[00:20] action terminate (aws:ec2:terminate-instances): completed',
      'completed: chaos-monkey in pr-7 (us-east-1), experiment EXP1, in 15m 07s: Experiment completed; the SPS alarm did not fire',
    ]);
    expect(err).toEqual([]);
    expect(destroyed).toEqual([REGION]);
    const start = fis.commandCalls(FIS.StartExperiment)[0].args[0].input;
    expect(start).toEqual({
      experimentTemplateId: 'EXT1',
      clientToken: '6f1c2a52-3d7e-4b8a-9c1d-2e3f4a5b6c7d',
      tags: { 'nearstream:started-by': CALLER_ARN },
    });
    expect(fis.commandCalls(FIS.GetExperiment).every((call) => call.args[0].input.id === 'EXP1')).toBe(true);
    expect(cloudWatch.commandCalls(DescribeAlarmsCommand)[0].args[0].input).toMatchObject({ AlarmNames: [ALARM_NAME] });
  });

  it.each(['INSUFFICIENT_DATA', 'ALARM'])('starts nothing while the template\'s stop alarm is %s: FIS stops only on ALARM, so the run would be unguarded', async (state) => {
    fis.on(FIS.GetExperimentTemplate).resolves({ experimentTemplate: { id: 'EXT1', stopConditions: [{ source: 'aws:cloudwatch:alarm', value: ALARM_ARN }] } });
    cloudWatch.on(DescribeAlarmsCommand).resolves(alarmIs(state));
    const { io, out } = fakeIo();

    await expect(runChaos(RUN, io)).resolves.toBe(1);

    expect(out.join('\n')).toContain(`chaos-monkey in pr-7 (us-east-1): not started: its stop condition ${ALARM_NAME} is ${state}, not OK`);
    expect(fis.commandCalls(FIS.StartExperiment)).toHaveLength(0);
  });

  it('runs a dry run with actionsMode skip-all', async () => {
    const dry = { experimentOptions: { actionsMode: 'skip-all' } as never };
    fis.on(FIS.StartExperiment).resolves({ experiment: experiment('pending', { terminate: 'pending' }, dry) });
    fis.on(FIS.GetExperiment).resolves({ experiment: experiment('completed', { terminate: 'skipped' }, dry) });
    const { io, out } = fakeIo();

    await expect(runChaos([...RUN, '--dry-run'], io)).resolves.toBe(0);

    expect(fis.commandCalls(FIS.StartExperiment)[0].args[0].input).toMatchObject({ experimentOptions: { actionsMode: 'skip-all' } });
    expect(out[0]).toBe('chaos-monkey in pr-7 (us-east-1): dry run of template EXT1: FIS resolves the targets and skips every action, so nothing is harmed');
    expect(out).toContain('[00:05] action terminate (aws:ec2:terminate-instances): skipped');
    expect(out.at(-1)).toBe('completed: dry run of chaos-monkey in pr-7 (us-east-1), experiment EXP1, in 5s; the SPS alarm did not fire');
  });

  it('stops at once and exits 1 when FIS does not confirm a dry run', async () => {
    fis.on(FIS.StartExperiment).resolves({ experiment: experiment('pending', { terminate: 'pending' }) });
    fis.on(FIS.StopExperiment).resolves({ experiment: experiment('stopping') });
    const { io, out } = fakeIo();

    await expect(runChaos([...RUN, '--dry-run'], io)).resolves.toBe(1);

    expect(fis.commandCalls(FIS.StopExperiment)[0].args[0].input).toEqual({ id: 'EXP1' });
    expect(fis.commandCalls(FIS.GetExperiment)).toHaveLength(0);
    expect(out.at(-1)).toBe('chaos-monkey in pr-7 (us-east-1): FIS did not confirm the dry run (it says no actions mode), so experiment EXP1 was stopped at once');
  });

  it('exits 1 saying the SPS alarm fired when the stop condition stops the experiment', async () => {
    fis.on(FIS.StartExperiment).resolves({ experiment: experiment('pending', { terminate: 'pending' }) });
    fis
      .on(FIS.GetExperiment)
      .resolvesOnce({ experiment: experiment('running', { terminate: 'running' }) })
      .resolvesOnce({ experiment: experiment('stopping', { terminate: 'stopping' }) })
      .resolvesOnce({ experiment: experiment('stopped', { terminate: 'stopped' }, { state: { status: 'stopped', reason: 'Experiment stopped by a stop condition.' } }) });
    cloudWatch
      .on(DescribeAlarmsCommand)
      .resolvesOnce(alarmIs('OK'))
      .resolvesOnce(alarmIs('OK'))
      .resolves(alarmIs('ALARM'));
    const { io, out } = fakeIo();

    await expect(runChaos(RUN, io)).resolves.toBe(1);

    expect(out).toContain(`[00:10] SPS alarm ${ALARM_NAME}: ALARM`);
    expect(out).toContain('[00:15] experiment stopped: Experiment stopped by a stop condition.');
    expect(out.at(-1)).toBe(
      'stopped: chaos-monkey in pr-7 (us-east-1), experiment EXP1, after 15s: Experiment stopped by a stop condition; ' +
        'the SPS alarm fired: the hypothesis (SPS holds within 5%) did not hold',
    );
  });

  it("exits 1 with FIS's reason when the experiment fails", async () => {
    fis.on(FIS.StartExperiment).resolves({ experiment: experiment('pending', { terminate: 'pending' }) });
    fis.on(FIS.GetExperiment).resolves({
      experiment: experiment('failed', { terminate: 'cancelled' }, { state: { status: 'failed', reason: 'Target resolution returned no resources for appliances.' } }),
    });
    const { io, out } = fakeIo();

    await expect(runChaos(RUN, io)).resolves.toBe(1);

    expect(out.at(-1)).toBe(
      'failed: chaos-monkey in pr-7 (us-east-1), experiment EXP1, after 5s: Target resolution returned no resources for appliances; the SPS alarm did not fire',
    );
  });

  it('stops the experiment on Ctrl-C, follows it until FIS confirms, and exits 1', async () => {
    const interruption = new AbortController();
    fis.on(FIS.StartExperiment).resolves({ experiment: experiment('pending', { terminate: 'pending' }) });
    fis
      .on(FIS.GetExperiment)
      .resolvesOnce({ experiment: experiment('running', { terminate: 'running' }) })
      .resolves({ experiment: experiment('stopped', { terminate: 'stopped' }, { state: { status: 'stopped', reason: 'Experiment stopped by user.' } }) });
    fis.on(FIS.StopExperiment).resolves({ experiment: experiment('stopping', { terminate: 'stopping' }) });
    const clock = fakeClock((sleeps) => sleeps === 2 && interruption.abort());
    const { io, out } = fakeIo({ clock, interrupted: interruption.signal });

    await expect(runChaos(RUN, io)).resolves.toBe(1);

    expect(fis.commandCalls(FIS.StopExperiment).map((call) => call.args[0].input)).toEqual([{ id: 'EXP1' }]);
    expect(out).toContain('[00:10] Ctrl-C: stopping experiment EXP1 (Ctrl-C again to quit without waiting)');
    expect(out).toContain('[00:10] experiment stopping');
    expect(out.at(-1)).toBe(
      'stopped: chaos-monkey in pr-7 (us-east-1), experiment EXP1, after 15s: Experiment stopped by user (stopped on Ctrl-C); the SPS alarm did not fire',
    );
  });

  it('exits 1 naming env, region and the chaos modes when the environment has no template', async () => {
    fis.on(FIS.ListExperimentTemplates).resolves({ experimentTemplates: [] });
    const { io, err, destroyed } = fakeIo();

    await expect(runChaos(RUN, io)).resolves.toBe(1);

    expect(err).toEqual([
      `npm run chaos -- ${RUN.join(' ')}: no FIS experiment template for chaos-monkey in pr-7 (us-east-1): ` +
        "the environment's chaos must be leashed or on (deploy it with -c chaos=leashed or -c chaos=on)",
    ]);
    expect(fis.commandCalls(FIS.StartExperiment)).toHaveLength(0);
    expect(destroyed).toEqual([REGION]);
  });

  it('exits 1 with the AWS error when StartExperiment is refused', async () => {
    fis.on(FIS.StartExperiment).rejects(new Error('User: alice is not authorized to perform: fis:StartExperiment'));
    const { io, err } = fakeIo();

    await expect(runChaos(RUN, io)).resolves.toBe(1);

    expect(err).toEqual([`npm run chaos -- ${RUN.join(' ')} failed: User: alice is not authorized to perform: fis:StartExperiment`]);
  });
});
