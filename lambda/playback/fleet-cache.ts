import { ApplianceView, FleetIndex, SteeringPolicy } from './steering';

export interface FleetSnapshot {
  readonly index: FleetIndex;
  /** True when the registry could not be read and this is an older snapshot, or none at all. */
  readonly degraded: boolean;
  /** Age of the snapshot in milliseconds; undefined when there has never been one. */
  readonly ageMs?: number;
}

export interface FleetCacheOptions {
  /** A snapshot older than this is refreshed in the background while plays go on using it. */
  readonly maxAgeMs: number;
  /**
   * A snapshot older than this is not used while a refresh may run: plays wait for the refresh
   * (a function that sat idle for long, whose background refresh could not run while frozen).
   * @default 6 × `maxAgeMs`
   */
  readonly maxStaleMs?: number;
  /** A registry read slower than this counts as failed. */
  readonly loadTimeoutMs: number;
  /** After a failed read, the registry is not asked again for this long. */
  readonly retryAfterMs: number;
  readonly policy: SteeringPolicy;
}

/**
 * Keeps the steering index of the fleet in the function's memory. Once the snapshot is older than
 * `maxAgeMs`, the next play starts one refresh in the background and goes on with the snapshot it
 * has (stale-while-revalidate); plays wait only when there is no snapshot yet or it is older than
 * `maxStaleMs`. When the registry is slow or failing, plays go on with the last good snapshot,
 * marked degraded, rather than failing.
 */
export class FleetCache {
  private current?: { index: FleetIndex; loadedAtMs: number };
  private lastRefreshFailed = false;
  private nextAttemptAtMs = 0;
  private inFlight?: Promise<void>;
  private readonly maxStaleMs: number;

  constructor(
    private readonly load: () => Promise<readonly ApplianceView[]>,
    private readonly options: FleetCacheOptions,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.maxStaleMs = options.maxStaleMs ?? 6 * options.maxAgeMs;
  }

  async snapshot(): Promise<FleetSnapshot> {
    const now = this.nowMs();
    const ageMs = this.current ? now - this.current.loadedAtMs : Infinity;
    if (ageMs >= this.options.maxAgeMs && now >= this.nextAttemptAtMs) {
      this.inFlight ??= this.refresh().finally(() => (this.inFlight = undefined));
    }
    if (this.inFlight && ageMs >= this.maxStaleMs) {
      await this.inFlight;
    }
    if (!this.current) {
      return { index: FleetIndex.build([], this.options.policy), degraded: true };
    }
    return { index: this.current.index, degraded: this.lastRefreshFailed, ageMs: this.nowMs() - this.current.loadedAtMs };
  }

  private async refresh(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`fleet registry did not answer within ${this.options.loadTimeoutMs} ms`)), this.options.loadTimeoutMs);
      });
      const appliances = await Promise.race([this.load(), timeout]);
      this.current = { index: FleetIndex.build(appliances, this.options.policy), loadedAtMs: this.nowMs() };
      this.lastRefreshFailed = false;
    } catch {
      this.lastRefreshFailed = true;
      this.nextAttemptAtMs = this.nowMs() + this.options.retryAfterMs;
    } finally {
      clearTimeout(timer);
    }
  }
}
