import { AbrInputs, capLadder, decideRendition, DEFAULT_ABR_SETTINGS, initialIndex, ThroughputEstimator } from '../../local/player/abr';
import { VideoRendition } from '../../local/player/manifest';
import { PlayoutClock } from '../../local/player/playout-clock';

const LADDER: VideoRendition[] = [
  { id: '234', width: 416, height: 234, bandwidthBps: 370_000 },
  { id: '360', width: 640, height: 360, bandwidthBps: 700_000 },
  { id: '540', width: 960, height: 540, bandwidthBps: 2_400_000 },
  { id: '720', width: 1280, height: 720, bandwidthBps: 3_100_000 },
];

const inputs = (overrides: Partial<AbrInputs>): AbrInputs => ({
  ladder: LADDER,
  currentIndex: 0,
  estimateBps: 10_000_000,
  bufferSeconds: 20,
  nextSegmentSeconds: 6,
  segmentsSinceSwitch: 5,
  ...overrides,
});

describe('the throughput estimator', () => {
  it('believes one slow segment over a burst of fast small ones', () => {
    const estimator = new ThroughputEstimator(DEFAULT_ABR_SETTINGS);
    for (let i = 0; i < 10; i++) {
      estimator.sample(700_000, 3); // ~1.9 Gbit/s over loopback
    }
    estimator.sample(700_000, 2_800); // 2 Mbit/s

    expect(estimator.estimateBps()).toBeGreaterThan(1_900_000);
    expect(estimator.estimateBps()).toBeLessThan(2_200_000);
  });

  it('ignores downloads too small to measure anything but latency, and starts from the initial estimate', () => {
    const estimator = new ThroughputEstimator(DEFAULT_ABR_SETTINGS, 1_500_000);
    estimator.sample(500, 40);
    expect(estimator.estimateBps()).toBe(1_500_000);
  });

  it('is slow to believe a rise after a drop: the slower average holds it down', () => {
    const estimator = new ThroughputEstimator(DEFAULT_ABR_SETTINGS);
    estimator.sample(1_000_000, 4_000); // 2 Mbit/s for 4 s
    estimator.sample(1_000_000, 1_000); // 8 Mbit/s for 1 s
    expect(estimator.estimateBps()).toBeLessThan(3_500_000);
  });
});

describe('the ABR decision', () => {
  it('climbs straight to the highest rung below 80% of the estimate once the buffer and the hold allow', () => {
    expect(decideRendition(inputs({ estimateBps: 3_500_000 }), DEFAULT_ABR_SETTINGS)).toEqual({ index: 2, reason: 'throughput' });
  });

  it('does not climb within two segments of the last switch, nor on a thin buffer', () => {
    expect(decideRendition(inputs({ segmentsSinceSwitch: 1 }), DEFAULT_ABR_SETTINGS)).toEqual({ index: 0 });
    expect(decideRendition(inputs({ bufferSeconds: 8 }), DEFAULT_ABR_SETTINGS)).toEqual({ index: 0 });
  });

  it('steps down at once, hold or not, when the estimate falls below the current bitrate', () => {
    expect(decideRendition(inputs({ currentIndex: 3, estimateBps: 1_000_000, segmentsSinceSwitch: 0 }), DEFAULT_ABR_SETTINGS)).toEqual({ index: 1, reason: 'throughput' });
  });

  it('steps down for the buffer when the next segment would take longer to fetch than the buffer lasts', () => {
    // 720p: 3.1 Mbit/s x 6 s at 4 Mbit/s is 4.65 s of fetching against 3 s of buffer; 360p takes 1.05 s.
    expect(decideRendition(inputs({ currentIndex: 3, estimateBps: 4_000_000, bufferSeconds: 3 }), DEFAULT_ABR_SETTINGS)).toEqual({ index: 1, reason: 'buffer' });
  });

  it('holds its rung while the estimate wanders between its bitrate and the up-switch margin above it', () => {
    let currentIndex = 2;
    for (let i = 0; i < 40; i++) {
      // 2.43 to 2.97 Mbit/s: 540p (2.4 Mbit/s) is sustainable, 720p (3.1 Mbit/s) not with the margin.
      currentIndex = decideRendition(inputs({ currentIndex, estimateBps: 2_700_000 * (1 + 0.1 * Math.sin(i)), segmentsSinceSwitch: 10 + i }), DEFAULT_ABR_SETTINGS).index;
      expect(currentIndex).toBe(2);
    }
  });

  it('starts from the lowest rung, or from what an initial estimate affords, within the device\'s maxHeight', () => {
    const capped = capLadder(LADDER, 540);
    expect(capped.map((rendition) => rendition.height)).toEqual([234, 360, 540]);
    expect(capLadder(LADDER, 144).map((rendition) => rendition.height)).toEqual([234]);
    expect(initialIndex(capped, undefined, DEFAULT_ABR_SETTINGS)).toBe(0);
    expect(initialIndex(capped, 1_000_000, DEFAULT_ABR_SETTINGS)).toBe(1);
    expect(initialIndex(capped, 100_000_000, DEFAULT_ABR_SETTINGS)).toBe(2);
  });
});

describe('the playout clock', () => {
  function clockAt(speed: number, endSeconds: number) {
    let nowMs = 0;
    const clock = new PlayoutClock(speed, endSeconds, () => nowMs);
    return { clock, advance: (ms: number) => (nowMs += ms) };
  }

  it('plays speed media seconds per wall second and stalls where the buffer ends, for as long as the next segment takes', () => {
    const { clock, advance } = clockAt(2, 30);
    clock.extendBuffer(6);
    clock.start();
    advance(1_000);
    expect(clock.position()).toBe(2);
    expect(clock.bufferSeconds()).toBe(4);
    advance(3_000); // the playhead reached 6 s after 2 s of wall time, then waited 1 s
    const stall = clock.extendBuffer(12);
    expect(stall).toEqual({ atSeconds: 6, stallMs: 1_000 });
    advance(500);
    expect(clock.position()).toBe(7);
  });

  it('does not count reaching the end of the title as a stall', () => {
    const { clock, advance } = clockAt(1, 6);
    clock.extendBuffer(6);
    clock.start();
    advance(10_000);
    expect(clock.extendBuffer(6)).toBeUndefined();
    expect(clock.position()).toBe(6);
    expect(clock.msUntilEnd()).toBe(0);
  });

  it('says how long to wait before the buffer is down to a level', () => {
    const { clock } = clockAt(4, 60);
    clock.extendBuffer(30);
    clock.start();
    expect(clock.msUntilBufferAtMost(30, 24)).toBe(1_500);
    expect(clock.msUntilBufferAtMost(30, 40)).toBe(0);
  });

  it('at infinite speed never waits nor stalls, and plays out everything at the end', () => {
    const { clock, advance } = clockAt(Number.POSITIVE_INFINITY, 30);
    clock.extendBuffer(6);
    clock.start();
    advance(60_000);
    expect(clock.extendBuffer(12)).toBeUndefined();
    expect(clock.msUntilBufferAtMost(12, 0)).toBe(0);
    expect(clock.bufferSeconds()).toBe(12);
    clock.extendBuffer(30);
    clock.finish();
    expect(clock.position()).toBe(30);
  });
});
