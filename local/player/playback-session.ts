import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { AbrSettings, capLadder, decideRendition, initialIndex, ThroughputEstimator } from './abr';
import { SegmentRef, VideoRendition } from './manifest';
import { PlayerProgressEvent, RebufferRecord, RenditionSummary, SegmentRecord, SwitchRecord } from './play-report';
import { PlayoutClock } from './playout-clock';
import { StreamingProtocol, Track } from './presentation';
import { FetchedSegment, PlayableSource, SourceLadder } from './source-ladder';
import { TelemetryClient } from './telemetry-client';
import type { ProtectedSegment } from './clearkey-session';

export interface StreamSettings {
  readonly protocol: StreamingProtocol;
  readonly maxHeight: number;
  readonly speed: number;
  readonly maxSeconds: number;
  readonly bufferTargetSeconds: number;
  readonly segmentTimeoutMs: number;
  readonly abr: AbrSettings;
}

export interface StreamHooks {
  readonly onEvent: (event: PlayerProgressEvent) => void;
  readonly telemetry: TelemetryClient;
  /** Wall milliseconds since the play began (before `/play`). */
  readonly sinceStartMs: () => number;
  /**
   * Gets segments ready to play: a protected play gets their keys here. The segments a play starts
   * with (its first video and audio) come together once both are fetched, just before playback
   * starts, so that their keys are asked for in one license request; later segments come one at a
   * time, before they count as buffered. @default - none
   */
  readonly prepareSegments?: (segments: readonly ProtectedSegment[]) => Promise<void>;
}

function summarize(rendition: VideoRendition): RenditionSummary {
  return { width: rendition.width, height: rendition.height, bitrateKbps: Math.round(rendition.bandwidthBps / 1000) };
}

/** Which segments of each track the play needs, and where playback ends. */
interface PlayPlan {
  readonly video: readonly SegmentRef[];
  readonly audio: readonly SegmentRef[];
  readonly endSeconds: number;
}

/**
 * One granted play from its ranked sources: segment by segment, video and audio interleaved by
 * whichever is buffered less, under the buffer target, the ABR picking each video segment's
 * rendition, the playout clock counting stalls, and telemetry for start, switches, stalls and
 * source failures.
 */
export class PlaybackSession {
  readonly segments: SegmentRecord[] = [];
  readonly switches: SwitchRecord[] = [];
  readonly stalls: RebufferRecord[] = [];
  readonly sources: SourceLadder;
  readonly estimator: ThroughputEstimator;
  timeToFirstSegmentMs?: number;
  private clock?: PlayoutClock;
  private ladder: VideoRendition[] = [];
  private currentIndex = 0;
  private segmentsSinceSwitch = Number.POSITIVE_INFINITY;

  constructor(
    sources: readonly PlayableSource[],
    private readonly settings: StreamSettings,
    private readonly hooks: StreamHooks,
  ) {
    this.estimator = new ThroughputEstimator(settings.abr, settings.abr.initialEstimateKbps === undefined ? undefined : settings.abr.initialEstimateKbps * 1000);
    this.sources = new SourceLadder(sources, settings.protocol, settings.segmentTimeoutMs, (failover) => {
      hooks.onEvent({ type: 'failover', failover });
      hooks.telemetry.send('error', { fatal: false, code: 'source-failed', positionSeconds: this.position() });
    });
  }

  /** The playhead, in media seconds. */
  position(): number {
    return this.clock?.position() ?? 0;
  }

  currentBitrateKbps(): number | undefined {
    const rendition = this.ladder[this.currentIndex];
    return rendition && rendition.bandwidthBps / 1000;
  }

  async run(): Promise<void> {
    const plan = await this.plan();
    const clock = new PlayoutClock(this.settings.speed, plan.endSeconds, () => performance.now());
    this.clock = clock;
    const next: Record<Track, number> = { video: 0, audio: 0 };
    const bufferedEnd: Record<Track, number> = { video: 0, audio: plan.audio.length > 0 ? 0 : Number.POSITIVE_INFINITY };
    const remaining = (track: Track) => next[track] < plan[track].length;
    // Fetched before playback starts, and prepared together at the start.
    const startingSegments: ProtectedSegment[] = [];
    while (remaining('video') || remaining('audio')) {
      const track: Track = remaining('video') && (!remaining('audio') || bufferedEnd.video <= bufferedEnd.audio) ? 'video' : 'audio';
      const planned = plan[track][next[track]];
      await sleep(clock.msUntilBufferAtMost(bufferedEnd[track], Math.max(0, this.settings.bufferTargetSeconds - planned.durationSeconds)));
      if (track === 'video' && next.video > 0) {
        this.adapt(next.video, planned);
      }
      const fetched = await this.sources.fetchSegment(track, next[track], track === 'video' ? this.ladder[this.currentIndex] : undefined);
      const fetchedSegment: ProtectedSegment = { track, index: next[track], body: fetched.body, ...(fetched.init ? { init: fetched.init } : {}) };
      if (clock.isStarted) {
        await this.hooks.prepareSegments?.([fetchedSegment]);
      } else {
        startingSegments.push(fetchedSegment);
      }
      const segment = this.record(track, next[track], fetched);
      next[track]++;
      bufferedEnd[track] = remaining(track) ? fetched.segment.startSeconds + fetched.segment.durationSeconds : Number.POSITIVE_INFINITY;
      const stall = clock.extendBuffer(Math.min(bufferedEnd.video, bufferedEnd.audio, plan.endSeconds));
      this.hooks.onEvent({ type: 'segment', segment, bufferSeconds: round(clock.bufferSeconds(), 3) });
      if (stall) {
        this.stalled({ atMediaSeconds: round(stall.atSeconds, 3), ms: Math.round(stall.stallMs) });
      }
      if (!clock.isStarted && next.video > 0 && (plan.audio.length === 0 || next.audio > 0)) {
        await this.hooks.prepareSegments?.(startingSegments.splice(0));
        this.started(clock, fetched.source);
      }
    }
    if (Number.isFinite(clock.speed)) {
      await sleep(clock.msUntilEnd());
    } else {
      clock.finish();
    }
  }

  private async plan(): Promise<PlayPlan> {
    const presentation = await this.sources.presentation();
    this.ladder = capLadder(presentation.video, this.settings.maxHeight);
    this.currentIndex = initialIndex(this.ladder, this.mediaEstimateBps(), this.settings.abr);
    const video = (await this.sources.segments('video', this.ladder[this.currentIndex])).filter((segment) => segment.startSeconds < this.settings.maxSeconds);
    const last = video[video.length - 1];
    const endSeconds = Math.min(this.settings.maxSeconds, last.startSeconds + last.durationSeconds);
    const audio = presentation.hasAudio ? (await this.sources.segments('audio')).filter((segment) => segment.startSeconds < endSeconds) : [];
    return { video, audio, endSeconds };
  }

  /**
   * The throughput estimate in bits per second of media: at speed N the buffer drains N times as
   * fast, so a rung is sustainable only under a 1/N share of the network. An infinitely fast play
   * is judged as if in real time, nothing draining its buffer.
   */
  private mediaEstimateBps(): number | undefined {
    const networkBps = this.estimator.estimateBps();
    return networkBps === undefined || !Number.isFinite(this.settings.speed) ? networkBps : networkBps / this.settings.speed;
  }

  private adapt(index: number, planned: SegmentRef): void {
    const estimateBps = this.mediaEstimateBps();
    const bufferSeconds = this.clock!.bufferSeconds();
    const decision = decideRendition(
      { ladder: this.ladder, currentIndex: this.currentIndex, estimateBps, bufferSeconds, nextSegmentSeconds: planned.durationSeconds, segmentsSinceSwitch: this.segmentsSinceSwitch },
      this.settings.abr,
    );
    if (!decision.reason) {
      return;
    }
    const record: SwitchRecord = {
      segmentIndex: index,
      atMediaSeconds: round(planned.startSeconds, 3),
      from: summarize(this.ladder[this.currentIndex]),
      to: summarize(this.ladder[decision.index]),
      reason: decision.reason,
      estimateKbps: Math.round(estimateBps! / 1000),
      bufferSeconds: round(bufferSeconds, 3),
    };
    this.currentIndex = decision.index;
    this.segmentsSinceSwitch = 0;
    this.switches.push(record);
    this.hooks.onEvent({ type: 'switch', switch: record });
    this.hooks.telemetry.send('bitrate-switch', { positionSeconds: this.position(), bitrateKbps: record.to.bitrateKbps });
  }

  private record(track: Track, index: number, fetched: FetchedSegment): SegmentRecord {
    this.estimator.sample(fetched.bytes, fetched.ms);
    if (track === 'video') {
      // After a failover the new source's ladder counts, and the rendition it had nearest.
      this.ladder = capLadder(fetched.ladder, this.settings.maxHeight);
      this.currentIndex = Math.max(0, this.ladder.findIndex((rendition) => rendition.id === fetched.rendition!.id));
      this.segmentsSinceSwitch++;
    }
    const segment: SegmentRecord = {
      index,
      track,
      height: track === 'video' ? fetched.rendition!.height : 0,
      source: fetched.source,
      bytes: fetched.bytes,
      ms: round(fetched.ms, 1),
    };
    this.segments.push(segment);
    return segment;
  }

  private stalled(stall: RebufferRecord): void {
    this.stalls.push(stall);
    this.hooks.onEvent({ type: 'rebuffer', rebuffer: stall });
    this.hooks.telemetry.send('rebuffer', { positionSeconds: stall.atMediaSeconds, bitrateKbps: this.currentBitrateKbps() });
  }

  private started(clock: PlayoutClock, source: string): void {
    clock.start();
    this.timeToFirstSegmentMs = Math.round(this.hooks.sinceStartMs());
    this.hooks.onEvent({ type: 'first-segment', timeToFirstSegmentMs: this.timeToFirstSegmentMs, rendition: summarize(this.ladder[this.currentIndex]), source });
    this.hooks.telemetry.send('start', { positionSeconds: 0, bitrateKbps: this.currentBitrateKbps() });
  }
}

export function round(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}
