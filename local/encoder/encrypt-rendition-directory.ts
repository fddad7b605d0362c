import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseXml, XmlElement } from '../player/xml';
import { CbcsKey, describeTrack, encryptInitSegment, encryptMediaSegment, isProtectedSegment, TrackKind } from './cmaf-encrypt';
import { Mp4FormatError } from './iso-bmff';

/**
 * Encrypts, in place, every init and media segment of a directory the ffmpeg stand-in wrote,
 * representation by representation as its `index.mpd` lists them. Each file is replaced whole
 * (written beside it, then renamed), so a crash leaves every file either clear or encrypted, and
 * running it again finishes the job: protected files are recognised and left alone.
 */

export interface RepresentationInfo {
  readonly representationId: string;
  readonly kind: TrackKind;
  /** The MPD's codecs attribute: avc1.64001e, mp4a.40.2. */
  readonly codecs: string;
  /** Video only. */
  readonly width?: number;
  readonly height?: number;
  readonly initSegment: string;
  /** File names, in segment-number order. */
  readonly mediaSegments: readonly string[];
}

/** The key for one representation: audio and video, or SD and HD, may get different ones. */
export type KeysFor = (representation: RepresentationInfo) => CbcsKey | Promise<CbcsKey>;

export interface EncryptedRepresentation {
  readonly representationId: string;
  readonly kind: TrackKind;
  readonly width?: number;
  readonly height?: number;
  readonly kid: string;
  readonly initSegment: string;
  readonly mediaSegments: readonly string[];
  /** Files found already protected by an earlier run and left as they were. */
  readonly alreadyProtected: readonly string[];
}

export interface EncryptRenditionDirectoryOptions {
  /**
   * Whether each init segment's common 'pssh' lists every key id of the directory, not only its
   * own: a ClearKey player that builds its license request from the first init segment it meets
   * then asks for all the title's keys at once.
   * @default true
   */
  readonly psshListsAllKids?: boolean;
  /** @default 'index.mpd' */
  readonly mpdName?: string;
}

const TEMPLATE_IDENTIFIER = /\$(RepresentationID|Number|Time|Bandwidth)(%0(\d+)d)?\$|\$\$/g;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A SegmentTemplate `media` pattern as a regular expression over file names, numbered. */
function mediaPattern(template: string, representation: XmlElement): RegExp {
  let pattern = '';
  let last = 0;
  for (const match of template.matchAll(TEMPLATE_IDENTIFIER)) {
    pattern += escapeRegExp(template.slice(last, match.index));
    last = match.index + match[0].length;
    if (match[0] === '$$') {
      pattern += '\\$';
    } else if (match[1] === 'RepresentationID' || match[1] === 'Bandwidth') {
      pattern += escapeRegExp(representation.attributes[match[1] === 'RepresentationID' ? 'id' : 'bandwidth'] ?? '');
    } else {
      pattern += match[3] ? `(\\d{${Number(match[3])},})` : '(\\d+)';
    }
  }
  return new RegExp(`^${pattern}${escapeRegExp(template.slice(last))}$`);
}

function initName(template: string, representation: XmlElement): string {
  return template.replace(TEMPLATE_IDENTIFIER, (whole, name: string | undefined) => {
    if (whole === '$$') {
      return '$';
    }
    return representation.attributes[name === 'Bandwidth' ? 'bandwidth' : 'id'] ?? '';
  });
}

/** The representations of `index.mpd` with their files in `dir`. */
export function listRepresentations(dir: string, mpdName = 'index.mpd'): RepresentationInfo[] {
  const mpdFile = path.join(dir, mpdName);
  const mpd = parseXml(fs.readFileSync(mpdFile, 'utf8'));
  const files = fs.readdirSync(dir);
  const found: RepresentationInfo[] = [];
  for (const period of mpd.children.filter((element) => element.name === 'Period')) {
    for (const adaptationSet of period.children.filter((element) => element.name === 'AdaptationSet')) {
      for (const representation of adaptationSet.children.filter((element) => element.name === 'Representation')) {
        const id = representation.attributes.id;
        const where = `${mpdFile}: Representation id="${id ?? '?'}"`;
        const template = [representation, adaptationSet].map((element) => element.children.find((c) => c.name === 'SegmentTemplate')).find(Boolean);
        const type = adaptationSet.attributes.contentType ?? (representation.attributes.mimeType ?? adaptationSet.attributes.mimeType ?? '').split('/')[0];
        if (!id || !template?.attributes.initialization || !template.attributes.media) {
          throw new Mp4FormatError(`${where}: needs an id and a SegmentTemplate with initialization and media`);
        }
        if (type !== 'video' && type !== 'audio') {
          throw new Mp4FormatError(`${where}: content type "${type}" is neither video nor audio`);
        }
        const initSegment = initName(template.attributes.initialization, representation);
        if (!files.includes(initSegment)) {
          throw new Mp4FormatError(`${where}: its init segment ${initSegment} is not in ${dir}`);
        }
        const pattern = mediaPattern(template.attributes.media, representation);
        const mediaSegments = files
          .map((name) => ({ name, match: pattern.exec(name) }))
          .filter((entry) => entry.match)
          .sort((a, b) => Number(a.match![1] ?? 0) - Number(b.match![1] ?? 0))
          .map((entry) => entry.name);
        const width = Number(representation.attributes.width ?? adaptationSet.attributes.width);
        const height = Number(representation.attributes.height ?? adaptationSet.attributes.height);
        found.push({
          representationId: id,
          kind: type,
          codecs: representation.attributes.codecs ?? adaptationSet.attributes.codecs ?? '',
          ...(type === 'video' && width > 0 && height > 0 ? { width, height } : {}),
          initSegment,
          mediaSegments,
        });
      }
    }
  }
  return found;
}

/** Replaces `file` whole: a reader sees the old bytes or the new, never a part. */
export async function replaceFile(file: string, content: Buffer | string): Promise<void> {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    await fs.promises.writeFile(temporary, content);
    await fs.promises.rename(temporary, file);
  } catch (error) {
    await fs.promises.rm(temporary, { force: true });
    throw error;
  }
}

/**
 * Encrypts every representation of `dir` under the key `keysFor` gives it and reports which
 * representation got which key id. Manifests are left to `protectRenditionManifests`.
 */
export async function encryptRenditionDirectory(dir: string, keysFor: KeysFor, options: EncryptRenditionDirectoryOptions = {}): Promise<EncryptedRepresentation[]> {
  const representations = listRepresentations(dir, options.mpdName);
  const keys = new Map<string, CbcsKey>();
  for (const representation of representations) {
    keys.set(representation.representationId, await keysFor(representation));
  }
  const allKids = [...new Set([...keys.values()].map((key) => key.kid))];
  const report: EncryptedRepresentation[] = [];
  for (const representation of representations) {
    const key = keys.get(representation.representationId)!;
    const initFile = path.join(dir, representation.initSegment);
    const init = await fs.promises.readFile(initFile);
    const track = describeTrack(init, initFile);
    if (track.kind !== representation.kind) {
      throw new Mp4FormatError(`${initFile}: a ${track.kind} track, but the MPD lists representation ${representation.representationId} as ${representation.kind}`);
    }
    if (track.kid !== undefined && track.kid !== key.kid) {
      throw new Mp4FormatError(`${initFile}: already protected under key id ${track.kid}, not ${key.kid} as asked`);
    }
    const alreadyProtected: string[] = [];
    for (const name of representation.mediaSegments) {
      const file = path.join(dir, name);
      const segment = await fs.promises.readFile(file);
      if (isProtectedSegment(segment, file)) {
        alreadyProtected.push(name);
        continue;
      }
      await replaceFile(file, encryptMediaSegment(segment, track, key, file));
    }
    if (track.kid === undefined) {
      await replaceFile(initFile, encryptInitSegment(init, key, { source: initFile, psshKids: options.psshListsAllKids === false ? [key.kid] : allKids }));
    } else {
      alreadyProtected.push(representation.initSegment);
    }
    const { representationId, kind, width, height, initSegment, mediaSegments } = representation;
    report.push({ representationId, kind, width, height, kid: key.kid, initSegment, mediaSegments, alreadyProtected });
  }
  return report;
}
