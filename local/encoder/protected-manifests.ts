import * as fs from 'node:fs';
import * as path from 'node:path';
import { DRM_SYSTEMS, KID_PATTERN, kidToUuid } from '../../lambda/shared/content-protection';
import { EncryptedRepresentation, replaceFile } from './encrypt-rendition-directory';

/**
 * Manifests for 'cbcs' renditions as ClearKey players read them: an HLS `#EXT-X-KEY` per variant
 * playlist in the form hls.js 1.7 turns into an EME ClearKey key (METHOD=SAMPLE-AES for cbcs,
 * KEYFORMAT "org.w3.clearkey", the key id as the URI's data), and in the MPD each Representation's
 * default_KID with the mp4protection 'cbcs' and ClearKey ContentProtection descriptors.
 */

const CENC_NAMESPACE = 'urn:mpeg:cenc:2013';
const KEY_TAG = /^#EXT-X-KEY:.*\n/gm;

function checkKid(kid: string): void {
  if (!KID_PATTERN.test(kid)) {
    throw new TypeError(`key id "${kid}" is not 32 lowercase hex digits`);
  }
}

/**
 * The `#EXT-X-KEY` line hls.js needs for a ClearKey track: it reads the key id from the first 16
 * bytes of a base64 data URI (hls.js src/loader/level-key.ts, the default KEYFORMAT branch).
 */
export function hlsClearKeyTag(kid: string): string {
  checkKid(kid);
  const uri = `data:text/plain;base64,${Buffer.from(kid, 'hex').toString('base64')}`;
  return `#EXT-X-KEY:METHOD=SAMPLE-AES,URI="${uri}",KEYFORMAT="${DRM_SYSTEMS.clearkey.keySystem}",KEYFORMATVERSIONS="1"`;
}

/**
 * A variant (media) playlist with its track's ClearKey key tag before `#EXT-X-MAP`, replacing any
 * key tag it had. `kids` holds the one key id of that track: hls.js keeps one key per KEYFORMAT
 * for the segments that follow, and this packager never changes key within a playlist.
 */
export function addHlsKeyTags(playlistText: string, kids: readonly string[]): string {
  if (kids.length !== 1) {
    throw new TypeError(`a variant playlist carries one track under one key; got ${kids.length} key ids`);
  }
  const text = playlistText.replace(KEY_TAG, '');
  const lines = text.split('\n');
  const at = lines.findIndex((line) => line.startsWith('#EXT-X-MAP') || (line.length > 0 && !line.startsWith('#')));
  if (!lines[0]?.startsWith('#EXTM3U') || at < 0) {
    throw new TypeError('not an HLS media playlist: no #EXTM3U header, or neither #EXT-X-MAP nor a segment');
  }
  return [...lines.slice(0, at), hlsClearKeyTag(kids[0]), ...lines.slice(at)].join('\n');
}

/** The Representation children that must follow ContentProtection (ISO/IEC 23009-1 schema order). */
const AFTER_CONTENT_PROTECTION = /<(EssentialProperty|SupplementalProperty|InbandEventStream|Switching|RandomAccess|GroupLabel|Label|ProducerReferenceTime|ContentPopularityRate|Resync|BaseURL|SubRepresentation|SegmentBase|SegmentList|SegmentTemplate)\b|<\/Representation>/;

function contentProtection(kid: string, indent: string): string {
  return [
    `<ContentProtection schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="cbcs" cenc:default_KID="${kidToUuid(kid)}" />`,
    `<ContentProtection schemeIdUri="urn:uuid:${DRM_SYSTEMS.clearkey.systemId}" value="ClearKey1.0" />`,
  ]
    .map((line) => `${indent}${line}\n`)
    .join('');
}

/**
 * The MPD with each listed Representation's ContentProtection (mp4protection 'cbcs' with
 * cenc:default_KID, and ClearKey) and the cenc namespace; descriptors it had are replaced. Per
 * Representation rather than per AdaptationSet because SD and HD rungs of one set use different keys.
 */
export function addDashContentProtection(mpdText: string, kidsByRepresentation: Readonly<Record<string, string>>): string {
  Object.values(kidsByRepresentation).forEach(checkKid);
  const pending = new Set(Object.keys(kidsByRepresentation));
  let text = mpdText.replace(/[ \t]*<ContentProtection\b[^>]*?(\/>|>[\s\S]*?<\/ContentProtection>)\n?/g, '');
  if (!/<MPD\b[^>]*\bxmlns:cenc=/.test(text)) {
    text = text.replace(/<MPD\b/, `<MPD xmlns:cenc="${CENC_NAMESPACE}"`);
  }
  text = text.replace(/([ \t]*)(<Representation\b[^>]*>)([\s\S]*?)(?=<\/Representation>)/g, (whole, indent: string, open: string, body: string) => {
    const id = /\bid="([^"]*)"/.exec(open)?.[1];
    const kid = id === undefined ? undefined : kidsByRepresentation[id];
    if (kid === undefined) {
      return whole;
    }
    pending.delete(id!);
    const at = body.search(AFTER_CONTENT_PROTECTION);
    const insertAt = at < 0 ? body.length : body.lastIndexOf('\n', at) + 1;
    return `${indent}${open}${body.slice(0, insertAt)}${contentProtection(kid, `${indent}\t`)}${body.slice(insertAt)}`;
  });
  if (pending.size > 0) {
    throw new TypeError(`the MPD has no Representation with id ${[...pending].map((id) => `"${id}"`).join(', ')}`);
  }
  return text;
}

/**
 * Rewrites a rendition directory's manifests for the keys `encryptRenditionDirectory` reported:
 * `index.mpd`, and each `media_<RepresentationID>.m3u8` the ffmpeg DASH muxer writes.
 */
export async function protectRenditionManifests(dir: string, encrypted: readonly EncryptedRepresentation[], mpdName = 'index.mpd'): Promise<void> {
  const mpdFile = path.join(dir, mpdName);
  const kids = Object.fromEntries(encrypted.map((representation) => [representation.representationId, representation.kid]));
  await replaceFile(mpdFile, addDashContentProtection(await fs.promises.readFile(mpdFile, 'utf8'), kids));
  for (const representation of encrypted) {
    const playlist = path.join(dir, `media_${representation.representationId}.m3u8`);
    if (!fs.existsSync(playlist)) {
      throw new Error(`${playlist}: no variant playlist for representation ${representation.representationId}`);
    }
    await replaceFile(playlist, addHlsKeyTags(await fs.promises.readFile(playlist, 'utf8'), [representation.kid]));
  }
}
