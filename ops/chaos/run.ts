import { Experiment, GetExperimentTemplateCommand, StopExperimentCommand } from '@aws-sdk/client-fis';
import { ChaosExperiment } from '../../lib/chaos/catalog';
import { creatorTagValue } from '../../lib/config/lifetime';
import { followExperiment, FollowDeps, FollowPolicy, FollowResult, isFinal, messageOf } from './follow';
import { humanDuration } from './progress-lines';
import { actionsModeOf, startExperimentCommand } from './start-experiment';
import { readAlarmStates, stopAlarmNames } from './stop-alarms';
import { findExperimentTemplate } from './templates';

export interface RunRequest {
  readonly experiment: ChaosExperiment;
  readonly environment: string;
  readonly region: string;
  readonly dryRun: boolean;
  /** Who started it: tagged on the experiment. */
  readonly callerArn?: string;
}

export interface RunDeps extends FollowDeps {
  /** StartExperiment's idempotency token: a fresh UUID per run. */
  newClientToken(): string;
}

/** Every few seconds; past the planned duration plus half an hour, an experiment is stopped. */
export function defaultFollowPolicy(experiment: ChaosExperiment): FollowPolicy {
  return {
    pollIntervalMs: 5_000,
    overrunMs: (experiment.durationMinutes + 30) * 60_000,
    pollFailureBudgetMs: 120_000,
    stopWaitMs: 300_000,
  };
}

/** The template's stop alarms that are not OK now, with their states. */
async function unguardedStopAlarms(templateId: string, deps: RunDeps): Promise<[string, string][]> {
  const answer = await deps.fis.send(new GetExperimentTemplateCommand({ id: templateId }));
  const names = stopAlarmNames(answer?.experimentTemplate?.stopConditions);
  if (names.length === 0) {
    return [];
  }
  const states = await readAlarmStates(deps.cloudWatch, names);
  return [...states].filter(([, state]) => state !== 'OK');
}

/** The tag that names who started an experiment. */
export const STARTED_BY_TAG = 'nearstream:started-by';

/**
 * Starts the environment's experiment in the region and follows it to its end. Resolves to the
 * exit code: 0 when FIS reports `completed`, 1 otherwise (stopped, failed, or not followed to the end).
 */
export async function runExperiment(request: RunRequest, deps: RunDeps, policy: FollowPolicy = defaultFollowPolicy(request.experiment)): Promise<number> {
  const { experiment, environment, region, dryRun } = request;
  const where = `${experiment.name} in ${environment} (${region})`;
  const templateId = await findExperimentTemplate(deps.fis, { experiment: experiment.name, environment, region });
  if (deps.interrupted.aborted) {
    deps.out(`${where}: interrupted before starting: nothing started`);
    return 1;
  }
  // FIS stops an experiment only when a stop alarm is in ALARM: one in INSUFFICIENT_DATA (an
  // anomaly band still learning, a metric not yet published) guards nothing, so harm waits for OK.
  const unguarded = dryRun ? [] : await unguardedStopAlarms(templateId, deps);
  if (unguarded.length > 0) {
    deps.out(
      `${where}: not started: its stop condition${unguarded.length > 1 ? 's' : ''} ${unguarded.map(([name, state]) => `${name} is ${state}`).join(', ')}, not OK; ` +
        'FIS stops an experiment only on ALARM, so it would run unguarded. Wait until the alarm is OK (an anomaly band needs its metric\'s history first), or use --dry-run',
    );
    return 1;
  }
  deps.out(
    dryRun
      ? `${where}: dry run of template ${templateId}: FIS resolves the targets and skips every action, so nothing is harmed`
      : `${where}: starting template ${templateId}: ${experiment.title}; blast radius: ${experiment.blastRadius}; ` +
          `${experiment.durationMinutes} min; SPS may dip ${experiment.maxSpsDipPercent}%`,
  );
  const answer = await deps.fis.send(
    startExperimentCommand({
      experimentTemplateId: templateId,
      clientToken: deps.newClientToken(),
      ...(request.callerArn ? { tags: { [STARTED_BY_TAG]: creatorTagValue(request.callerArn) } } : {}),
      ...(dryRun ? { experimentOptions: { actionsMode: 'skip-all' } } : {}),
    }),
  );
  const started = answer.experiment;
  if (!started?.id) {
    throw new Error(`StartExperiment of template ${templateId} answered without an experiment id`);
  }
  const alarms = stopAlarmNames(started.stopConditions);
  deps.out(
    `${where}: experiment ${started.id} started; ` +
      (alarms.length > 0 ? `FIS stops it when ${alarms.join(' or ')} fires; ` : '') +
      'Ctrl-C stops it',
  );
  if (dryRun && actionsModeOf(started) !== 'skip-all') {
    return stopUnconfirmedDryRun(started, where, region, deps);
  }
  const followedFromMs = deps.clock.nowMs();
  const followed = await followExperiment(started, deps, policy);
  deps.out(outcomeLine(followed, where, request, { fromMs: followedFromMs, toMs: deps.clock.nowMs() }));
  return followed.gaveUp === undefined && followed.experiment.state?.status === 'completed' ? 0 : 1;
}

/** FIS did not echo `skip-all`: its actions may run, which a dry run promised would not happen. */
async function stopUnconfirmedDryRun(started: Experiment, where: string, region: string, deps: RunDeps): Promise<number> {
  const said = actionsModeOf(started) ?? 'no actions mode';
  try {
    await deps.fis.send(new StopExperimentCommand({ id: started.id }));
  } catch (error) {
    deps.out(
      `${where}: FIS did not confirm the dry run (it says ${said}) and stopping experiment ${started.id} failed: ${messageOf(error)}; ` +
        `stop it now: aws fis stop-experiment --id ${started.id} --region ${region}`,
    );
    return 1;
  }
  deps.out(`${where}: FIS did not confirm the dry run (it says ${said}), so experiment ${started.id} was stopped at once`);
  return 1;
}

/**
 * The one line that ends a run: final state, FIS's reason, duration, the SPS alarm. The duration is
 * FIS's (start to end time) when it gave both, else how long the run followed the experiment.
 */
export function outcomeLine(followed: FollowResult, where: string, request: RunRequest, followedSpan: { fromMs: number; toMs: number }): string {
  const { experiment, spsAlarmFired, stopCause, gaveUp } = followed;
  const status = experiment.state?.status ?? 'unknown';
  const span = experiment.startTime && experiment.endTime ? { fromMs: experiment.startTime.getTime(), toMs: experiment.endTime.getTime() } : followedSpan;
  const duration = humanDuration(span.toMs - span.fromMs);
  const reason = experiment.state?.reason ? `: ${experiment.state.reason.replace(/\.$/, '')}` : '';
  const alarm = spsAlarmFired
    ? `the SPS alarm fired: the hypothesis (SPS holds within ${request.experiment.maxSpsDipPercent}%) did not hold`
    : 'the SPS alarm did not fire';
  const kind = request.dryRun ? 'dry run of ' : '';
  if (gaveUp !== undefined || !isFinal(experiment)) {
    return (
      `still ${status}: ${kind}${where}, experiment ${experiment.id}, after ${duration}: ${gaveUp ?? 'no final state'}; ` +
      `FIS's stop condition still guards it; stop it with: aws fis stop-experiment --id ${experiment.id} --region ${request.region}`
    );
  }
  const because = status === 'stopped' && stopCause === 'interrupted' ? ' (stopped on Ctrl-C)' : status === 'stopped' && stopCause === 'overrun' ? ' (stopped: it overran)' : '';
  const when = status === 'completed' ? `in ${duration}` : `after ${duration}`;
  return `${status}: ${kind}${where}, experiment ${experiment.id}, ${when}${reason}${because}; ${alarm}`;
}
