import type { IIoHost, IoMessage, IoRequest } from '@aws-cdk/toolkit-lib';

/** Where the host writes: progress lines (stderr) and diffs (stdout, or collected for --json). */
export interface ProgressSinks {
  progress(line: string): void;
  diff?(stackName: string, text: string): void;
}

export interface ProgressIoHostOptions {
  /** @default Date.now */
  readonly clock?: () => number;
  /** A stack's resource progress is printed at most this often; failures always are. @default 15_000 */
  readonly resourceIntervalMs?: number;
}

interface StackActivityData {
  readonly event: {
    readonly StackName?: string;
    readonly LogicalResourceId?: string;
    readonly ResourceType?: string;
    readonly ResourceStatus?: string;
    readonly ResourceStatusReason?: string;
  };
  readonly progress: { readonly completed: number; readonly total?: number };
}

/**
 * Turns toolkit-lib's message stream into a few readable lines: each stack's start and finish with
 * its elapsed time, resource progress at most every 15 s per stack, every failed resource with its
 * reason, and errors by name. Everything else (SDK traces, context dumps, per-asset chatter) is
 * dropped: the full stream is what the CDK CLI prints, and it drowns the one line that matters.
 */
export class ProgressIoHost implements IIoHost {
  /** Every error the toolkit reported, in order: the command names them when the action fails. */
  readonly errors: string[] = [];
  private readonly clock: () => number;
  private readonly startedAt: number;
  private readonly resourceIntervalMs: number;
  /** Stack name → when its deploy or destroy started. */
  private readonly started = new Map<string, number>();
  private readonly lastResourceLine = new Map<string, number>();
  private readonly said = new Set<string>();

  constructor(private readonly sinks: ProgressSinks, options: ProgressIoHostOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.startedAt = this.clock();
    this.resourceIntervalMs = options.resourceIntervalMs ?? 15_000;
  }

  async notify(msg: IoMessage<unknown>): Promise<void> {
    const data = msg.data as Record<string, any> | undefined;
    switch (msg.code) {
      case 'CDK_TOOLKIT_I1000':
        return this.once('synth', `synthesized (${msg.message.replace(/^\s*Synthesis time:\s*/, '')})`);
      case 'CDK_TOOLKIT_I5210':
        return this.once('build', 'building assets');
      case 'CDK_TOOLKIT_I5220':
        return this.once('publish', 'publishing assets');
      case 'CDK_TOOLKIT_I5100':
        return this.stackStarted('deploying', data);
      case 'CDK_TOOLKIT_I7100':
        return this.stackStarted('destroying', data);
      case 'CDK_TOOLKIT_I5502':
        return this.resourceActivity(data as StackActivityData);
      case 'CDK_TOOLKIT_I5900': {
        const stackName = stackNameOfArn(String(data?.stackArn ?? ''));
        return this.line(`deployed ${stackName}${data?.noOp ? ' (no changes)' : ''}${this.took(stackName)}`);
      }
      case 'CDK_TOOLKIT_I7900': {
        const stackName = String(data?.stackName ?? '');
        return this.line(`destroyed ${stackName}${this.took(stackName)}`);
      }
      case 'CDK_TOOLKIT_I4002': {
        const stackName = String(data?.stack?.stackName ?? '');
        // `formattedDiff.security` repeats the whole diff when IAM changes; the diff alone shows them once.
        this.sinks.diff?.(stackName, String(data?.formattedDiff?.diff ?? ''));
        return;
      }
      case 'CDK_TOOLKIT_E9600':
        // The policy validation report (cdk-nag, cfn-guard): a failing one already fails synth with its findings.
        return;
    }
    if (msg.level === 'error') {
      const text = errorText(msg);
      if (text) {
        this.errors.push(text);
        this.line(`error: ${text}`);
      }
    } else if (msg.level === 'warn' && msg.code !== undefined && msg.message.trim()) {
      this.once(`warn:${msg.message}`, `warning: ${msg.message.trim()}`);
    }
  }

  async requestResponse<T>(msg: IoRequest<unknown, T>): Promise<T> {
    // The command asked before it started (destroy) or was asked to act (create): the toolkit's own
    // deploy and destroy confirmations would only block a command nobody is watching.
    if (msg.code === 'CDK_TOOLKIT_I5060' || msg.code === 'CDK_TOOLKIT_I7010') {
      return true as T;
    }
    return msg.defaultResponse;
  }

  /** `[2m05s] text`: how long the command has been running and what just happened. */
  private line(text: string): void {
    this.sinks.progress(`[${formatElapsed(this.clock() - this.startedAt)}] ${text}`);
  }

  private once(key: string, text: string): void {
    if (!this.said.has(key)) {
      this.said.add(key);
      this.line(text);
    }
  }

  private stackStarted(verb: string, data: Record<string, any> | undefined): void {
    const stackName = String(data?.stack?.stackName ?? 'a stack');
    this.started.set(stackName, this.clock());
    this.line(`${verb} ${stackName} (${data?.current}/${data?.total})`);
  }

  private resourceActivity(data: StackActivityData): void {
    const { event, progress } = data;
    const stackName = event.StackName ?? '';
    const status = event.ResourceStatus ?? '';
    if (status.endsWith('_FAILED') && !/cancel/i.test(event.ResourceStatusReason ?? '')) {
      this.line(`  ${stackName}: ${event.LogicalResourceId} (${event.ResourceType}) ${status}: ${event.ResourceStatusReason ?? 'no reason given'}`);
      return;
    }
    const now = this.clock();
    const last = this.lastResourceLine.get(stackName);
    if (last !== undefined && now - last < this.resourceIntervalMs) {
      return;
    }
    this.lastResourceLine.set(stackName, now);
    const total = progress.total !== undefined ? `/${progress.total}` : '';
    this.line(`  ${stackName}: ${progress.completed}${total} resources (${status} ${event.LogicalResourceId})`);
  }

  private took(stackName: string): string {
    const started = this.started.get(stackName);
    return started === undefined ? '' : ` in ${formatElapsed(this.clock() - started)}`;
  }
}

/** `45s`, `2m05s`, `1h02m`. */
export function formatElapsed(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) {
    return `${seconds}s`;
  }
  if (seconds < 3600) {
    return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  }
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

function stackNameOfArn(arn: string): string {
  // arn:aws:cloudformation:us-east-1:123456789012:stack/nearstream-pr-7-data/0f1e...
  return arn.split(':').pop()?.split('/')[1] ?? arn;
}

function errorText(msg: IoMessage<unknown>): string {
  const error = (msg.data as { error?: unknown } | undefined)?.error;
  const text = msg.message.trim() || (error instanceof Error ? error.message : '');
  return text.split('\n')[0].trim();
}
