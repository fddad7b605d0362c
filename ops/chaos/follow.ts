import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { Experiment, FisClient, GetExperimentCommand, StopExperimentCommand } from '@aws-sdk/client-fis';
import { ProgressLines } from './progress-lines';
import { readAlarmStates, stopAlarmNames } from './stop-alarms';

/** Time, so tests can run an hour-long experiment in no time. */
export interface Clock {
  nowMs(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface FollowDeps {
  readonly fis: Pick<FisClient, 'send'>;
  readonly cloudWatch: Pick<CloudWatchClient, 'send'>;
  readonly clock: Clock;
  /** Aborts on Ctrl-C: the experiment is then stopped. */
  readonly interrupted: AbortSignal;
  /** Progress, a line at a time. */
  readonly out: (line: string) => void;
}

export interface FollowPolicy {
  /** Between two GetExperiment (and DescribeAlarms) calls. */
  readonly pollIntervalMs: number;
  /** Past this since the start the experiment is stopped: it ran far longer than planned. */
  readonly overrunMs: number;
  /** GetExperiment may fail this long in a row (each call after the SDK's own retries) before following gives up. */
  readonly pollFailureBudgetMs: number;
  /** How long FIS may take to confirm a stop (`stopping` to `stopped`) before following gives up. */
  readonly stopWaitMs: number;
}

/** FIS states nothing follows. */
const FINAL_STATES: ReadonlySet<string> = new Set(['completed', 'stopped', 'failed', 'cancelled']);

/** Why the runner itself asked FIS to stop the experiment. */
export type StopCause = 'interrupted' | 'overrun';

export interface FollowResult {
  /** The experiment as FIS last described it. */
  readonly experiment: Experiment;
  /** A stop alarm was seen in ALARM while the experiment ran. */
  readonly spsAlarmFired: boolean;
  readonly stopCause?: StopCause;
  /** Following ended before FIS reported a final state, and why. */
  readonly gaveUp?: string;
}

export function isFinal(experiment: Experiment): boolean {
  return FINAL_STATES.has(experiment.state?.status ?? '');
}

/**
 * Follows a started experiment to its final state: polls GetExperiment and the stop alarms'
 * states, printing every change. On Ctrl-C, or when the experiment overruns, it asks FIS to stop
 * the experiment and follows it until FIS confirms. A failing GetExperiment is retried within
 * `pollFailureBudgetMs`; a failing DescribeAlarms only costs the alarm lines, since FIS watches the
 * alarm itself.
 */
export async function followExperiment(started: Experiment, deps: FollowDeps, policy: FollowPolicy): Promise<FollowResult> {
  const { fis, clock, out } = deps;
  const id = started.id!;
  const startedAtMs = clock.nowMs();
  const progress = new ProgressLines(out, () => clock.nowMs() - startedAtMs);
  const alarmNames = stopAlarmNames(started.stopConditions);
  let experiment = started;
  let spsAlarmFired = false;
  let alarmReadFailing = false;
  let stopCause: StopCause | undefined;
  let stopSentAtMs: number | undefined;
  let lastGoodPollMs = startedAtMs;
  const result = (gaveUp?: string): FollowResult => ({ experiment, spsAlarmFired, stopCause, gaveUp });

  const readAlarms = async () => {
    if (alarmNames.length === 0) {
      return;
    }
    try {
      for (const [name, state] of await readAlarmStates(deps.cloudWatch, alarmNames)) {
        progress.alarm(name, state);
        spsAlarmFired ||= state === 'ALARM';
      }
      alarmReadFailing = false;
    } catch (error) {
      if (!alarmReadFailing) {
        progress.line(`SPS alarm state unavailable (FIS still watches it): ${messageOf(error)}`);
      }
      alarmReadFailing = true;
    }
  };

  progress.experiment(experiment);
  if (alarmNames.length === 0) {
    progress.line('the experiment has no alarm stop condition: nothing stops it before its actions end');
  }
  await readAlarms();
  while (!isFinal(experiment)) {
    const nowMs = clock.nowMs();
    const cause: StopCause | undefined =
      stopCause !== undefined ? undefined : deps.interrupted.aborted ? 'interrupted' : nowMs - startedAtMs > policy.overrunMs ? 'overrun' : undefined;
    if (cause) {
      stopCause = cause;
      progress.line(
        cause === 'interrupted'
          ? `Ctrl-C: stopping experiment ${id} (Ctrl-C again to quit without waiting)`
          : `still ${experiment.state?.status} ${Math.round(policy.overrunMs / 60_000)} min after it started: stopping experiment ${id}`,
      );
      try {
        experiment = (await fis.send(new StopExperimentCommand({ id }))).experiment ?? experiment;
      } catch (error) {
        return result(`StopExperiment failed: ${messageOf(error)}`);
      }
      stopSentAtMs = nowMs;
      progress.experiment(experiment);
      continue;
    }
    if (stopSentAtMs !== undefined && nowMs - stopSentAtMs > policy.stopWaitMs) {
      return result(`FIS did not confirm the stop within ${Math.round(policy.stopWaitMs / 1000)} s`);
    }
    await clock.sleep(policy.pollIntervalMs, stopCause === undefined ? deps.interrupted : undefined);
    if (stopCause === undefined && deps.interrupted.aborted) {
      continue;
    }
    try {
      experiment = (await fis.send(new GetExperimentCommand({ id }))).experiment ?? experiment;
      lastGoodPollMs = clock.nowMs();
    } catch (error) {
      const failingMs = clock.nowMs() - lastGoodPollMs;
      if (failingMs > policy.pollFailureBudgetMs) {
        return result(`GetExperiment has failed for ${Math.round(failingMs / 1000)} s: ${messageOf(error)}`);
      }
      progress.line(`GetExperiment failed, trying again: ${messageOf(error)}`);
      continue;
    }
    progress.experiment(experiment);
    await readAlarms();
  }
  return result();
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0] : String(error);
}
