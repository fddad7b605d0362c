import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * LOCAL STAND-IN for the AWS FIS Lambda extension's fault configuration: what a chaos drill asks a
 * local region's functions to suffer, written as JSON to the region's fault file and read per
 * request, as the extension reads its S3 configuration. Without the file, no fault.
 */
export interface FaultSettings {
  /** Wait this long before the handler runs. @default 0 */
  readonly delayMs?: number;
  /** Share (percent) of the invocations that fail without running, as a Lambda error does. @default 0 */
  readonly errorPercent?: number;
  /** Share (percent) of the invocations delayed by `delayMs`. @default 100 */
  readonly invocationPercent?: number;
  /** The fault is over at this epoch millisecond. @default - until the file is removed */
  readonly untilMs?: number;
  /**
   * The status a failed invocation answers: 502 is API Gateway's answer when the function fails
   * (`aws:lambda:invocation-error`); another is the answer FIS's
   * `aws:lambda:invocation-http-integration-response` makes the function give, e.g. 503.
   * @default 502
   */
  readonly errorStatus?: number;
  /**
   * The functions the fault reaches, by the names the gateway's routes give them (`local-play`),
   * as an experiment reaches the functions tagged for it.
   * @default - every function of the region
   */
  readonly functions?: readonly string[];
}

/** What one invocation suffers. */
export type FaultDecision = { readonly kind: 'none' } | { readonly kind: 'error'; readonly status: number } | { readonly kind: 'delay'; readonly delayMs: number };

const NONE: FaultDecision = { kind: 'none' };

/**
 * What one invocation of `functionName` suffers under `settings`, drawing its luck from `random`
 * (in [0, 1)).
 */
export function decideFault(settings: FaultSettings | undefined, functionName: string, nowMs: number, random: () => number): FaultDecision {
  if (!settings || (settings.untilMs !== undefined && nowMs >= settings.untilMs) || (settings.functions && !settings.functions.includes(functionName))) {
    return NONE;
  }
  if (random() * 100 < (settings.errorPercent ?? 0)) {
    return { kind: 'error', status: settings.errorStatus ?? 502 };
  }
  const delayMs = settings.delayMs ?? 0;
  if (delayMs > 0 && random() * 100 < (settings.invocationPercent ?? 100)) {
    return { kind: 'delay', delayMs };
  }
  return NONE;
}

export interface FaultFileOptions {
  /** How long a look at the file (absent, or its content) serves requests. @default 1000 */
  readonly cacheMs?: number;
  /** @default Date.now */
  readonly nowMs?: () => number;
  /** @default Math.random */
  readonly random?: () => number;
}

/**
 * Reads a fault file at most once per `cacheMs`, so a gateway without faults pays one `stat` a
 * second. A file that does not parse is no fault: a drill's half-written file must not take the
 * region down.
 */
export class FaultFile {
  private checkedAtMs = Number.NEGATIVE_INFINITY;
  private modifiedMs = -1;
  private settings: FaultSettings | undefined;
  private readonly cacheMs: number;
  private readonly nowMs: () => number;
  private readonly random: () => number;

  constructor(
    readonly file: string,
    options: FaultFileOptions = {},
  ) {
    this.cacheMs = options.cacheMs ?? 1000;
    this.nowMs = options.nowMs ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  /** What the next invocation of `functionName` suffers. */
  next(functionName: string): FaultDecision {
    const now = this.nowMs();
    if (now - this.checkedAtMs >= this.cacheMs) {
      this.checkedAtMs = now;
      this.refresh();
    }
    return decideFault(this.settings, functionName, now, this.random);
  }

  private refresh(): void {
    let modifiedMs: number;
    try {
      modifiedMs = fs.statSync(this.file).mtimeMs;
    } catch {
      this.modifiedMs = -1;
      this.settings = undefined;
      return;
    }
    if (modifiedMs === this.modifiedMs) {
      return;
    }
    this.modifiedMs = modifiedMs;
    try {
      this.settings = JSON.parse(fs.readFileSync(this.file, 'utf8')) as FaultSettings;
    } catch {
      this.settings = undefined;
    }
  }
}

/** Writes `settings` to `file` whole (write then rename), so a reader never sees half of it. */
export function writeFaultFile(file: string, settings: FaultSettings): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, JSON.stringify(settings));
  fs.renameSync(temporary, file);
}

/** Ends the fault: the next look at the file finds none. */
export function clearFaultFile(file: string): void {
  fs.rmSync(file, { force: true });
}
