import { VideoRendition } from './manifest';

/**
 * Adaptive bitrate: which video rendition to fetch next, from a throughput estimate and the
 * buffer level, without oscillating. Down-switches happen at once when the estimate or the
 * buffer requires; up-switches need headroom (a margin under the estimate), buffer, and a few
 * segments since the last switch.
 */

export interface AbrSettings {
  /**
   * Half-lives of the two throughput estimates, in seconds of download time; the lower estimate
   * counts, so a drop is seen at once and a rise is believed slowly (as hls.js and Shaka do).
   * @default 3 and 9
   */
  readonly fastHalfLifeSeconds: number;
  readonly slowHalfLifeSeconds: number;
  /** A rung is climbed to only when its bitrate is below this share of the estimate. @default 0.8 */
  readonly upSwitchMargin: number;
  /** Up-switches wait this many segments after the last switch. @default 2 */
  readonly minSegmentsBetweenUpSwitches: number;
  /**
   * Up-switches need at least this much media buffered when the next segment is due: keep it
   * below the buffer target less a segment, or the ABR never climbs. @default 10
   */
  readonly upSwitchMinBufferSeconds: number;
  /** @default - none: the first segment comes from the lowest rung */
  readonly initialEstimateKbps?: number;
}

export const DEFAULT_ABR_SETTINGS: AbrSettings = {
  fastHalfLifeSeconds: 3,
  slowHalfLifeSeconds: 9,
  upSwitchMargin: 0.8,
  minSegmentsBetweenUpSwitches: 2,
  upSwitchMinBufferSeconds: 10,
};

/** An exponentially weighted moving average whose samples weigh what they are given, corrected for its zero start. */
class WeightedEwma {
  private readonly alpha: number;
  private average = 0;
  private totalWeight = 0;

  constructor(halfLife: number) {
    this.alpha = Math.exp(Math.log(0.5) / halfLife);
  }

  sample(weight: number, value: number): void {
    const kept = this.alpha ** weight;
    this.average = value * (1 - kept) + kept * this.average;
    this.totalWeight += weight;
  }

  value(): number {
    return this.average / (1 - this.alpha ** this.totalWeight);
  }
}

/** Downloads smaller than this say more about latency than throughput and are not sampled (as in Shaka). */
export const MIN_SAMPLE_BYTES = 16_000;

/**
 * Throughput from downloads. Each download is one sample weighted by how long it took, and the
 * averages are kept over time per bit rather than bits per second: one slow segment then weighs
 * what it cost, instead of being drowned by a burst of fast small ones (on loopback those run at
 * gigabits per second).
 */
export class ThroughputEstimator {
  private readonly fast: WeightedEwma;
  private readonly slow: WeightedEwma;
  private samples = 0;

  constructor(
    settings: Pick<AbrSettings, 'fastHalfLifeSeconds' | 'slowHalfLifeSeconds'>,
    private readonly initialBps?: number,
  ) {
    this.fast = new WeightedEwma(settings.fastHalfLifeSeconds);
    this.slow = new WeightedEwma(settings.slowHalfLifeSeconds);
  }

  sample(bytes: number, ms: number): void {
    if (bytes < MIN_SAMPLE_BYTES) {
      return;
    }
    const seconds = Math.max(ms, 0.1) / 1000;
    const secondsPerBit = seconds / (bytes * 8);
    this.fast.sample(seconds, secondsPerBit);
    this.slow.sample(seconds, secondsPerBit);
    this.samples++;
  }

  /** Bits per second; undefined before the first sample when no initial estimate was given. */
  estimateBps(): number | undefined {
    if (this.samples === 0) {
      return this.initialBps;
    }
    return 1 / Math.max(this.fast.value(), this.slow.value());
  }
}

export type SwitchReason = 'throughput' | 'buffer';

export interface AbrInputs {
  /** The renditions allowed, lowest bandwidth first. */
  readonly ladder: readonly VideoRendition[];
  readonly currentIndex: number;
  /** Bits per second of media time: the network's throughput divided by the playback speed. */
  readonly estimateBps: number | undefined;
  readonly bufferSeconds: number;
  readonly nextSegmentSeconds: number;
  readonly segmentsSinceSwitch: number;
}

export interface AbrDecision {
  readonly index: number;
  /** Set when `index` differs from the current one. */
  readonly reason?: SwitchReason;
}

function highestIndex(ladder: readonly VideoRendition[], fits: (rendition: VideoRendition) => boolean): number {
  for (let index = ladder.length - 1; index > 0; index--) {
    if (fits(ladder[index])) {
      return index;
    }
  }
  return 0;
}

/** The renditions no taller than `maxHeight`, or the lowest alone when none is. */
export function capLadder(renditions: readonly VideoRendition[], maxHeight: number): VideoRendition[] {
  const sorted = [...renditions].sort((a, b) => a.bandwidthBps - b.bandwidthBps);
  const fitting = sorted.filter((rendition) => rendition.height <= maxHeight);
  return fitting.length > 0 ? fitting : sorted.slice(0, 1);
}

/** The first rung: the highest the initial estimate affords with the margin, else the lowest. */
export function initialIndex(ladder: readonly VideoRendition[], estimateBps: number | undefined, settings: AbrSettings): number {
  return estimateBps === undefined ? 0 : highestIndex(ladder, (rendition) => rendition.bandwidthBps < settings.upSwitchMargin * estimateBps);
}

export function decideRendition(inputs: AbrInputs, settings: AbrSettings): AbrDecision {
  const { ladder, currentIndex, estimateBps, bufferSeconds, nextSegmentSeconds } = inputs;
  if (estimateBps === undefined) {
    return { index: currentIndex };
  }
  const affordable = (rendition: VideoRendition) => rendition.bandwidthBps < settings.upSwitchMargin * estimateBps;
  const fetchSeconds = (rendition: VideoRendition) => (rendition.bandwidthBps * nextSegmentSeconds) / estimateBps;
  const to = (index: number, reason: SwitchReason): AbrDecision => (index === currentIndex ? { index } : { index, reason });
  const current = ladder[currentIndex];
  if (current.bandwidthBps > estimateBps) {
    return to(highestIndex(ladder, affordable), 'throughput');
  }
  if (fetchSeconds(current) > bufferSeconds) {
    return to(highestIndex(ladder.slice(0, currentIndex), (rendition) => fetchSeconds(rendition) <= bufferSeconds), 'buffer');
  }
  const climbing = inputs.segmentsSinceSwitch >= settings.minSegmentsBetweenUpSwitches && bufferSeconds >= settings.upSwitchMinBufferSeconds;
  return climbing ? to(Math.max(currentIndex, highestIndex(ladder, affordable)), 'throughput') : { index: currentIndex };
}
