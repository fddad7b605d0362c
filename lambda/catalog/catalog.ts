import type { DrmSystem, KeyGroup } from '../shared/content-protection';
import type { InventoryRecord } from '../shared/title-inventory';

/**
 * The catalog entry of one title: the one shape the encoding workflow writes and playback reads.
 * Paths are keys in the origin bucket, relative to its root, e.g. `titles/<titleId>/avc1/index.m3u8`.
 */
export const CODECS = ['avc1', 'hvc1', 'av01'] as const;
export type Codec = (typeof CODECS)[number];

export type TitleStatus = 'processing' | 'available' | 'failed';

export interface Rendition {
  readonly codec: Codec;
  readonly width: number;
  readonly height: number;
  readonly bitrateKbps: number;
  readonly bytes: number;
}

export interface CodecManifests {
  readonly hls: string;
  readonly dash: string;
  /**
   * The picture heights the manifests were also written cut at, for the origin tier
   * (`cappedManifestPath`): none for a title encoded before they were.
   */
  readonly cappedHeights?: readonly number[];
}

/** The codec directory a title's manifests live in, `titles/<titleId>/<codec>/`, with its slash. */
export function codecDirectory(manifests: CodecManifests): string {
  return manifests.hls.slice(0, manifests.hls.lastIndexOf('/') + 1);
}

/** How a title was encoded, and what it cost: written by the encoding workflow. */
export interface EncodingRecord {
  /** `fixed`: the reference ladder; `automated`: MediaConvert Automated ABR for AVC and HEVC. */
  readonly ladder: 'fixed' | 'automated';
  readonly source: { readonly bucket: string; readonly key: string; readonly versionId?: string; readonly bytes: number };
  /** From probing the upload; the fixed ladder never exceeds it. */
  readonly sourceHeight?: number;
  /** MediaConvert jobs by kind. The title is available once all are COMPLETE. */
  readonly jobs: Readonly<Record<string, { readonly jobId?: string; readonly status: 'SUBMITTED' | 'COMPLETE' | 'ERROR' }>>;
  /** Bytes the reference fixed ladder would take for the same codecs, heights and duration. */
  readonly referenceBytes?: number;
  readonly producedBytes?: number;
  /** 1 - produced / reference, in percent: what per-title encoding saved. */
  readonly savingsPercent?: number;
  /** Minutes x renditions x the configured per-minute rates. */
  readonly estimatedCostUsd?: number;
  /** Why the title failed, for operators. */
  readonly failureReason?: string;
  /** The title's `inventory.json`, written before the title became available. */
  readonly inventory?: InventoryRecord;
}

/**
 * How a protected title's renditions are encrypted: the common-encryption scheme and the key id of
 * each key group (SPEKE v2 PRESET-VIDEO-6 / PRESET-AUDIO-1) its renditions were packaged under.
 * Licenses grant a session only the key ids of the groups its renditions fall in.
 */
export interface TitleProtection {
  /** `cbcs` (AES-CBC pattern: FairPlay, and every other system since) or `cenc` (AES-CTR). */
  readonly scheme: 'cbcs' | 'cenc';
  /** One per key group the title uses; `kid` as 32 lowercase hex digits. */
  readonly keys: readonly { readonly group: KeyGroup; readonly kid: string }[];
  /**
   * The DRM systems its manifests signal: only these can play it, whatever license services
   * are configured.
   * @default ['clearkey']
   */
  readonly systems?: readonly DrmSystem[];
}

/** The DRM systems a protected title's manifests signal (`systems`, ClearKey when it names none). */
export function packagedSystems(protection: TitleProtection): readonly DrmSystem[] {
  return protection.systems ?? ['clearkey'];
}

export interface CatalogTitle {
  readonly titleId: string;
  readonly name: string;
  readonly durationSeconds: number;
  readonly status: TitleStatus;
  /** Playable from this instant (ISO 8601) until `availableUntil`, if set. */
  readonly availableFrom: string;
  readonly availableUntil?: string;
  readonly renditions: readonly Rendition[];
  readonly manifests: Partial<Record<Codec, CodecManifests>>;
  readonly encoding?: EncodingRecord;
  /**
   * The series the title is an episode of, and its place in it (1-based, counting on across
   * seasons): nightly fill planning predicts an episode from the ones before it.
   * @default - not an episode
   */
  readonly series?: { readonly id: string; readonly episode: number };
  /**
   * The keys the title's renditions are encrypted under: a play then needs a license.
   * @default - not encrypted: renditions play without a license
   */
  readonly protection?: TitleProtection;
}

/** Whether viewers may play the title at `nowMs`: encoded, and inside its availability window. */
export function isPlayable(title: CatalogTitle, nowMs: number): boolean {
  return (
    title.status === 'available' &&
    Date.parse(title.availableFrom) <= nowMs &&
    (title.availableUntil === undefined || nowMs < Date.parse(title.availableUntil))
  );
}

/** What `GET /titles` shows of a title: renditions grouped by codec, no storage details. */
export function publicView(title: CatalogTitle) {
  const byCodec: Partial<Record<Codec, { width: number; height: number; bitrateKbps: number }[]>> = {};
  for (const rendition of title.renditions) {
    (byCodec[rendition.codec] ??= []).push({
      width: rendition.width,
      height: rendition.height,
      bitrateKbps: rendition.bitrateKbps,
    });
  }
  return {
    titleId: title.titleId,
    name: title.name,
    durationSeconds: title.durationSeconds,
    availableFrom: title.availableFrom,
    availableUntil: title.availableUntil,
    renditions: byCodec,
  };
}
