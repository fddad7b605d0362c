/**
 * A token bucket shared by every download of a fill: together they never take more than
 * `bytesPerSecond` from the network (averaged over one second's burst).
 */
export class RateLimiter {
  private tokens: number;
  private last: number;

  constructor(
    readonly bytesPerSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = bytesPerSecond;
    this.last = this.now();
  }

  /** Waits until `bytes` may pass. Larger requests than one second's worth pass alone. */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = this.now();
      this.tokens = Math.min(this.bytesPerSecond, this.tokens + ((now - this.last) / 1000) * this.bytesPerSecond);
      this.last = now;
      const needed = Math.min(bytes, this.bytesPerSecond);
      if (this.tokens >= needed) {
        this.tokens -= bytes;
        return;
      }
      if (signal?.aborted) {
        throw signal.reason ?? new Error('aborted');
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, ((needed - this.tokens) / this.bytesPerSecond) * 1000)));
    }
  }
}
