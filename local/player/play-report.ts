import type { SwitchReason } from './abr';
import type { PlayRefusal, RegionAttempt } from './control-plane-client';
import type { StreamingProtocol, Track } from './presentation';
import type { Failover } from './source-ladder';
import type { TelemetryCounts } from './telemetry-client';

/** One source of the grant, in steering's rank order. */
export interface SteeringSource {
  /** 1 is the best. */
  readonly rank: number;
  readonly tier: 'appliance' | 'origin';
  readonly applianceId?: string;
  readonly clusterId?: string;
  /** Why steering chose the appliance: the client's IP prefix, or the region's clusters. */
  readonly matchedBy?: 'prefix' | 'region';
}

export interface SteeringReport {
  readonly degraded: boolean;
  readonly fleetAgeSeconds?: number;
  readonly sources: readonly SteeringSource[];
}

export interface RenditionSummary {
  readonly width: number;
  readonly height: number;
  /** The manifest's advertised bitrate. */
  readonly bitrateKbps: number;
}

export interface SwitchRecord {
  /** The first video segment (0-based) at the new rendition. */
  readonly segmentIndex: number;
  /** Where that segment starts in the media. */
  readonly atMediaSeconds: number;
  readonly from: RenditionSummary;
  readonly to: RenditionSummary;
  readonly reason: SwitchReason;
  /** The throughput estimate the decision used, in media time (network throughput / speed). */
  readonly estimateKbps: number;
  readonly bufferSeconds: number;
}

export interface SegmentRecord {
  /** 0-based, per track. */
  readonly index: number;
  readonly track: Track;
  /** The video rendition's height; 0 for audio. */
  readonly height: number;
  /** The appliance id, or `origin`. */
  readonly source: string;
  readonly bytes: number;
  readonly ms: number;
}

export interface RebufferRecord {
  readonly atMediaSeconds: number;
  readonly ms: number;
}

/** A protected play's licenses and whether they opened the media. */
export interface ProtectionReport {
  /** The EME key system: `org.w3.clearkey`. */
  readonly keySystem: string;
  /** The grant's common-encryption scheme: `cbcs`. */
  readonly scheme: string;
  /** License requests sent, those to a region that was down included. */
  readonly licenseRequests: number;
  /** The key ids licensed to the play (32 hex digits each); never the keys. */
  readonly keysGranted: readonly string[];
  /** The first video segment decoded cleanly with its licensed key, and not without it. */
  readonly firstSegmentDecrypted: boolean;
  /** The check could not be made on this machine (its ffmpeg cannot read cbcs); `decryption` says why. */
  readonly decryptionSkipped?: boolean;
  /** What the decodes did, in a line. */
  readonly decryption: string;
}

/** Everything one play did, as plain JSON. */
export interface PlayReport {
  readonly titleId: string;
  readonly protocol: StreamingProtocol;
  /** Media seconds per wall second; `Infinity` is written as the string. */
  readonly speed: number | 'Infinity';
  /** The region whose grant was played; absent when none granted. */
  readonly region?: string;
  readonly regionsTried: readonly RegionAttempt[];
  readonly refusal?: PlayRefusal;
  readonly sessionId?: string;
  readonly codec?: string;
  readonly steering?: SteeringReport;
  /** For a protected title: its licenses and the decryption check. */
  readonly protection?: ProtectionReport;
  /** From the first `/play` request to the grant, failed regions included. */
  readonly playRequestMs?: number;
  /** From the first `/play` request to the first segment (video and audio) buffered. */
  readonly timeToFirstSegmentMs?: number;
  readonly switches: readonly SwitchRecord[];
  readonly segments: readonly SegmentRecord[];
  readonly throughput: {
    /** All media segments' bits over their download time. */
    readonly meanKbps: number;
    /** The ABR's last network estimate. */
    readonly estimateKbps?: number;
  };
  readonly rebuffers: { readonly count: number; readonly totalMs: number; readonly stalls: readonly RebufferRecord[] };
  readonly failovers: readonly Failover[];
  readonly telemetry: TelemetryCounts;
  readonly totalWallMs: number;
  readonly mediaSecondsPlayed: number;
  /** Played to the end (or to `maxSeconds`). */
  readonly completed: boolean;
  readonly errors: readonly string[];
}

/** Progress, as it happens, for a caller that prints it. */
export type PlayerProgressEvent =
  | { readonly type: 'region-down'; readonly region: string; readonly reason: string }
  | { readonly type: 'play-granted'; readonly region: string; readonly sessionId: string; readonly codec: string; readonly playRequestMs: number; readonly steering: SteeringReport }
  | { readonly type: 'license-granted'; readonly region: string; readonly kid: string; readonly track: Track }
  | { readonly type: 'first-segment'; readonly timeToFirstSegmentMs: number; readonly rendition: RenditionSummary; readonly source: string }
  | { readonly type: 'segment'; readonly segment: SegmentRecord; readonly bufferSeconds: number }
  | { readonly type: 'switch'; readonly switch: SwitchRecord }
  | { readonly type: 'rebuffer'; readonly rebuffer: RebufferRecord }
  | { readonly type: 'failover'; readonly failover: Failover }
  | { readonly type: 'telemetry-failed'; readonly events: number; readonly reason: string }
  | { readonly type: 'done'; readonly report: PlayReport };
