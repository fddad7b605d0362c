import { parseMpd } from './dash-parser';
import { parseMediaPlaylist, parseMultivariantPlaylist } from './hls-parser';
import { SegmentIndex, VideoRendition } from './manifest';

export type StreamingProtocol = 'hls' | 'dash';
export type Track = 'video' | 'audio';

/** What one source offers for a title, the same whichever protocol it was read from. */
export interface Presentation {
  /** Lowest bandwidth first. */
  readonly video: readonly VideoRendition[];
  readonly hasAudio: boolean;
  /** A video rendition's segments (by its id), or the audio's; HLS reads media playlists on first use. */
  segments(track: Track, renditionId: string): Promise<SegmentIndex>;
}

/** Reads a manifest's body; the source decides headers and timeouts. */
export type ManifestReader = (url: string) => Promise<string>;

async function hlsPresentation(url: string, read: ManifestReader): Promise<Presentation> {
  const multivariant = parseMultivariantPlaylist(await read(url), url);
  const mediaPlaylists = new Map<string, SegmentIndex>();
  const mediaPlaylist = async (playlistUrl: string) => {
    const known = mediaPlaylists.get(playlistUrl);
    if (known) {
      return known;
    }
    const index = parseMediaPlaylist(await read(playlistUrl), playlistUrl);
    mediaPlaylists.set(playlistUrl, index);
    return index;
  };
  return {
    video: multivariant.variants,
    hasAudio: multivariant.audioUri !== undefined,
    segments: (track, renditionId) => mediaPlaylist(track === 'audio' ? multivariant.audioUri! : renditionId),
  };
}

async function dashPresentation(url: string, read: ManifestReader): Promise<Presentation> {
  const mpd = parseMpd(await read(url), url);
  const byId = new Map(mpd.video.map((rendition) => [rendition.id, rendition.index]));
  return {
    video: mpd.video.map(({ id, width, height, bandwidthBps }) => ({ id, width, height, bandwidthBps })),
    hasAudio: mpd.audio !== undefined,
    segments: async (track, renditionId) => (track === 'audio' ? mpd.audio! : byId.get(renditionId)!),
  };
}

export function loadPresentation(protocol: StreamingProtocol, url: string, read: ManifestReader): Promise<Presentation> {
  return protocol === 'hls' ? hlsPresentation(url, read) : dashPresentation(url, read);
}
