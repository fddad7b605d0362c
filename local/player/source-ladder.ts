import { fetchBody, FetchError } from './http-fetch';
import { ManifestError, SegmentRef, VideoRendition } from './manifest';
import { loadPresentation, Presentation, StreamingProtocol, Track } from './presentation';

/** One place to play the title from, as ranked by steering. */
export interface PlayableSource {
  /** The appliance's id, or `origin`. */
  readonly label: string;
  readonly tier: 'appliance' | 'origin';
  readonly manifestUrl: string;
  /** Sent with every request to the source: the origin tier's signed cookies. */
  readonly headers: Readonly<Record<string, string>>;
}

export interface Failover {
  /** The segment (0-based) the player was after when it moved on. */
  readonly atSegment: number;
  readonly track: Track;
  readonly from: string;
  readonly to: string;
  readonly reason: string;
}

/** Every source failed for one segment: the play cannot go on. */
export class SourcesExhaustedError extends Error {}

export interface FetchedSegment {
  readonly source: string;
  readonly segment: SegmentRef;
  /** The video rendition fetched: the one asked for, or the nearest the source has. */
  readonly rendition?: VideoRendition;
  /** The renditions of the source that served it. */
  readonly ladder: readonly VideoRendition[];
  readonly bytes: number;
  readonly ms: number;
  /** The segment's bytes. */
  readonly body: Buffer;
  /** The init segment it follows, when the rendition has one. */
  readonly init?: Buffer;
}

interface SourceState {
  readonly source: PlayableSource;
  presentation?: Presentation;
  /** Which rendition's init segment each track last fetched from this source, and its bytes. */
  readonly initFetched: Map<Track, { readonly renditionId: string; readonly body: Buffer }>;
}

/** The source's rendition of the same picture size, else the tallest below it, else its lowest. */
function matchRendition(renditions: readonly VideoRendition[], wanted: VideoRendition | undefined): VideoRendition {
  if (!wanted) {
    return renditions[0];
  }
  const same = renditions.find((rendition) => rendition.height === wanted.height && rendition.width === wanted.width);
  const below = renditions.filter((rendition) => rendition.height <= wanted.height).pop();
  return same ?? below ?? renditions[0];
}

/**
 * The ranked sources of one play, best first, and the one in use. A failed request (an HTTP
 * error, a connection error, a timeout, a manifest that cannot be played) moves the play down to
 * the next source for good, which then serves the same segment of the same rendition: its
 * manifests and init segment are fetched first. Every move is recorded.
 */
export class SourceLadder {
  readonly failovers: Failover[] = [];
  private readonly states: SourceState[];
  private active = 0;

  constructor(
    sources: readonly PlayableSource[],
    private readonly protocol: StreamingProtocol,
    private readonly timeoutMs: number,
    private readonly onFailover: (failover: Failover) => void,
  ) {
    this.states = sources.map((source) => ({ source, initFetched: new Map() }));
  }

  /** The renditions and whether there is audio, from the first source whose manifest loads. */
  presentation(): Promise<Presentation> {
    return this.attempt('the manifest', 0, 'video', (state) => this.load(state));
  }

  /** A track's segments, from the source in use. */
  segments(track: Track, rendition?: VideoRendition): Promise<readonly SegmentRef[]> {
    return this.attempt(`the ${track} segment list`, 0, track, async (state) => {
      const presentation = await this.load(state);
      return (await presentation.segments(track, matchRendition(presentation.video, rendition).id)).segments;
    });
  }

  /** Segment `index` (0-based) of a track, with failover; video at `rendition` or the source's nearest. */
  fetchSegment(track: Track, index: number, rendition?: VideoRendition): Promise<FetchedSegment> {
    return this.attempt(`${track} segment ${index}`, index, track, async (state) => {
      const presentation = await this.load(state);
      const chosen = track === 'video' ? matchRendition(presentation.video, rendition) : undefined;
      const renditionId = chosen?.id ?? 'audio';
      if (track === 'audio' && !presentation.hasAudio) {
        throw new ManifestError(state.source.manifestUrl, 'offers no audio track');
      }
      const segmentIndex = await presentation.segments(track, renditionId);
      const segment = segmentIndex.segments[index];
      if (!segment) {
        throw new ManifestError(state.source.manifestUrl, `lists ${segmentIndex.segments.length} ${track} segments, not segment ${index}`);
      }
      if (segmentIndex.initUrl && state.initFetched.get(track)?.renditionId !== renditionId) {
        state.initFetched.set(track, { renditionId, body: (await this.get(state, segmentIndex.initUrl)).body });
      }
      const { body, ms } = await this.get(state, segment.url);
      const init = segmentIndex.initUrl ? state.initFetched.get(track)!.body : undefined;
      return { source: state.source.label, segment, rendition: chosen, ladder: presentation.video, bytes: body.length, ms, body, ...(init ? { init } : {}) };
    });
  }

  private get(state: SourceState, url: string) {
    return fetchBody(url, { timeoutMs: this.timeoutMs, headers: state.source.headers });
  }

  private async load(state: SourceState): Promise<Presentation> {
    state.presentation ??= await loadPresentation(this.protocol, state.source.manifestUrl, async (url) => (await this.get(state, url)).body.toString('utf8'));
    return state.presentation;
  }

  private async attempt<T>(what: string, atSegment: number, track: Track, operation: (state: SourceState) => Promise<T>): Promise<T> {
    const reasons: string[] = [];
    while (this.active < this.states.length) {
      const state = this.states[this.active];
      try {
        return await operation(state);
      } catch (error) {
        if (!(error instanceof FetchError || error instanceof ManifestError)) {
          throw error;
        }
        reasons.push(`${state.source.label}: ${error.message}`);
        this.active++;
        const next = this.states[this.active];
        if (next) {
          const failover = { atSegment, track, from: state.source.label, to: next.source.label, reason: error.message };
          this.failovers.push(failover);
          this.onFailover(failover);
        }
      }
    }
    throw new SourcesExhaustedError(`${what} failed on every source: ${reasons.join('; ')}`);
  }
}
