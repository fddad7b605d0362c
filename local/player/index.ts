/** The CLI player: a library for `npm start`, tests, drills and benchmarks, and the `play` command's core. */
export { play } from './player';
export type { PlayOptions } from './player';
export { formatProgress, formatReport } from './format-report';
export { runPlayerCli } from './cli';
export type { PlayerCliContext, PlayerCliIo } from './cli';
export { DEFAULT_ABR_SETTINGS } from './abr';
export type { AbrSettings, SwitchReason } from './abr';
export type { PlaybackGrant, PlayRefusal, RegionAttempt, RegionEndpoint } from './control-plane-client';
export type { PlayerProgressEvent, PlayReport, ProtectionReport, RebufferRecord, RenditionSummary, SegmentRecord, SteeringReport, SteeringSource, SwitchRecord } from './play-report';
export type { StreamingProtocol } from './presentation';
export type { Failover } from './source-ladder';
export type { TelemetryCounts } from './telemetry-client';
