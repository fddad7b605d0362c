import { FleetIndex, SteeringPolicy } from './steering';

export interface FleetSnapshot {
  readonly index: FleetIndex;
  /**
   * True when the last read of the steering snapshot failed, or the snapshot is older than
   * `staleAfterMs` (its builder has stopped), or there has never been one.
   */
  readonly degraded: boolean;
  /** How old the fleet data is, in milliseconds, from when the snapshot was built; undefined when there has never been one. */
  readonly ageMs?: number;
}

/** A freshly read fleet: its index and when the data behind it was read from the registry. */
export interface LoadedFleet {
  readonly index: FleetIndex;
  readonly builtAtMs: number;
}

export interface FleetCacheOptions {
  /** A snapshot checked longer ago than this is checked again in the background while plays go on using it. */
  readonly maxAgeMs: number;
  /**
   * A snapshot checked longer ago than this is not used while a check may run: plays wait for it
   * (a function that sat idle for long, whose background check could not run while frozen).
   * @default 6 × `maxAgeMs`
   */
  readonly maxStaleMs?: number;
  /**
   * Fleet data older than this (its builder has stopped) is still used, marked degraded.
   * @default 60 s
   */
  readonly staleAfterMs?: number;
  /** A read slower than this counts as failed. */
  readonly loadTimeoutMs: number;
  /** After a failed read, the source is not asked again for this long. */
  readonly retryAfterMs: number;
  readonly policy: SteeringPolicy;
}

/**
 * Keeps the steering index of the fleet in the function's memory. Once it was checked longer ago
 * than `maxAgeMs`, the next play starts one check in the background (`load`: a conditional
 * read that hands back the index it has when the snapshot did not change) and goes on with the index
 * it has (stale-while-revalidate); plays wait only when there is none yet or it was checked longer
 * ago than `maxStaleMs`. When the source is slow or failing, or its data stops advancing, plays go
 * on with the last good index, marked degraded, rather than failing.
 */
export class FleetCache {
  private current?: LoadedFleet & { checkedAtMs: number };
  private lastRefreshFailed = false;
  private nextAttemptAtMs = 0;
  private inFlight?: Promise<void>;
  private readonly maxStaleMs: number;
  private readonly staleAfterMs: number;

  constructor(
    private readonly load: () => Promise<LoadedFleet>,
    private readonly options: FleetCacheOptions,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.maxStaleMs = options.maxStaleMs ?? 6 * options.maxAgeMs;
    this.staleAfterMs = options.staleAfterMs ?? 60_000;
  }

  async snapshot(): Promise<FleetSnapshot> {
    const now = this.nowMs();
    const sinceCheckMs = this.current ? now - this.current.checkedAtMs : Infinity;
    if (sinceCheckMs >= this.options.maxAgeMs && now >= this.nextAttemptAtMs) {
      this.inFlight ??= this.refresh().finally(() => (this.inFlight = undefined));
    }
    if (this.inFlight && sinceCheckMs >= this.maxStaleMs) {
      await this.inFlight;
    }
    if (!this.current) {
      return { index: FleetIndex.build([], this.options.policy), degraded: true };
    }
    const ageMs = this.nowMs() - this.current.builtAtMs;
    return { index: this.current.index, degraded: this.lastRefreshFailed || ageMs > this.staleAfterMs, ageMs };
  }

  private async refresh(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the fleet snapshot was not read within ${this.options.loadTimeoutMs} ms`)), this.options.loadTimeoutMs);
      });
      const loaded = await Promise.race([this.load(), timeout]);
      this.current = { ...loaded, checkedAtMs: this.nowMs() };
      this.lastRefreshFailed = false;
    } catch {
      this.lastRefreshFailed = true;
      this.nextAttemptAtMs = this.nowMs() + this.options.retryAfterMs;
    } finally {
      clearTimeout(timer);
    }
  }
}
