import { z } from 'zod';
import { CatalogTitle, Codec, packagedSystems, TitleProtection } from '../catalog/catalog';
import type { PlaybackSession, StreamSlotHolder } from '../playback/viewer-store';
import { ContentKey, DrmSystem, KeyGroup, kidFromBase64Url, kidToBase64Url, kidToUuid, toBase64Url, videoKeyGroup } from '../shared/content-protection';

/**
 * Licenses for protected titles, as pure decisions: which play a license request belongs to, and
 * which keys that play may unlock. A license goes only to the account that started the play,
 * while the play's session lasts and its stream slot is still its own (so a stream the
 * concurrent-stream limit ended cannot renew its keys), and unlocks only the key groups of the
 * renditions the play was granted: audio, and the video groups (SPEKE v2 PRESET-VIDEO-6) whose
 * renditions of the session's codec are all no taller than its height cap.
 *
 * ClearKey licenses are issued here from the key store. For the commercial systems the platform
 * does the same checks and hands a provider the entitlement (see `commercial-license-proxy.ts`).
 */

/** The content keys of a title: the key store's, as the platform's license route reads them. */
export interface TitleKeys {
  /** The title's keys, opened: only those of `kids` (32 hex digits) when given. */
  keysForTitle(titleId: string, kids?: ReadonlySet<string>): Promise<readonly ContentKey[]>;
}

/** The sessions and stream slots a license is checked against (the `ViewerStore` in production). */
export interface LicenseSessions {
  getSession(sessionId: string, options: { consistent: boolean }): Promise<PlaybackSession | undefined>;
  getStreamSlot(accountId: string, slot: number): Promise<StreamSlotHolder | undefined>;
}

export interface LicenseDependencies {
  readonly sessions: LicenseSessions;
  readonly catalog: { get(titleId: string): Promise<CatalogTitle | undefined> };
  readonly titleKeys: TitleKeys;
  readonly nowMs: () => number;
}

export type LicenseRefusal =
  | 'unknown-key-system'
  | 'unknown-session'
  | 'not-your-session'
  | 'session-expired'
  | 'lease-expired'
  | 'not-protected'
  | 'key-not-granted'
  | 'license-service-unavailable';

export class LicenseRefusedError extends Error {
  constructor(
    readonly refusal: LicenseRefusal,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'LicenseRefusedError';
  }
}

/** The most key ids one ClearKey request may name: a title has four key groups, a player asks for a few. */
export const MAX_CLEARKEY_KIDS = 16;

const kidField = z
  .string()
  .refine((text) => kidFromBase64Url(text) !== undefined, 'must be a 16-byte key id in base64url without padding (22 characters)');

/** The W3C ClearKey license request (EME, "Clear Key" license request format), as a player's CDM writes it. */
export const clearKeyRequestSchema = z.strictObject({
  kids: z
    .array(kidField)
    .min(1, 'must name at least one key id')
    .max(MAX_CLEARKEY_KIDS, `must name at most ${MAX_CLEARKEY_KIDS} key ids`),
  type: z.literal('temporary', { error: 'must be "temporary": a license lasts as long as its session' }),
});
export type ClearKeyRequest = z.infer<typeof clearKeyRequestSchema>;

/** The W3C ClearKey license: a JSON Web Key Set of the granted keys. */
export interface ClearKeyLicense {
  readonly keys: readonly { readonly kty: 'oct'; readonly kid: string; readonly k: string }[];
  readonly type: 'temporary';
}

/** A session the checks found live, the caller's, and for a protected title. */
export interface LicensedPlay {
  readonly session: PlaybackSession & { readonly codec: Codec; readonly maxHeight: number };
  readonly title: CatalogTitle;
  readonly protection: TitleProtection;
  /** The key groups the session's renditions fall in. */
  readonly groups: ReadonlySet<KeyGroup>;
}

/**
 * The session checks every license passes, in order: the session exists, it is the caller's, it
 * has not expired, it still holds its stream slot with a lease running, and its title is protected.
 *
 * A session of another account is refused as `not-your-session` (counted and logged apart, as a
 * possibly leaked id), but with the very message of an unknown one, and the handler answers both
 * alike: session ids travel in license URLs, so one seen in a log or a shared link must not let
 * another account learn that it names a live play. The check comes before expiry and lease, so
 * nothing later tells the two apart either.
 */
export async function checkLicensedPlay(deps: LicenseDependencies, accountId: string, sessionId: string, system: DrmSystem): Promise<LicensedPlay> {
  const nowMs = deps.nowMs();
  const session = await deps.sessions.getSession(sessionId, { consistent: true });
  const unknown = `no play '${sessionId}' of this account; start one with POST /play`;
  if (!session) {
    throw new LicenseRefusedError('unknown-session', unknown);
  }
  if (session.accountId !== accountId) {
    throw new LicenseRefusedError('not-your-session', unknown);
  }
  if (nowMs >= session.expiresAtEpochSeconds * 1000) {
    throw new LicenseRefusedError(
      'session-expired',
      `play '${sessionId}' expired at ${new Date(session.expiresAtEpochSeconds * 1000).toISOString()}; start a new one`,
    );
  }
  const { codec, maxHeight } = session;
  if (codec === undefined || maxHeight === undefined) {
    throw new LicenseRefusedError('session-expired', `play '${sessionId}' was authorized before licenses were issued; start a new one`);
  }
  const [slot, title] = await Promise.all([deps.sessions.getStreamSlot(accountId, session.slot), deps.catalog.get(session.titleId)]);
  if (slot?.sessionId !== sessionId) {
    throw new LicenseRefusedError('lease-expired', `play '${sessionId}' no longer holds its stream slot (another play took it); start a new one`);
  }
  if (slot.leaseUntilMs <= nowMs) {
    throw new LicenseRefusedError(
      'lease-expired',
      `the stream lease of play '${sessionId}' ran out at ${new Date(slot.leaseUntilMs).toISOString()} without telemetry; start a new play`,
    );
  }
  if (!title?.protection) {
    throw new LicenseRefusedError('not-protected', `title '${session.titleId}' is not encrypted: it plays without a license`);
  }
  // Only the systems the title was packaged for: a title packaged for a commercial system alone
  // must not hand its raw keys out through ClearKey.
  const packaged = packagedSystems(title.protection);
  if (!packaged.includes(system)) {
    throw new LicenseRefusedError('unknown-key-system', `title '${session.titleId}' is packaged for ${packaged.join(', ')}, not ${system}`);
  }
  // Keys follow the plan's cap, which is what the viewer pays for; the device's own cap limits what
  // its tokens fetch, not what it may decrypt (a 360p phone on a 720p plan still needs the SD key).
  const cap = session.planMaxHeight ?? maxHeight;
  return { session: { ...session, codec, maxHeight: cap }, title, protection: title.protection, groups: grantableKeyGroups(title, cap) };
}

/**
 * The key groups a session may unlock: audio, and each video group whose renditions of the title
 * are all no taller than `maxHeight` (and that has one). A key opens every rendition of its group,
 * so a group holding anything taller than the cap stays locked even if some of its renditions fit:
 * a 720p plan gets SD and HD1, never HD2's 1080p. Every codec's renditions count: the catalog does
 * not say which codec a key id encrypts, and codecs' ladders differ.
 */
export function grantableKeyGroups(title: CatalogTitle, maxHeight: number): Set<KeyGroup> {
  const tallest = new Map<KeyGroup, number>();
  for (const rendition of title.renditions) {
    const group = videoKeyGroup(rendition.width, rendition.height);
    tallest.set(group, Math.max(tallest.get(group) ?? 0, rendition.height));
  }
  return new Set<KeyGroup>(['AUDIO', ...[...tallest].filter(([, height]) => height <= maxHeight).map(([group]) => group)]);
}

/**
 * A ClearKey license for `request`: every key id it names, or none. A key id that is not one of
 * the session title's keys, or is of a group the session may not unlock, refuses the whole request,
 * naming the key ids (never a key).
 */
export async function issueClearKeyLicense(
  deps: LicenseDependencies,
  accountId: string,
  sessionId: string,
  request: ClearKeyRequest,
): Promise<ClearKeyLicense> {
  const play = await checkLicensedPlay(deps, accountId, sessionId, 'clearkey');
  const requested = [...new Set(request.kids)];
  const requestedHex = new Map(requested.map((kid) => [kid, kidFromBase64Url(kid)!]));
  const refuse = (refused: readonly string[]) =>
    new LicenseRefusedError(
      'key-not-granted',
      `body.kids: ${refused.join(', ')} ${refused.length === 1 ? 'is' : 'are'} not granted to play '${sessionId}': ` +
        `it unlocks the audio and the ${play.session.codec} renditions up to ${play.session.maxHeight}p of '${play.title.titleId}' only`,
      { field: 'body.kids', kids: refused },
    );
  // Decided from the catalog's key ids before any key is opened: a license never decrypts a key it
  // may not hand out, and only the keys asked for are opened.
  const allowed = new Set(play.protection.keys.filter((key) => play.groups.has(key.group)).map((key) => key.kid));
  const notAllowed = requested.filter((kid) => !allowed.has(requestedHex.get(kid)!));
  if (notAllowed.length > 0) {
    throw refuse(notAllowed);
  }
  const opened = new Map(
    (await deps.titleKeys.keysForTitle(play.title.titleId, new Set(requestedHex.values()))).filter((key) => key.titleId === play.title.titleId && play.groups.has(key.group)).map((key) => [key.kid, key]),
  );
  // Listed by the catalog but not held by the store (or held under a group the play may not unlock).
  const missing = requested.filter((kid) => !opened.has(requestedHex.get(kid)!));
  if (missing.length > 0) {
    throw refuse(missing);
  }
  return {
    keys: requested.map((kid) => {
      const key = opened.get(requestedHex.get(kid)!)!;
      return { kty: 'oct', kid: kidToBase64Url(key.kid), k: toBase64Url(key.key) };
    }),
    type: 'temporary',
  };
}

/**
 * What a commercial provider may license a play for, sent with the forwarded challenge: the key
 * ids (UUID form, as CPIX and providers write them) of the groups the session may unlock, from
 * the catalog's record of the title's keys, and when the play ends.
 */
export interface LicenseEntitlement {
  readonly titleId: string;
  readonly sessionId: string;
  readonly kids: readonly string[];
  /** ISO 8601: the session's end; a license should not outlive it. */
  readonly expiresAt: string;
}

export function entitlementOf(play: LicensedPlay): LicenseEntitlement {
  return {
    titleId: play.title.titleId,
    sessionId: play.session.sessionId,
    kids: play.protection.keys.filter((key) => play.groups.has(key.group)).map((key) => kidToUuid(key.kid)),
    expiresAt: new Date(play.session.expiresAtEpochSeconds * 1000).toISOString(),
  };
}

/** The systems a commercial license service can be configured for: ClearKey is the platform's own. */
export const COMMERCIAL_SYSTEMS = ['widevine', 'playready', 'fairplay'] as const satisfies readonly DrmSystem[];
export type CommercialSystem = (typeof COMMERCIAL_SYSTEMS)[number];

export interface LicenseServiceConfig {
  /** Where challenges are POSTed: https, or http to a loopback address for a local stand-in. */
  readonly url: string;
  /** Secrets Manager secret holding `{ "headers": { ... } }`: the provider's credentials. */
  readonly secretArn: string;
}
export type LicenseServices = Readonly<Partial<Record<CommercialSystem, LicenseServiceConfig>>>;

/** A complete secret ARN, with the 6-character suffix Secrets Manager adds: IAM grants match the whole ARN. */
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}-[A-Za-z0-9]{6}$/;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

function isLicenseServiceUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  const scheme = url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname));
  return scheme && !url.username && !url.password && !url.hash;
}

const licenseServiceSchema = z.strictObject({
  url: z
    .string()
    .max(2048, 'must be at most 2048 characters')
    .refine(isLicenseServiceUrl, 'must be an https URL (http only to a loopback address, for a local stand-in) without credentials or fragment'),
  secretArn: z.string().regex(SECRET_ARN, 'must be the complete ARN of a Secrets Manager secret (arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 characters>)'),
});

const licenseServicesSchema = z.strictObject(
  Object.fromEntries(COMMERCIAL_SYSTEMS.map((system) => [system, licenseServiceSchema.optional()])) as Record<
    CommercialSystem,
    z.ZodOptional<typeof licenseServiceSchema>
  >,
  { error: `only ${COMMERCIAL_SYSTEMS.join(', ')} take a license service; ClearKey licenses come from the platform itself` },
);

/**
 * `LICENSE_SERVICES`, `{ "<system>": { "url": "https://...", "secretArn": "arn:..." } }`: the
 * commercial license service of each system the platform offers. Unset or empty offers none.
 * Throws one error naming every bad field.
 */
export function parseLicenseServices(raw: string | undefined, source = 'Environment variable LICENSE_SERVICES'): LicenseServices {
  if (raw === undefined || raw.trim() === '') {
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`${source} is not valid JSON; it must be { "<system>": { "url": "https://...", "secretArn": "arn:..." } }`);
  }
  const result = licenseServicesSchema.safeParse(parsed);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys.join(', ')] : issue.path;
      return `${path.map(String).join('.') || '(top level)'}: ${issue.message}`;
    });
    throw new Error(`${source}: ${problems.join('; ')}`);
  }
  return Object.fromEntries(Object.entries(result.data).filter(([, service]) => service !== undefined)) as LicenseServices;
}

/** The systems the platform issues licenses for: ClearKey, then each configured commercial one. */
export function licenseSystemsOffered(services: LicenseServices): DrmSystem[] {
  return ['clearkey', ...COMMERCIAL_SYSTEMS.filter((system) => services[system] !== undefined)];
}
