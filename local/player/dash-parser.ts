import { ManifestError, SegmentIndex, SegmentRef, VideoRendition } from './manifest';
import { parseXml, XmlElement, XmlSyntaxError } from './xml';

/**
 * The DASH a Nearstream title is packaged as: a static, single-Period MPD whose AdaptationSets
 * address their Representations with a SegmentTemplate (on the Representation or inherited from
 * the AdaptationSet): `initialization` and `media` with `$RepresentationID$`, `$Number$`,
 * `$Bandwidth$` and `$Time$` (with `%0Nd` widths), `startNumber`, `timescale`, and either
 * `duration` over `mediaPresentationDuration` or a `SegmentTimeline`. BaseURLs chain from the MPD
 * down.
 */

export interface DashVideoRendition extends VideoRendition {
  readonly index: SegmentIndex;
}

export interface DashPresentation {
  /** Video Representations, lowest bandwidth first. */
  readonly video: readonly DashVideoRendition[];
  /** The first Representation of the first audio AdaptationSet. */
  readonly audio?: SegmentIndex;
}

/** `PT1H2M3.5S`, `P1DT2H` into seconds; undefined when it is not an ISO 8601 duration. */
export function isoDurationSeconds(value: string | undefined): number | undefined {
  const match = /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(value ?? '');
  if (!match || value === 'P' || value?.endsWith('T')) {
    return undefined;
  }
  const [, days, hours, minutes, seconds] = match.map((part) => Number(part ?? 0));
  return days * 86_400 + hours * 3_600 + minutes * 60 + seconds;
}

function childrenNamed(element: XmlElement, name: string): XmlElement[] {
  return element.children.filter((child) => child.name === name);
}

function withBaseUrl(element: XmlElement, base: string): string {
  const baseUrl = childrenNamed(element, 'BaseURL')[0]?.text;
  return baseUrl ? new URL(baseUrl, base).href : base;
}

/** `$Name$` or `$Name%05d$` filled in; `$$` is a dollar sign. */
function fillTemplate(template: string, values: Readonly<Record<string, string | number>>, where: () => string): string {
  return template.replace(/\$(\w*)(%0(\d+)d)?\$/g, (_, name: string, format: string | undefined, width: string | undefined) => {
    if (name === '') {
      return '$';
    }
    const value = values[name];
    if (value === undefined) {
      throw new Error(`${where()} uses $${name}$, which is not available here`);
    }
    return format ? String(value).padStart(Number(width), '0') : String(value);
  });
}

interface Template {
  readonly attributes: Readonly<Record<string, string>>;
  readonly timeline?: XmlElement;
}

function templateOf(adaptationSet: XmlElement, representation: XmlElement): Template | undefined {
  const inherited = childrenNamed(adaptationSet, 'SegmentTemplate')[0];
  const own = childrenNamed(representation, 'SegmentTemplate')[0];
  if (!inherited && !own) {
    return undefined;
  }
  const timeline = [own, inherited].map((template) => template && childrenNamed(template, 'SegmentTimeline')[0]).find(Boolean);
  return { attributes: { ...inherited?.attributes, ...own?.attributes }, timeline };
}

interface TimedNumber {
  readonly number: number;
  readonly time: number;
  readonly duration: number;
}

function timelineEntries(timeline: XmlElement, startNumber: number, periodEnd: number | undefined, fail: (problem: string) => never): TimedNumber[] {
  const entries: TimedNumber[] = [];
  let time = 0;
  for (const s of childrenNamed(timeline, 'S')) {
    const duration = Number(s.attributes.d);
    if (!(duration > 0)) {
      fail(`a SegmentTimeline S needs a positive d (got '${s.attributes.d ?? ''}')`);
    }
    time = s.attributes.t === undefined ? time : Number(s.attributes.t);
    let repeat = Number(s.attributes.r ?? 0);
    if (repeat < 0) {
      if (periodEnd === undefined) {
        fail('a SegmentTimeline S repeats to the end (r="-1") but the MPD has no mediaPresentationDuration');
      }
      repeat = Math.ceil((periodEnd - time) / duration) - 1;
    }
    for (let i = 0; i <= repeat; i++) {
      entries.push({ number: startNumber + entries.length, time, duration });
      time += duration;
    }
  }
  return entries;
}

function segmentIndex(
  template: Template,
  representation: XmlElement,
  base: string,
  durationSeconds: number | undefined,
  fail: (problem: string) => never,
): SegmentIndex {
  const { attributes } = template;
  const id = representation.attributes.id ?? '';
  const timescale = Number(attributes.timescale ?? 1);
  const startNumber = Number(attributes.startNumber ?? 1);
  if (!attributes.media) {
    fail(`the SegmentTemplate of Representation '${id}' has no media attribute`);
  }
  let entries: TimedNumber[];
  if (template.timeline) {
    entries = timelineEntries(template.timeline, startNumber, durationSeconds === undefined ? undefined : durationSeconds * timescale, fail);
  } else {
    const duration = Number(attributes.duration);
    if (!(duration > 0) || durationSeconds === undefined) {
      fail(`the SegmentTemplate of Representation '${id}' needs a SegmentTimeline, or a duration and the MPD's mediaPresentationDuration`);
    }
    const total = durationSeconds * timescale;
    const count = Math.ceil(total / duration - 1e-6);
    entries = Array.from({ length: count }, (_, i) => ({ number: startNumber + i, time: i * duration, duration: Math.min(duration, total - i * duration) }));
  }
  const bandwidth = representation.attributes.bandwidth ?? '';
  const fill = (which: string, value: string, number?: number, time?: number) => {
    try {
      return new URL(fillTemplate(value, { RepresentationID: id, Bandwidth: bandwidth, ...(number === undefined ? {} : { Number: number, Time: time! }) }, () => `the ${which} template '${value}'`), base).href;
    } catch (error) {
      return fail((error as Error).message);
    }
  };
  const segments: SegmentRef[] = entries.map((entry) => ({
    url: fill('media', attributes.media, entry.number, entry.time),
    startSeconds: entry.time / timescale,
    durationSeconds: entry.duration / timescale,
  }));
  if (segments.length === 0) {
    fail(`Representation '${id}' has no segments`);
  }
  return { initUrl: attributes.initialization ? fill('initialization', attributes.initialization) : undefined, segments };
}

function kindOf(adaptationSet: XmlElement): 'video' | 'audio' | 'other' {
  const first = childrenNamed(adaptationSet, 'Representation')[0];
  const contentType = adaptationSet.attributes.contentType ?? (adaptationSet.attributes.mimeType ?? first?.attributes.mimeType ?? '').split('/')[0];
  if (contentType === 'video' || contentType === 'audio') {
    return contentType;
  }
  return first?.attributes.height || adaptationSet.attributes.height ? 'video' : 'other';
}

export function parseMpd(text: string, url: string): DashPresentation {
  const fail = (problem: string): never => {
    throw new ManifestError(url, problem);
  };
  let mpd: XmlElement;
  try {
    mpd = parseXml(text);
  } catch (error) {
    return error instanceof XmlSyntaxError ? fail(`is not well-formed XML: ${error.message}`) : fail(String(error));
  }
  if (mpd.name !== 'MPD') {
    fail(`is not a DASH MPD: its root element is <${mpd.name}>`);
  }
  if (mpd.attributes.type === 'dynamic') {
    fail('is a live (type="dynamic") MPD: only static MPDs are played');
  }
  const periods = childrenNamed(mpd, 'Period');
  if (periods.length !== 1) {
    fail(`has ${periods.length} Periods: only single-Period MPDs are played`);
  }
  const [period] = periods;
  const durationSeconds = isoDurationSeconds(mpd.attributes.mediaPresentationDuration ?? period.attributes.duration);
  const periodBase = withBaseUrl(period, withBaseUrl(mpd, url));
  const video: DashVideoRendition[] = [];
  let audio: SegmentIndex | undefined;
  for (const adaptationSet of childrenNamed(period, 'AdaptationSet')) {
    const kind = kindOf(adaptationSet);
    const setBase = withBaseUrl(adaptationSet, periodBase);
    for (const representation of childrenNamed(adaptationSet, 'Representation')) {
      if (kind === 'other' || (kind === 'audio' && audio)) {
        continue;
      }
      const id = representation.attributes.id;
      const bandwidth = Number(representation.attributes.bandwidth);
      if (!id) {
        fail('a Representation has no id');
      }
      if (!Number.isInteger(bandwidth) || bandwidth <= 0) {
        fail(`Representation '${id}' needs a positive whole bandwidth (got '${representation.attributes.bandwidth ?? ''}')`);
      }
      const template = templateOf(adaptationSet, representation) ?? fail(`Representation '${id}' has no SegmentTemplate: only SegmentTemplate addressing is played`);
      const index = segmentIndex(template, representation, withBaseUrl(representation, setBase), durationSeconds, fail);
      if (kind === 'audio') {
        audio = index;
        continue;
      }
      const width = Number(representation.attributes.width ?? adaptationSet.attributes.width);
      const height = Number(representation.attributes.height ?? adaptationSet.attributes.height);
      if (!(width > 0) || !(height > 0)) {
        fail(`video Representation '${id}' needs a width and a height`);
      }
      video.push({ id, width, height, bandwidthBps: bandwidth, index });
    }
  }
  if (video.length === 0) {
    fail('has no video Representation');
  }
  return { video: video.sort((a, b) => a.bandwidthBps - b.bandwidthBps), audio };
}
