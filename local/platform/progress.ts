/** A step that failed: its name and why, for the one line the user reads. */
export class StepFailedError extends Error {
  constructor(
    readonly step: string,
    readonly reason: string,
    cause?: unknown,
  ) {
    super(`${step} failed: ${reason}`, { cause });
    this.name = 'StepFailedError';
  }
}

/** Numbered steps with their time, one line each, on a stream people watch. */
export class Progress {
  private done = 0;

  constructor(
    private readonly total: number,
    private readonly write: (line: string) => void,
    /** Once aborted, no further step starts and the one under way ends as soon as it can. */
    readonly signal?: AbortSignal,
  ) {}

  async step<T>(title: string, run: (note: (detail: string) => void, signal?: AbortSignal) => Promise<T>): Promise<T> {
    if (this.signal?.aborted) {
      throw new StepFailedError(title, `interrupted by ${String(this.signal.reason)} before it started`);
    }
    const number = `[${++this.done}/${this.total}]`;
    const startedAt = Date.now();
    this.write(`${number} ${title}`);
    try {
      const result = await run((detail) => this.write(`      ${detail}`), this.signal);
      this.write(`${number} ${title}: done in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
      return result;
    } catch (error) {
      throw error instanceof StepFailedError ? error : new StepFailedError(title, (error as Error).message, error);
    }
  }
}
