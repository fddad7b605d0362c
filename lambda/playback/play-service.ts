import { CatalogTitle, codecDirectory, CodecManifests, CODECS, isPlayable, packagedSystems, TitleProtection } from '../catalog/catalog';
import { DRM_SYSTEM_NAMES, DRM_SYSTEMS, DrmSystem } from '../shared/content-protection';
import { cappedManifestPath } from '../shared/rendition-manifests';
import { titleIdSchema } from '../fleet/fleet-protocol';
import { Keyring, signToken, tokenizedPath, tokenScope } from '../shared/url-token';
import { z } from 'zod';
import { chooseRenditions, PLANS } from './entitlements';
import { FleetCache } from './fleet-cache';
import { OriginScope, OriginSigner, OriginSource } from './origin-signer';
import { PlaybackSession, ViewerStore } from './viewer-store';

export const playRequestSchema = z.strictObject({
  titleId: titleIdSchema,
  device: z.strictObject({
    codecs: z.array(z.enum(CODECS)).min(1, 'must name at least one codec the device decodes').max(CODECS.length),
    maxHeight: z.number().int().min(144).max(4320),
    /** The DRM systems the device's player can use (EME key systems, by our names). */
    keySystems: z.array(z.enum(DRM_SYSTEM_NAMES as [DrmSystem, ...DrmSystem[]])).max(DRM_SYSTEM_NAMES.length).optional(),
  }),
  /** For tests and the local platform: steer as if the player were at this address. */
  clientIp: z.union([z.ipv4(), z.ipv6()]).optional(),
});
export type PlayRequest = z.infer<typeof playRequestSchema>;

export type PlayRefusal = 'unknown-title' | 'no-plan' | 'no-playable-rendition' | 'no-key-system' | 'stream-limit';

export class PlayRefusedError extends Error {
  constructor(
    readonly refusal: PlayRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'PlayRefusedError';
  }
}

export interface ApplianceSource {
  readonly tier: 'appliance';
  readonly applianceId: string;
  readonly clusterId: string;
  readonly matchedBy: 'prefix' | 'region';
  readonly hls: string;
  readonly dash: string;
}

/** Where a player gets the licenses of one DRM system for a protected title. */
export interface KeySystemOffer {
  readonly system: DrmSystem;
  /** The EME key-system string, for `requestMediaKeySystemAccess`. */
  readonly keySystem: string;
  /** Relative to the API's base URL; names the session the license is for. */
  readonly licenseUrl: string;
}

export interface PlaybackGrant {
  readonly sessionId: string;
  readonly titleId: string;
  readonly expiresAt: string;
  /** The player must send telemetry at least this often, or its stream slot is freed. */
  readonly leaseSeconds: number;
  readonly codec: string;
  readonly renditions: { width: number; height: number; bitrateKbps: number }[];
  readonly steering: { readonly degraded: boolean; readonly fleetAgeSeconds?: number };
  /** Best first: appliances, then the origin tier. */
  readonly sources: readonly (ApplianceSource | OriginSource)[];
  /**
   * For a protected title: its encryption scheme and, in the device's order of preference, the
   * systems both the device and the platform support.
   * @default - absent: the title plays without a license
   */
  readonly protection?: { readonly scheme: TitleProtection['scheme']; readonly keySystems: readonly KeySystemOffer[] };
}

export interface PlayDependencies {
  readonly catalog: { get(titleId: string): Promise<CatalogTitle | undefined> };
  readonly viewers: ViewerStore;
  readonly fleet: FleetCache;
  readonly keyring: () => Promise<Keyring>;
  readonly origin: () => Promise<OriginSigner>;
  /** The control-plane region answering, whose clusters are the steering fallback. */
  readonly region: string;
  readonly sessionTtlSeconds: number;
  readonly leaseSeconds: number;
  readonly nowMs: () => number;
  readonly newSessionId: () => string;
  /**
   * The DRM systems the platform issues licenses for: ClearKey always (the license route serves
   * it itself), the others when a license service is configured for them.
   * @default ['clearkey']
   */
  readonly licenseSystems?: readonly DrmSystem[];
}

/**
 * Authorizes one play: the title must be playable, the account must have a plan with a free
 * stream slot, and the device must decode a rendition the plan allows. The answer ranks the
 * appliances steering chose, each URL carrying a token for that appliance, then the origin tier.
 */
export async function authorizePlay(deps: PlayDependencies, accountId: string, request: PlayRequest, sourceIp: string): Promise<PlaybackGrant> {
  const nowMs = deps.nowMs();
  // None of these needs another's answer: together they cost one round trip's wait, not several.
  const [title, account, keyring, origin, fleet] = await Promise.all([
    deps.catalog.get(request.titleId),
    deps.viewers.getPlanAndHeldSlots(accountId, nowMs),
    deps.keyring(),
    deps.origin(),
    deps.fleet.snapshot(),
  ]);
  if (!title || !isPlayable(title, nowMs)) {
    throw new PlayRefusedError('unknown-title', `no playable title '${request.titleId}'`);
  }
  if (!account.plan) {
    throw new PlayRefusedError('no-plan', 'the account has no active plan');
  }
  const plan = PLANS[account.plan];
  const choice = chooseRenditions(title, request.device, plan);
  if (!choice) {
    throw new PlayRefusedError(
      'no-playable-rendition',
      `no rendition of '${title.titleId}' fits a device decoding ${request.device.codecs.join(', ')} up to ${request.device.maxHeight}p`,
    );
  }
  const declared = request.device.keySystems ?? [];
  // A system is offered when a license service serves it and the title's manifests signal it.
  const packaged = title.protection ? packagedSystems(title.protection) : [];
  const offered = (deps.licenseSystems ?? ['clearkey']).filter((system) => packaged.includes(system));
  const keySystems = title.protection ? [...new Set(declared)].filter((system) => offered.includes(system)) : [];
  if (title.protection && keySystems.length === 0) {
    throw new PlayRefusedError(
      'no-key-system',
      `'${title.titleId}' is encrypted and needs a license: the device declared key systems [${declared.join(', ')}], the platform offers [${offered.join(', ')}]`,
    );
  }
  const manifests = title.manifests[choice.codec]!;

  const sessionId = deps.newSessionId();
  const expiresAtEpochSeconds = Math.floor(nowMs / 1000) + deps.sessionTtlSeconds;
  const slot = await deps.viewers.claimStreamSlot(accountId, plan.maxStreams, sessionId, nowMs, nowMs + deps.leaseSeconds * 1000, account.heldSlots);
  if (slot === undefined) {
    throw new PlayRefusedError('stream-limit', `the ${plan.name} plan allows ${plan.maxStreams} concurrent stream(s), all in use`);
  }
  try {
    const { choices, homeClusterId } = fleet.index.route(
      { clientIp: request.clientIp ?? sourceIp, region: deps.region, titleId: title.titleId, sessionKey: sessionId },
      nowMs,
    );
    const appliances: ApplianceSource[] = choices.map(({ appliance, matchedBy }) => {
      const token = signToken(
        keyring,
        { expiresAt: expiresAtEpochSeconds, applianceId: appliance.applianceId, titleId: title.titleId, maxHeight: choice.maxHeight },
        Math.floor(nowMs / 1000),
      );
      const url = (path: string) => `${appliance.baseUrl}${tokenizedPath(token, title.titleId, relativeToScope(title.titleId, path))}`;
      return {
        tier: 'appliance',
        applianceId: appliance.applianceId,
        clusterId: appliance.clusterId,
        matchedBy,
        hls: url(manifests.hls),
        dash: url(manifests.dash),
      };
    });
    const originSource = origin.sign(title.titleId, cappedManifests(manifests, choice.maxHeight), expiresAtEpochSeconds, originScope(manifests, choice.maxHeight));
    const session: PlaybackSession = {
      sessionId,
      accountId,
      titleId: title.titleId,
      slot,
      // Demand belongs to the client's own cluster, even when it does not hold the title yet.
      clusterId: homeClusterId ?? appliances[0]?.clusterId,
      createdAt: new Date(nowMs).toISOString(),
      expiresAtEpochSeconds,
      codec: choice.codec,
      maxHeight: choice.maxHeight,
      planMaxHeight: plan.maxHeight,
    };
    await deps.viewers.putSession(session);
    return {
      sessionId,
      titleId: title.titleId,
      expiresAt: new Date(expiresAtEpochSeconds * 1000).toISOString(),
      leaseSeconds: deps.leaseSeconds,
      codec: choice.codec,
      renditions: choice.renditions.map(({ width, height, bitrateKbps }) => ({ width, height, bitrateKbps })),
      steering: {
        degraded: fleet.degraded,
        fleetAgeSeconds: fleet.ageMs === undefined ? undefined : Math.round(fleet.ageMs / 1000),
      },
      sources: [...appliances, originSource],
      ...(title.protection && {
        protection: {
          scheme: title.protection.scheme,
          keySystems: keySystems.map((system) => ({
            system,
            keySystem: DRM_SYSTEMS[system].keySystem,
            licenseUrl: `/license/${system}?session=${encodeURIComponent(sessionId)}`,
          })),
        },
      }),
    };
  } catch (error) {
    await deps.viewers.releaseSlot(accountId, slot, sessionId);
    throw error;
  }
}

/**
 * The origin tier's manifests for a session capped at `maxHeight`: the ones the encoding cut at the
 * tallest picture height within it, which list nothing the session may not fetch. A title encoded
 * before they were cut gets its whole manifests; the distribution still refuses taller renditions
 * by their names. (Appliances cut manifests per token themselves.)
 */
function cappedManifests(manifests: CodecManifests, maxHeight: number): CodecManifests {
  const cut = Math.max(...(manifests.cappedHeights ?? []).filter((height) => height <= maxHeight));
  return Number.isFinite(cut) ? { hls: cappedManifestPath(manifests.hls, cut), dash: cappedManifestPath(manifests.dash, cut) } : manifests;
}

/** The origin policy opens the chosen codec's directory only, up to the session's height. */
function originScope(manifests: CodecManifests, maxHeight: number): OriginScope {
  return { directory: codecDirectory(manifests), maxHeight };
}

function relativeToScope(titleId: string, path: string): string {
  const scope = tokenScope(titleId);
  if (!path.startsWith(scope)) {
    throw new Error(`catalog manifest '${path}' lies outside ${scope}`);
  }
  return path.slice(scope.length);
}
