import { ManifestError, SegmentIndex, timeline, VideoRendition } from './manifest';

/**
 * The HLS a Nearstream title is packaged as (RFC 8216, VOD): a multivariant playlist of
 * `EXT-X-STREAM-INF` variants with an optional `EXT-X-MEDIA` audio group, and fMP4 media
 * playlists with `EXT-X-MAP`, `EXTINF` and `EXT-X-ENDLIST`. URIs resolve against the playlist's
 * own URL (a signed query string on it is not carried over to what it names).
 */

export interface HlsVariant extends VideoRendition {
  /** The variant's media playlist; also its `id`. */
  readonly uri: string;
  readonly audioGroup?: string;
}

export interface HlsMultivariant {
  /** Video variants, lowest bandwidth first. */
  readonly variants: readonly HlsVariant[];
  /** The audio rendition the variants name: the group's DEFAULT=YES member, else its first. */
  readonly audioUri?: string;
}

/** RFC 6381 sample entries of video codecs; a variant whose CODECS has none is audio only. */
const VIDEO_CODECS = /\b(avc[13]|hvc1|hev1|av01|vp09|dvh[1e])\./;

/** `KEY=value,KEY="quoted, value"` into a record. */
function attributeList(list: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const match of list.matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) {
    attributes[match[1]] = match[2].replace(/^"(.*)"$/, '$1');
  }
  return attributes;
}

function playlistLines(text: string, url: string): string[] {
  const lines = text.split(/\r?\n/).map((line) => line.trim());
  if (lines[0] !== '#EXTM3U') {
    throw new ManifestError(url, 'is not an HLS playlist: the first line must be #EXTM3U');
  }
  return lines;
}

function resolve(uri: string, base: string): string {
  return new URL(uri, base).href;
}

export function parseMultivariantPlaylist(text: string, url: string): HlsMultivariant {
  const lines = playlistLines(text, url);
  const variants: HlsVariant[] = [];
  const audio: { uri: string; groupId: string; isDefault: boolean }[] = [];
  lines.forEach((line, index) => {
    const tag = /^#(EXT-X-STREAM-INF|EXT-X-MEDIA):(.*)$/.exec(line);
    if (!tag) {
      return;
    }
    const attributes = attributeList(tag[2]);
    if (tag[1] === 'EXT-X-MEDIA') {
      if (attributes.TYPE === 'AUDIO' && attributes.URI) {
        audio.push({ uri: resolve(attributes.URI, url), groupId: attributes['GROUP-ID'] ?? '', isDefault: attributes.DEFAULT === 'YES' });
      }
      return;
    }
    const uri = lines.slice(index + 1).find((next) => next !== '' && !next.startsWith('#'));
    const bandwidth = Number(attributes.BANDWIDTH);
    if (!uri) {
      throw new ManifestError(url, `the EXT-X-STREAM-INF on line ${index + 1} is followed by no URI`);
    }
    if (!Number.isInteger(bandwidth) || bandwidth <= 0) {
      throw new ManifestError(url, `the EXT-X-STREAM-INF on line ${index + 1} needs a positive whole BANDWIDTH (got '${attributes.BANDWIDTH ?? ''}')`);
    }
    const resolution = /^(\d+)x(\d+)$/.exec(attributes.RESOLUTION ?? '');
    if (!resolution && VIDEO_CODECS.test(attributes.CODECS ?? '')) {
      throw new ManifestError(url, `the EXT-X-STREAM-INF on line ${index + 1} carries video (CODECS="${attributes.CODECS}") but no RESOLUTION, which maxHeight and ABR need`);
    }
    if (resolution) {
      const absolute = resolve(uri, url);
      variants.push({
        id: absolute,
        uri: absolute,
        width: Number(resolution[1]),
        height: Number(resolution[2]),
        bandwidthBps: bandwidth,
        audioGroup: attributes.AUDIO,
      });
    }
  });
  if (variants.length === 0) {
    throw new ManifestError(url, 'lists no video variant: no EXT-X-STREAM-INF with a RESOLUTION (is it a media playlist?)');
  }
  variants.sort((a, b) => a.bandwidthBps - b.bandwidthBps);
  const group = audio.filter((entry) => entry.groupId === variants[0].audioGroup);
  return { variants, audioUri: (group.find((entry) => entry.isDefault) ?? group[0])?.uri };
}

export function parseMediaPlaylist(text: string, url: string): SegmentIndex {
  const lines = playlistLines(text, url);
  let initUrl: string | undefined;
  let pendingDuration: number | undefined;
  const entries: { url: string; durationSeconds: number }[] = [];
  lines.forEach((line, index) => {
    if (line.startsWith('#EXT-X-MAP:')) {
      const attributes = attributeList(line.slice('#EXT-X-MAP:'.length));
      if (!attributes.URI) {
        throw new ManifestError(url, `the EXT-X-MAP on line ${index + 1} has no URI`);
      }
      if (attributes.BYTERANGE) {
        throw new ManifestError(url, `the EXT-X-MAP on line ${index + 1} uses BYTERANGE, which this player does not fetch`);
      }
      initUrl = resolve(attributes.URI, url);
    } else if (line.startsWith('#EXT-X-BYTERANGE')) {
      throw new ManifestError(url, `line ${index + 1} uses EXT-X-BYTERANGE, which this player does not fetch`);
    } else if (line.startsWith('#EXTINF:')) {
      pendingDuration = Number(line.slice('#EXTINF:'.length).split(',')[0]);
      if (!Number.isFinite(pendingDuration) || pendingDuration <= 0) {
        throw new ManifestError(url, `the EXTINF on line ${index + 1} needs a positive duration (got '${line}')`);
      }
    } else if (line !== '' && !line.startsWith('#')) {
      if (pendingDuration === undefined) {
        throw new ManifestError(url, `the segment '${line}' on line ${index + 1} has no EXTINF before it`);
      }
      entries.push({ url: resolve(line, url), durationSeconds: pendingDuration });
      pendingDuration = undefined;
    }
  });
  if (!lines.includes('#EXT-X-ENDLIST')) {
    throw new ManifestError(url, 'has no EXT-X-ENDLIST: live playlists are not played, only VOD');
  }
  if (entries.length === 0) {
    throw new ManifestError(url, 'lists no media segment');
  }
  return { initUrl, segments: timeline(entries) };
}
