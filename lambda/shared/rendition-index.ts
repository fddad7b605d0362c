import { dashRepresentations, hlsRenditionHeights, localPath, NO_PICTURE } from './rendition-manifests';

/**
 * A file name pattern: literal text, and between literals the fewest digits a `$Number$`,
 * `$Time$` or `$SubNumber$` stands for. `['index_3_', 5, '.m4s']` matches `index_3_00042.m4s`.
 */
export type FilePattern = readonly (string | number)[];

/**
 * Every rendition of a codec directory with the files its manifests name: what the edge checks a
 * request against without reading, let alone parsing, a manifest. The encoding writes it beside
 * the manifests as `renditions.json`; a `height` of null is a video rendition whose manifest
 * states none, taller than any cap.
 */
export interface RenditionIndex {
  readonly version: 1;
  readonly renditions: readonly { readonly height: number | null; readonly files: readonly FilePattern[] }[];
}

export const RENDITION_INDEX_FILE = 'renditions.json';

/** A DASH URL template with the representation's id and bandwidth filled in, as a pattern. */
function templatePattern(template: string, id: string, bandwidth: string): FilePattern | undefined {
  const path = localPath(template);
  const parts = path?.split('$') ?? [];
  if (parts.length % 2 === 0) {
    return undefined;
  }
  const pattern: (string | number)[] = [];
  const push = (part: string | number) => {
    if (typeof part === 'string' && typeof pattern.at(-1) === 'string') {
      pattern[pattern.length - 1] += part;
    } else if (part !== '') {
      pattern.push(part);
    }
  };
  for (const [index, part] of parts.entries()) {
    const identifier = index % 2 === 1 ? /^(RepresentationID|Number|Time|Bandwidth|SubNumber|)(?:%0(\d+)[dxX])?$/.exec(part) : undefined;
    if (index % 2 === 0) {
      push(part);
    } else if (!identifier) {
      return undefined;
    } else if (['Number', 'Time', 'SubNumber'].includes(identifier[1])) {
      push(Number(identifier[2] ?? 1));
    } else {
      push(identifier[1] === '' ? '$' : identifier[1] === 'RepresentationID' ? id : bandwidth.padStart(Number(identifier[2] ?? 1), '0'));
    }
  }
  return pattern;
}

/** Does the file name fit the pattern? */
export function patternMatches(pattern: FilePattern, path: string, index = 0, at = 0): boolean {
  if (index === pattern.length) {
    return at === path.length;
  }
  const part = pattern[index];
  if (typeof part === 'string') {
    return path.startsWith(part, at) && patternMatches(pattern, path, index + 1, at + part.length);
  }
  let digits = 0;
  while (at + digits < path.length && path[at + digits] >= '0' && path[at + digits] <= '9') {
    digits++;
  }
  for (let take = digits; take >= part; take--) {
    if (patternMatches(pattern, path, index + 1, at + take)) {
      return true;
    }
  }
  return false;
}

/** The index of a codec directory's renditions, from its multivariant playlist and MPD. */
export function renditionIndex(manifests: { readonly hls: string; readonly dash: string }): RenditionIndex {
  const finite = (height: number) => (Number.isFinite(height) ? height : null);
  return {
    version: 1,
    renditions: [
      ...[...hlsRenditionHeights(manifests.hls)].map(([path, height]) => ({ height: finite(height), files: [[path]] })),
      ...dashRepresentations(manifests.dash).map((representation) => ({
        height: finite(representation.height),
        files: representation.templates
          .map((template) => templatePattern(template, representation.id, representation.bandwidth))
          .filter((pattern): pattern is FilePattern => pattern !== undefined),
      })),
    ],
  };
}

/**
 * The height of the rendition a file below the codec directory belongs to, or undefined when no
 * manifest names it. A file two renditions name is as tall as the taller.
 */
export function indexHeightOf(index: RenditionIndex, path: string): number | undefined {
  const heights = index.renditions
    .filter((rendition) => rendition.files.some((pattern) => patternMatches(pattern, path)))
    .map((rendition) => rendition.height ?? Number.POSITIVE_INFINITY);
  return heights.length > 0 ? Math.max(...heights) : undefined;
}

/** `indexHeightOf` straight from the manifests. */
export function renditionHeightOf(path: string, manifests: { readonly hls: string; readonly dash: string }): number | undefined {
  return indexHeightOf(renditionIndex(manifests), path);
}

/** The distinct heights of a codec directory's pictures, lowest first: one capped manifest pair each. */
export function pictureHeights(index: RenditionIndex): number[] {
  const heights = index.renditions.map((rendition) => rendition.height);
  return [...new Set(heights.filter((height): height is number => height !== null && height > NO_PICTURE))].sort((a, b) => a - b);
}
