import { ApplianceView, FleetIndex, SteeringPolicy } from './steering';

export interface FleetSnapshot {
  readonly index: FleetIndex;
  /** True when the registry could not be read and this is an older snapshot, or none at all. */
  readonly degraded: boolean;
  /** Age of the snapshot in milliseconds; undefined when there has never been one. */
  readonly ageMs?: number;
}

export interface FleetCacheOptions {
  /** A snapshot younger than this is used without asking the registry. */
  readonly maxAgeMs: number;
  /** A registry read slower than this counts as failed. */
  readonly loadTimeoutMs: number;
  /** After a failed read, the registry is not asked again for this long. */
  readonly retryAfterMs: number;
  readonly policy: SteeringPolicy;
}

/**
 * Keeps the steering index of the fleet in the function's memory. When the registry is slow or
 * failing, plays go on with the last good snapshot, marked degraded, rather than failing.
 */
export class FleetCache {
  private current?: { index: FleetIndex; loadedAtMs: number };
  private nextAttemptAtMs = 0;
  private inFlight?: Promise<void>;

  constructor(
    private readonly load: () => Promise<readonly ApplianceView[]>,
    private readonly options: FleetCacheOptions,
    private readonly nowMs: () => number = Date.now,
  ) {}

  async snapshot(): Promise<FleetSnapshot> {
    const now = this.nowMs();
    const fresh = this.current && now - this.current.loadedAtMs < this.options.maxAgeMs;
    if (!fresh && now >= this.nextAttemptAtMs) {
      this.inFlight ??= this.refresh().finally(() => (this.inFlight = undefined));
      await this.inFlight;
    }
    if (!this.current) {
      return { index: FleetIndex.build([], this.options.policy), degraded: true };
    }
    const ageMs = this.nowMs() - this.current.loadedAtMs;
    return { index: this.current.index, degraded: ageMs >= this.options.maxAgeMs, ageMs };
  }

  private async refresh(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`fleet registry did not answer within ${this.options.loadTimeoutMs} ms`)), this.options.loadTimeoutMs);
      });
      const appliances = await Promise.race([this.load(), timeout]);
      this.current = { index: FleetIndex.build(appliances, this.options.policy), loadedAtMs: this.nowMs() };
    } catch {
      this.nextAttemptAtMs = this.nowMs() + this.options.retryAfterMs;
    } finally {
      clearTimeout(timer);
    }
  }
}
