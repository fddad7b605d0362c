import { printableUrl } from './http-fetch';

/** A manifest that cannot be played: the message names its URL and the rule it broke. */
export class ManifestError extends Error {
  constructor(url: string, problem: string) {
    super(`${printableUrl(url)}: ${problem}`);
    this.name = 'ManifestError';
  }
}

/** One media segment, its URL resolved against the manifest that names it. */
export interface SegmentRef {
  readonly url: string;
  readonly startSeconds: number;
  readonly durationSeconds: number;
}

/** A rendition's init segment and media segments, in presentation order. */
export interface SegmentIndex {
  readonly initUrl?: string;
  readonly segments: readonly SegmentRef[];
}

/** A video rendition as a manifest advertises it; the ladder ABR climbs. */
export interface VideoRendition {
  /** Unique within its manifest: the HLS media playlist URL or the DASH Representation id. */
  readonly id: string;
  readonly width: number;
  readonly height: number;
  readonly bandwidthBps: number;
}

/** Consecutive segments from their durations, starting at 0 s. */
export function timeline(entries: readonly { url: string; durationSeconds: number }[]): SegmentRef[] {
  let startSeconds = 0;
  return entries.map(({ url, durationSeconds }) => {
    const segment = { url, startSeconds, durationSeconds };
    startSeconds += durationSeconds;
    return segment;
  });
}
