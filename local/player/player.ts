import { performance } from 'node:perf_hooks';
import { AbrSettings, DEFAULT_ABR_SETTINGS } from './abr';
import { PlaybackGrant, RegionEndpoint, requestPlay } from './control-plane-client';
import { PlayerProgressEvent, PlayReport, SteeringReport } from './play-report';
import { ClearKeySession, ProtectionError } from './clearkey-session';
import { PlaybackSession, round } from './playback-session';
import { StreamingProtocol } from './presentation';
import { PlayableSource, SourcesExhaustedError } from './source-ladder';
import { TelemetryClient } from './telemetry-client';

export interface PlayOptions {
  /** The control-plane regions to ask for the play, in order; the next is asked when one is down. */
  readonly regions: readonly RegionEndpoint[];
  /** The viewer's JWT (the caller logs in). */
  readonly token: string;
  readonly titleId: string;
  /** @default 'hls' */
  readonly protocol?: StreamingProtocol;
  /** The codecs the device claims to decode. @default ['av01', 'avc1'] */
  readonly codecs?: readonly string[];
  /** The device's tallest picture; the ABR never goes above it either. @default 1080 */
  readonly maxHeight?: number;
  /** @default - the address the control plane sees */
  readonly clientIp?: string;
  /**
   * For a protected title, decode the first video segment with its licensed key (and without) to
   * report `protection.firstSegmentDecrypted`; ffmpeg does it beside the play.
   * @default true
   */
  readonly verifyDecryption?: boolean;
  /** Media seconds per wall second; `Infinity` fetches as fast as the network allows without waiting. @default 1 */
  readonly speed?: number;
  /** @default - the whole title */
  readonly maxSeconds?: number;
  /** Media ahead of the playhead beyond which nothing more is fetched. @default 30 */
  readonly bufferTargetSeconds?: number;
  /** For each manifest, init and media segment request, body included. @default 4000 */
  readonly segmentTimeoutMs?: number;
  /** For each region's `/play`. @default 5000 */
  readonly playTimeoutMs?: number;
  /** For each `/events` batch. @default 3000 */
  readonly telemetryTimeoutMs?: number;
  /** @default DEFAULT_ABR_SETTINGS */
  readonly abr?: Partial<AbrSettings>;
  /** Progress as it happens; it must not throw. @default - none */
  readonly onEvent?: (event: PlayerProgressEvent) => void;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!(resolved > 0)) {
    throw new Error(`PlayOptions.${name} must be a positive number (got ${value})`);
  }
  return resolved;
}

function steeringOf(grant: PlaybackGrant): SteeringReport {
  return {
    degraded: grant.steering.degraded,
    ...(grant.steering.fleetAgeSeconds === undefined ? {} : { fleetAgeSeconds: grant.steering.fleetAgeSeconds }),
    sources: grant.sources.map((source, index) =>
      source.tier === 'appliance'
        ? { rank: index + 1, tier: source.tier, applianceId: source.applianceId, clusterId: source.clusterId, matchedBy: source.matchedBy }
        : { rank: index + 1, tier: source.tier },
    ),
  };
}

function playableSources(grant: PlaybackGrant, protocol: StreamingProtocol): PlayableSource[] {
  return grant.sources.map((source): PlayableSource =>
    source.tier === 'appliance'
      ? { label: source.applianceId, tier: source.tier, manifestUrl: source[protocol], headers: {} }
      : {
          label: 'origin',
          tier: source.tier,
          manifestUrl: source[protocol],
          headers: { cookie: Object.entries(source.cookies ?? {}).map(([name, value]) => `${name}=${value}`).join('; ') },
        },
  );
}

/**
 * Plays a title through the platform as a viewer's player would: asks the regions for a play
 * (failing over past a region that is down), plays HLS or DASH segment by segment from the ranked
 * sources (failing over past a source that fails), adapts the bitrate, sends telemetry, and
 * reports what happened. A refusal, no region answering, or every source failing ends the play
 * with `completed: false` and the reasons in `errors`; only bad options throw.
 */
export async function play(options: PlayOptions): Promise<PlayReport> {
  if (options.regions.length === 0) {
    throw new Error('PlayOptions.regions must name at least one region');
  }
  const speed = positive('speed', options.speed, 1);
  const maxSeconds = positive('maxSeconds', options.maxSeconds, Number.POSITIVE_INFINITY);
  const protocol = options.protocol ?? 'hls';
  const maxHeight = positive('maxHeight', options.maxHeight, 1080);
  const playTimeoutMs = positive('playTimeoutMs', options.playTimeoutMs, 5000);
  const telemetryTimeoutMs = positive('telemetryTimeoutMs', options.telemetryTimeoutMs, 3000);
  const bufferTargetSeconds = positive('bufferTargetSeconds', options.bufferTargetSeconds, 30);
  const segmentTimeoutMs = positive('segmentTimeoutMs', options.segmentTimeoutMs, 4000);
  const onEvent = options.onEvent ?? (() => undefined);
  const startedMs = performance.now();
  const sinceStartMs = () => performance.now() - startedMs;

  const outcome = await requestPlay(
    options.regions,
    options.token,
    {
      titleId: options.titleId,
      device: { codecs: options.codecs ?? ['av01', 'avc1'], maxHeight, keySystems: ['clearkey'] },
      ...(options.clientIp ? { clientIp: options.clientIp } : {}),
    },
    playTimeoutMs,
  );
  for (const attempt of outcome.attempts.filter((a) => a.outcome === 'down')) {
    onEvent({ type: 'region-down', region: attempt.region, reason: attempt.reason! });
  }
  const base = {
    titleId: options.titleId,
    protocol,
    speed: Number.isFinite(speed) ? speed : ('Infinity' as const),
    regionsTried: outcome.attempts,
  };
  if (outcome.kind !== 'granted') {
    const error =
      outcome.kind === 'refused'
        ? `region ${outcome.refusal.region} refused the play: ${outcome.refusal.status} ${outcome.refusal.error}: ${outcome.refusal.message}`
        : `no region granted the play: ${outcome.attempts.map((attempt) => `${attempt.region}: ${attempt.reason}`).join('; ')}`;
    const report: PlayReport = {
      ...base,
      ...(outcome.kind === 'refused' ? { refusal: outcome.refusal } : {}),
      switches: [],
      segments: [],
      throughput: { meanKbps: 0 },
      rebuffers: { count: 0, totalMs: 0, stalls: [] },
      failovers: [],
      telemetry: { sent: 0, failed: 0, rejected: 0 },
      totalWallMs: Math.round(sinceStartMs()),
      mediaSecondsPlayed: 0,
      completed: false,
      errors: [error],
    };
    onEvent({ type: 'done', report });
    return report;
  }

  const { grant, region } = outcome;
  const playRequestMs = Math.round(sinceStartMs());
  const steering = steeringOf(grant);
  onEvent({ type: 'play-granted', region: region.name, sessionId: grant.sessionId, codec: grant.codec, playRequestMs, steering });
  const grantingFirst = [region, ...options.regions.filter((other) => other !== region)];
  const telemetry = new TelemetryClient(
    grantingFirst,
    options.token,
    grant.sessionId,
    telemetryTimeoutMs,
    (events, reason) => onEvent({ type: 'telemetry-failed', events, reason }),
  );
  // Made once the play runs: a grant it cannot license (no ClearKey offered) ends the play as an error.
  let clearKey: ClearKeySession | undefined;
  const session = new PlaybackSession(
    playableSources(grant, protocol),
    {
      protocol,
      maxHeight,
      speed,
      maxSeconds,
      bufferTargetSeconds,
      segmentTimeoutMs,
      abr: { ...DEFAULT_ABR_SETTINGS, ...options.abr },
    },
    { onEvent, telemetry, sinceStartMs, prepareSegments: (segments) => clearKey?.prepare(segments) ?? Promise.resolve() },
  );
  const errors: string[] = [];
  const heartbeat = setInterval(
    () => telemetry.send('heartbeat', { positionSeconds: session.position(), bitrateKbps: session.currentBitrateKbps() }),
    (grant.leaseSeconds * 1000) / 2,
  );
  try {
    clearKey = ClearKeySession.forGrant({
      grant,
      regions: grantingFirst,
      token: options.token,
      timeoutMs: playTimeoutMs,
      verifyDecryption: options.verifyDecryption,
      onLicense: ({ region: from, kid, track }) => onEvent({ type: 'license-granted', region: from, kid, track }),
    });
    await session.run();
  } catch (error) {
    if (!(error instanceof SourcesExhaustedError || error instanceof ProtectionError)) {
      throw error;
    }
    errors.push(error.message);
    telemetry.send('error', { fatal: true, code: error instanceof ProtectionError ? 'license-failed' : 'sources-exhausted', positionSeconds: session.position() });
  } finally {
    clearInterval(heartbeat);
    telemetry.send('stop', { positionSeconds: session.position(), bitrateKbps: session.currentBitrateKbps() });
    await telemetry.drain();
  }

  const protection = await clearKey?.report();
  if (protection && !protection.firstSegmentDecrypted && !protection.decryptionSkipped && errors.length === 0 && options.verifyDecryption !== false) {
    errors.push(`the first video segment did not decrypt with its licensed key: ${protection.decryption}`);
  }
  const media = session.segments;
  const totalBytes = media.reduce((sum, segment) => sum + segment.bytes, 0);
  const totalMs = media.reduce((sum, segment) => sum + segment.ms, 0);
  const estimateBps = session.estimator.estimateBps();
  const report: PlayReport = {
    ...base,
    region: region.name,
    sessionId: grant.sessionId,
    codec: grant.codec,
    steering,
    ...(protection ? { protection } : {}),
    playRequestMs,
    ...(session.timeToFirstSegmentMs === undefined ? {} : { timeToFirstSegmentMs: session.timeToFirstSegmentMs }),
    switches: session.switches,
    segments: media,
    throughput: {
      meanKbps: totalMs > 0 ? Math.round((totalBytes * 8) / totalMs) : 0,
      ...(estimateBps === undefined ? {} : { estimateKbps: Math.round(estimateBps / 1000) }),
    },
    rebuffers: { count: session.stalls.length, totalMs: session.stalls.reduce((sum, stall) => sum + stall.ms, 0), stalls: session.stalls },
    failovers: session.sources.failovers,
    telemetry: telemetry.totals,
    totalWallMs: Math.round(sinceStartMs()),
    mediaSecondsPlayed: round(session.position(), 3),
    completed: errors.length === 0,
    errors,
  };
  onEvent({ type: 'done', report });
  return report;
}
