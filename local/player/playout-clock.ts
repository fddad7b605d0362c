/**
 * The virtual playhead. Once started it advances `speed` media seconds per wall second until it
 * reaches the end of the buffer; short of the title's end that is a stall, which lasts until the
 * buffer grows again. At an infinite speed nothing is simulated: the playhead waits at the start
 * while everything downloads as fast as the network allows, and the media plays out in no time at
 * the end (no stall is possible, and the whole download counts as buffer).
 */
export class PlayoutClock {
  private started = false;
  /** Where the playhead was at `anchorMs`. */
  private positionSeconds = 0;
  private anchorMs = 0;
  private bufferedEndSeconds = 0;
  private stallStartedMs?: number;

  constructor(
    readonly speed: number,
    /** Where playback ends: the title's end or the chosen maximum. */
    readonly endSeconds: number,
    private readonly nowMs: () => number,
  ) {
    if (!(speed > 0)) {
      throw new Error(`speed must be a positive number or Infinity (got ${speed})`);
    }
  }

  get isStarted(): boolean {
    return this.started;
  }

  start(): void {
    this.settle();
    this.started = true;
    this.anchorMs = this.nowMs();
  }

  /** Moves the playhead to now, noting when it ran into the end of the buffer. */
  private settle(): void {
    const now = this.nowMs();
    if (!this.started || this.stallStartedMs !== undefined || !Number.isFinite(this.speed)) {
      return;
    }
    const reached = this.positionSeconds + ((now - this.anchorMs) * this.speed) / 1000;
    const limit = Math.min(this.bufferedEndSeconds, this.endSeconds);
    if (reached >= limit) {
      if (limit < this.endSeconds) {
        this.stallStartedMs = this.anchorMs + ((limit - this.positionSeconds) * 1000) / this.speed;
      }
      this.positionSeconds = limit;
    } else {
      this.positionSeconds = reached;
    }
    this.anchorMs = now;
  }

  /** The playhead, in media seconds. */
  position(): number {
    this.settle();
    return this.positionSeconds;
  }

  /** Media seconds buffered ahead of the playhead. */
  bufferSeconds(): number {
    this.settle();
    return Math.max(0, this.bufferedEndSeconds - this.positionSeconds);
  }

  /**
   * The buffer now reaches `endSeconds` of media. When that ends a stall, returns where the
   * playhead stalled and for how many wall milliseconds.
   */
  extendBuffer(endSeconds: number): { atSeconds: number; stallMs: number } | undefined {
    this.settle();
    this.bufferedEndSeconds = Math.max(this.bufferedEndSeconds, endSeconds);
    if (this.stallStartedMs === undefined || this.bufferedEndSeconds <= this.positionSeconds) {
      return undefined;
    }
    const now = this.nowMs();
    const stall = { atSeconds: this.positionSeconds, stallMs: now - this.stallStartedMs };
    this.stallStartedMs = undefined;
    this.anchorMs = now;
    return stall;
  }

  /** Wall milliseconds until a buffer reaching `trackEndSeconds` holds no more than `levelSeconds` ahead of the playhead. */
  msUntilBufferAtMost(trackEndSeconds: number, levelSeconds: number): number {
    if (!this.started || !Number.isFinite(this.speed)) {
      return 0;
    }
    const excess = trackEndSeconds - this.position() - levelSeconds;
    return excess > 0 ? (excess * 1000) / this.speed : 0;
  }

  /** Wall milliseconds until the playhead reaches the end, the buffer holding everything up to it. */
  msUntilEnd(): number {
    if (!Number.isFinite(this.speed)) {
      return 0;
    }
    return ((this.endSeconds - this.position()) * 1000) / this.speed;
  }

  /** Plays out whatever is left at once: the end of an infinitely fast play. */
  finish(): void {
    this.settle();
    this.positionSeconds = Math.min(this.bufferedEndSeconds, this.endSeconds);
  }
}
