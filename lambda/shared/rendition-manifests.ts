/**
 * Which rendition a title's file belongs to, read from the codec directory's own manifests, and
 * the same manifests cut down to a height. This is the rule both serving tiers hold a token's or a
 * policy's `maxHeight` to:
 *
 * - the appliances' edge (`appliance-image/nginx/renditions.js`, the same rules in njs, held to
 *   the same vectors by tests) cuts `index.m3u8` and `index.mpd` per request and refuses any other
 *   file whose rendition is taller than the token allows, or that no manifest lists;
 * - the encoding writes, beside the manifests, the rendition index the edge judges segment requests
 *   by (`rendition-index.ts`), and the manifests cut at every picture height
 *   (`cappedManifestPath`), which the origin tier serves because CloudFront cannot cut a body.
 *
 * A codec directory `titles/<titleId>/<codec>/` holds the multivariant HLS playlist `index.m3u8`,
 * the DASH MPD `index.mpd`, and what they name. A rendition's height is the RESOLUTION of its
 * `EXT-X-STREAM-INF` or `EXT-X-I-FRAME-STREAM-INF`, or the `height` of its DASH Representation
 * (or AdaptationSet). Audio and subtitles have no picture: height 0. Video whose height a manifest
 * does not give counts as infinitely tall, so a capped viewer never gets it.
 */

/** The height of a rendition without a picture: audio, subtitles. */
export const NO_PICTURE = 0;

/**
 * Where the origin tier keeps a manifest cut at `height`: beside it, so that its relative URIs
 * still resolve, as `index.cap<height>.m3u8` (or `.mpd`).
 */
export function cappedManifestPath(manifestPath: string, height: number): string {
  return manifestPath.replace(/(\.[^./]+)$/, `.cap${height}$1`);
}

// ---------------------------------------------------------------- HLS

interface HlsEntry {
  /** The URI as written, relative to the codec directory; undefined for a rendition without one. */
  readonly uri?: string;
  readonly height: number;
  /** The manifest's line numbers that describe this rendition. */
  readonly lines: readonly number[];
}

function hlsAttributes(list: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const match of list.matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) {
    attributes[match[1]] = match[2].replace(/^"(.*)"$/, '$1');
  }
  return attributes;
}

function resolutionHeight(attributes: Record<string, string>): number {
  const resolution = /^\d+x(\d+)$/.exec(attributes.RESOLUTION ?? '');
  return resolution ? Number(resolution[1]) : Number.POSITIVE_INFINITY;
}

function hlsEntries(lines: readonly string[]): HlsEntry[] {
  const entries: HlsEntry[] = [];
  lines.forEach((raw, index) => {
    const line = raw.trim();
    const tag = /^#(EXT-X-STREAM-INF|EXT-X-I-FRAME-STREAM-INF|EXT-X-MEDIA):(.*)$/.exec(line);
    if (!tag) {
      return;
    }
    const attributes = hlsAttributes(tag[2]);
    if (tag[1] === 'EXT-X-STREAM-INF') {
      let next = index + 1;
      while (next < lines.length && (lines[next].trim() === '' || lines[next].trim().startsWith('#'))) {
        next++;
      }
      entries.push({ uri: lines[next]?.trim(), height: resolutionHeight(attributes), lines: next < lines.length ? [index, next] : [index] });
    } else if (tag[1] === 'EXT-X-I-FRAME-STREAM-INF') {
      entries.push({ uri: attributes.URI, height: resolutionHeight(attributes), lines: [index] });
    } else {
      const pictureless = ['AUDIO', 'SUBTITLES', 'CLOSED-CAPTIONS'].includes(attributes.TYPE);
      entries.push({ uri: attributes.URI, height: pictureless ? NO_PICTURE : Number.POSITIVE_INFINITY, lines: [index] });
    }
  });
  return entries;
}

/** The path below the codec directory a manifest URI names, or undefined for one elsewhere. */
export function localPath(uri: string | undefined): string | undefined {
  if (!uri || /^[A-Za-z][A-Za-z0-9+.-]*:/.test(uri) || uri.startsWith('/')) {
    return undefined;
  }
  const path = uri.replace(/[?#].*$/, '').replace(/^(\.\/)+/, '');
  return path.split('/').some((part) => part === '..' || part === '.' || part === '') ? undefined : path;
}

/** Every playlist the multivariant playlist names, by its path below the codec directory, with its height. */
export function hlsRenditionHeights(multivariant: string): ReadonlyMap<string, number> {
  const heights = new Map<string, number>();
  for (const entry of hlsEntries(multivariant.split('\n'))) {
    const path = localPath(entry.uri);
    if (path !== undefined) {
      heights.set(path, Math.max(heights.get(path) ?? NO_PICTURE, entry.height));
    }
  }
  return heights;
}

/** The multivariant playlist without the renditions taller than `maxHeight`. */
export function capHls(multivariant: string, maxHeight: number): string {
  const lines = multivariant.split('\n');
  const dropped = new Set(hlsEntries(lines).filter((entry) => entry.height > maxHeight).flatMap((entry) => entry.lines));
  return lines.filter((_, index) => !dropped.has(index)).join('\n');
}

// ---------------------------------------------------------------- DASH
// A scanner, not an XML parser, the same as the edge's (njs has no fast one): tags are found by
// '<' and '>' (the encoders write no '>' inside an attribute value), attributes by '=' and their
// quotes; comments are skipped.

interface DashElement {
  readonly name: string;
  readonly attributes: Record<string, string>;
  /** Offsets of the opening tag, and of the whole element once closed. */
  readonly openStart: number;
  readonly openEnd: number;
  end: number;
  readonly parent?: DashElement;
  template?: Record<string, string>;
  readonly files: string[];
  readonly children: DashElement[];
}

export interface DashRepresentation {
  readonly id: string;
  readonly bandwidth: string;
  readonly height: number;
  readonly width?: number;
  /** Its URL templates and file URLs, as written. */
  readonly templates: readonly string[];
}

const withoutPrefix = (name: string) => name.slice(name.indexOf(':') + 1);

function xmlAttributes(text: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  let at = 0;
  for (;;) {
    const equals = text.indexOf('=', at);
    if (equals === -1) {
      return attributes;
    }
    let open = equals + 1;
    while (open < text.length && ' \t\r\n'.includes(text[open])) {
      open++;
    }
    const quote = text[open];
    const close = quote === '"' || quote === "'" ? text.indexOf(quote, open + 1) : -1;
    if (close === -1) {
      return attributes;
    }
    attributes[withoutPrefix(text.slice(at, equals).trim())] = text.slice(open + 1, close).split('&amp;').join('&');
    at = close + 1;
  }
}

function dashElements(text: string): DashElement[] {
  const all: DashElement[] = [];
  const open: DashElement[] = [];
  let at = 0;
  for (;;) {
    const start = text.indexOf('<', at);
    if (start === -1) {
      return all;
    }
    if (text.startsWith('<!--', start)) {
      const commentEnd = text.indexOf('-->', start + 4);
      at = commentEnd === -1 ? text.length : commentEnd + 3;
      continue;
    }
    const end = text.indexOf('>', start);
    if (end === -1) {
      return all;
    }
    at = end + 1;
    const closing = text[start + 1] === '/';
    const nameStart = closing ? start + 2 : start + 1;
    if (text[nameStart] === '?' || text[nameStart] === '!') {
      continue;
    }
    let nameEnd = nameStart;
    while (nameEnd < end && !' \t\r\n/'.includes(text[nameEnd])) {
      nameEnd++;
    }
    const name = withoutPrefix(text.slice(nameStart, nameEnd));
    if (closing) {
      const index = open.map((element) => element.name).lastIndexOf(name);
      open.splice(index < 0 ? open.length : index).forEach((element) => (element.end = end + 1));
      continue;
    }
    const selfClosing = text[end - 1] === '/';
    const parent = open.at(-1);
    const element: DashElement = {
      name,
      attributes: xmlAttributes(text.slice(nameEnd, selfClosing ? end - 1 : end)),
      openStart: start,
      openEnd: end + 1,
      end: end + 1,
      parent,
      files: [],
      children: [],
    };
    parent?.children.push(element);
    all.push(element);
    const owner = [...open].reverse().find((candidate) => candidate.name === 'Representation' || candidate.name === 'AdaptationSet');
    if (name === 'SegmentTemplate' && owner) {
      owner.template = { ...owner.template, ...element.attributes };
    } else if (['SegmentURL', 'Initialization', 'RepresentationIndex'].includes(name) && owner) {
      owner.files.push(...['media', 'index', 'sourceURL'].map((field) => element.attributes[field]).filter((value): value is string => !!value));
    }
    if (!selfClosing) {
      open.push(element);
    }
  }
}

/** A representation's height: as stated, none for sound and text, beyond any cap for unstated video. */
function heightOf(stated: string | undefined, kind: string): number {
  if (stated !== undefined && !Number.isNaN(Number(stated))) {
    return Number(stated);
  }
  return kind.startsWith('audio') || kind.startsWith('text') ? NO_PICTURE : Number.POSITIVE_INFINITY;
}

function representationOf(element: DashElement): DashRepresentation {
  const set = element.parent?.name === 'AdaptationSet' ? element.parent : undefined;
  const attribute = (name: string) => element.attributes[name] ?? set?.attributes[name];
  const template = { ...set?.template, ...element.template };
  return {
    id: element.attributes.id ?? '',
    bandwidth: element.attributes.bandwidth ?? '',
    height: heightOf(attribute('height'), attribute('mimeType') ?? set?.attributes.contentType ?? ''),
    width: Number(attribute('width')) || undefined,
    templates: [template.initialization, template.media, template.index, ...(set?.files ?? []), ...element.files].filter((value): value is string => !!value),
  };
}

/** Every Representation of the MPD, with its height and the files it names. */
export function dashRepresentations(mpd: string): DashRepresentation[] {
  return dashElements(mpd)
    .filter((element) => element.name === 'Representation')
    .map(representationOf);
}

function stripComments(mpd: string): string {
  return mpd.replace(/^[ \t]*<!--[\s\S]*?-->[ \t]*\r?\n/gm, '').replace(/<!--[\s\S]*?-->/g, '');
}

/** Widens a span to the whole lines it sits on, so removing it leaves no blank line behind. */
function wholeLines(text: string, start: number, end: number): [number, number] {
  let from = start;
  while (from > 0 && (text[from - 1] === ' ' || text[from - 1] === '\t')) {
    from--;
  }
  const newline = /^[ \t]*\r?\n/.exec(text.slice(end));
  return newline && (from === 0 || text[from - 1] === '\n') ? [from, end + newline[0].length] : [start, end];
}

/**
 * The MPD without the Representations taller than `maxHeight`, without any AdaptationSet left
 * empty, and without comments (one could describe what was cut); an AdaptationSet's
 * `maxHeight`/`maxWidth` are lowered to what it still offers.
 */
export function capDash(mpd: string, maxHeight: number): string {
  const text = stripComments(mpd);
  const edits: { start: number; end: number; replacement: string }[] = [];
  for (const set of dashElements(text).filter((element) => element.name === 'AdaptationSet')) {
    const representations = set.children.filter((child) => child.name === 'Representation');
    const kept = representations.filter((element) => representationOf(element).height <= maxHeight);
    if (kept.length === representations.length) {
      continue;
    }
    if (kept.length === 0) {
      const [start, end] = wholeLines(text, set.openStart, set.end);
      edits.push({ start, end, replacement: '' });
      continue;
    }
    const tallest = (field: 'height' | 'width') => Math.max(...kept.map((element) => representationOf(element)[field] ?? 0));
    const opening = text
      .slice(set.openStart, set.openEnd)
      .replace(/(\smaxHeight\s*=\s*)(["'])\d+\2/, (_, name: string, quote: string) => `${name}${quote}${tallest('height')}${quote}`)
      .replace(/(\smaxWidth\s*=\s*)(["'])\d+\2/, (_, name: string, quote: string) => `${name}${quote}${tallest('width')}${quote}`);
    edits.push({ start: set.openStart, end: set.openEnd, replacement: opening });
    for (const element of representations.filter((candidate) => !kept.includes(candidate))) {
      const [start, end] = wholeLines(text, element.openStart, element.end);
      edits.push({ start, end, replacement: '' });
    }
  }
  return edits
    .sort((a, b) => b.start - a.start)
    .reduce((result, edit) => result.slice(0, edit.start) + edit.replacement + result.slice(edit.end), text);
}
