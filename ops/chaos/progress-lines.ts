import { Experiment } from '@aws-sdk/client-fis';

/** `mm:ss` since the run started, `h:mm:ss` past an hour. */
export function clockTime(elapsedMs: number): string {
  const seconds = Math.max(0, Math.floor(elapsedMs / 1000));
  const hours = Math.floor(seconds / 3600);
  const minutes = String(Math.floor((seconds % 3600) / 60)).padStart(2, '0');
  const rest = String(seconds % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${minutes}:${rest}` : `${minutes}:${rest}`;
}

/** A duration for people: `45s`, `3m 05s`, `1h 02m`. */
export function humanDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) {
    return `${seconds}s`;
  }
  if (seconds < 3600) {
    return `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, '0')}s`;
  }
  return `${Math.floor(seconds / 3600)}h ${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * Prints a line when something it is shown changed since it was last shown: the experiment's state,
 * an action's state, a stop alarm's state. Each line starts with the time since the run started.
 */
export class ProgressLines {
  private experimentState?: string;
  private readonly actionStates = new Map<string, string>();
  private readonly alarmStates = new Map<string, string>();

  constructor(
    private readonly out: (line: string) => void,
    private readonly elapsedMs: () => number,
  ) {}

  experiment(experiment: Experiment): void {
    const status = experiment.state?.status ?? 'unknown';
    const state = withReason(status, experiment.state?.reason);
    if (state !== this.experimentState) {
      this.experimentState = state;
      this.line(`experiment ${state}`);
    }
    for (const [name, action] of Object.entries(experiment.actions ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
      const actionState = withReason(action.state?.status ?? 'unknown', action.state?.reason);
      if (actionState !== this.actionStates.get(name)) {
        this.actionStates.set(name, actionState);
        this.line(`action ${name}${action.actionId ? ` (${action.actionId})` : ''}: ${actionState}`);
      }
    }
  }

  alarm(name: string, state: string): void {
    if (state !== this.alarmStates.get(name)) {
      this.alarmStates.set(name, state);
      this.line(`SPS alarm ${name}: ${state}`);
    }
  }

  line(text: string): void {
    this.out(`[${clockTime(this.elapsedMs())}] ${text}`);
  }
}

function withReason(status: string, reason: string | undefined): string {
  return reason ? `${status}: ${reason}` : status;
}
