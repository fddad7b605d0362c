import { CatalogTitle, Codec, Rendition } from '../catalog/catalog';

export type PlanName = 'basic' | 'standard' | 'premium';

export interface Plan {
  readonly name: PlanName;
  /** Tallest rendition the plan streams, in pixels. */
  readonly maxHeight: number;
  /** Streams the account may run at once. */
  readonly maxStreams: number;
}

export const PLANS: Readonly<Record<PlanName, Plan>> = {
  basic: { name: 'basic', maxHeight: 720, maxStreams: 1 },
  standard: { name: 'standard', maxHeight: 1080, maxStreams: 2 },
  premium: { name: 'premium', maxHeight: 2160, maxStreams: 4 },
};

export function isPlanName(name: unknown): name is PlanName {
  return typeof name === 'string' && Object.hasOwn(PLANS, name);
}

export interface Device {
  /** Codecs the device decodes, e.g. `['avc1', 'hvc1']`. */
  readonly codecs: readonly Codec[];
  /** Tallest picture the device shows, in pixels. */
  readonly maxHeight: number;
}

/** Most efficient first: the same picture for the fewest bytes. */
const CODEC_PREFERENCE: readonly Codec[] = ['av01', 'hvc1', 'avc1'];

export interface RenditionChoice {
  readonly codec: Codec;
  /** Ascending by bitrate. */
  readonly renditions: readonly Rendition[];
  /** The tallest picture the session may fetch: the smaller of plan and device. */
  readonly maxHeight: number;
}

/**
 * Picks the renditions a play may use: the most efficient codec that both the device decodes and
 * the title was encoded in, limited to the heights the plan and device allow. Undefined when no
 * rendition fits (a device below the ladder's lowest rung, or no common codec).
 */
export function chooseRenditions(title: CatalogTitle, device: Device, plan: Plan): RenditionChoice | undefined {
  const maxHeight = Math.min(device.maxHeight, plan.maxHeight);
  for (const codec of CODEC_PREFERENCE) {
    if (!device.codecs.includes(codec) || !title.manifests[codec]) {
      continue;
    }
    const renditions = title.renditions
      .filter((rendition) => rendition.codec === codec && rendition.height <= maxHeight)
      .sort((a, b) => a.bitrateKbps - b.bitrateKbps);
    if (renditions.length > 0) {
      return { codec, renditions, maxHeight };
    }
  }
  return undefined;
}
