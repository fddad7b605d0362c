import {
  ApplianceFleetSettings,
  ApplianceInput,
  FLEET_DEFAULTS,
  fleetProblems,
  fleetSettingProblems,
  rolesAnywhereProblems,
  RolesAnywhereSettings,
} from './appliance-settings';
import { ContentProtectionInput, contentProtectionOf, contentProtectionProblems, ContentProtectionSettings } from './content-protection';
import { CHAOS_DEFAULTS, CHAOS_MODES, ChaosMode, ChaosSettings, MONKEY_MEAN_MINUTES } from '../chaos/catalog';
import { AlarmSettings, ALARMS_BY_KIND, alarmSettingProblems } from './alarm-settings';
import { MAX_TOKEN_LIFETIME_SECONDS } from '../../lambda/shared/url-token';
import { ConfigError, ConfigProblem, positiveWholeNumberProblems } from './config-error';
import { OriginKeyInput, originKeyProblems, OriginSigningKeySettings, originSigningKeysOf } from './origin-signing-keys';
import { EnvironmentLifetime, LifetimeInput, lifetimeProblems } from './lifetime';
import { corsProblems, ViewerAccessInput, viewerAuthProblems, ViewerAuthSettings, viewerEmailProblems, ViewerEmailSettings } from './viewer-access';

export type { AlarmSettings } from './alarm-settings';
export type { EnvironmentLifetime } from './lifetime';
export type { OriginSigningKeySettings } from './origin-signing-keys';
export type { ViewerAuthSettings, ViewerEmailSettings } from './viewer-access';

/**
 * How much an environment matters. It decides removal policies, deletion protection and defaults:
 * `prod` and `staging` keep their data when a stack goes away, `ephemeral` leaves nothing behind.
 */
export type EnvironmentKind = 'prod' | 'staging' | 'ephemeral';

/** A public DNS name the environment's API answers on, in a Route 53 zone the account owns. */
export interface CustomDomain {
  /** The zone's domain name, e.g. `example.com`. */
  readonly name: string;
  /** The Route 53 public hosted zone id for `name`, e.g. `Z0123456789ABC`. */
  readonly hostedZoneId: string;
}

/** Request throttling of each region's HTTP API (API Gateway stage defaults). */
export interface ApiThrottleSettings {
  /** Steady-state requests per second per region. */
  readonly ratePerSecond: number;
  /** Burst bucket size per region. */
  readonly burst: number;
}

/** Thresholds of the alarms every regional API carries. */
export interface ApiAlarmSettings {
  /** Alarm when 5xx responses exceed this share of requests, in percent, over 5 minutes. */
  readonly serverErrorRatePercent: number;
  /** Alarm when p99 latency exceeds this, in milliseconds, over 5 minutes. */
  readonly p99LatencyMs: number;
}

/** The regional `/health` probe that Route 53 health checks call. */
export interface HealthProbeSettings {
  /** A heartbeat round trip to the regional table slower than this reports the region unhealthy. */
  readonly tableBudgetMs: number;
}

/** Playback session knobs. */
export interface PlaybackSettings {
  /** How long a play's URLs stay valid. */
  readonly sessionTtlSeconds: number;
  /** A stream slot is freed when the player sends no telemetry for this long. */
  readonly streamLeaseSeconds: number;
  /** How long a function reuses its fleet snapshot before reading the registry again. */
  readonly fleetCacheSeconds: number;
}

/** The encoding workflow's knobs. */
export interface EncodingSettings {
  /** Uploads larger than this are refused before encoding. */
  readonly maxUploadBytes: number;
  /** The ladder a title gets unless its upload's `nearstream-ladder` metadata says otherwise. */
  readonly defaultLadder: 'fixed' | 'automated';
  /** MediaConvert's per-minute price of one output, by codec and resolution class, in USD. */
  readonly ratesUsdPerMinute: Readonly<Record<'avc1' | 'hvc1' | 'av01', Readonly<Record<'sd' | 'hd' | 'uhd', number>>>>;
}

/** One environment, fully resolved and validated: everything below `bin/` takes this as props. */
export interface EnvironmentConfig {
  /** `dev`, `staging`, `prod`, or any other name for an ephemeral environment (`pr-42`, `alice`). */
  readonly name: string;
  readonly kind: EnvironmentKind;
  /** The 12-digit AWS account to deploy into; undefined leaves the stacks account-agnostic. */
  readonly account?: string;
  /** Region of the data stack's primary replicas; also serves traffic. */
  readonly primaryRegion: string;
  /** The second active region; holds replicas of every table and secret. */
  readonly secondaryRegion: string;
  /** When set, the API is served on custom domains with health-checked latency routing. */
  readonly domain?: CustomDomain;
  readonly apiThrottle: ApiThrottleSettings;
  readonly apiAlarms: ApiAlarmSettings;
  /** Thresholds of the steady-state, function, table, planning and fleet alarms of each region. */
  readonly alarms: AlarmSettings;
  /** Web origins whose players may call the API from a browser (CORS); `*` for any. */
  readonly corsAllowedOrigins: readonly string[];
  readonly healthProbe: HealthProbeSettings;
  /** Retention of every log group the environment creates, in days (a CloudWatch Logs value). */
  readonly logRetentionDays: number;
  /** @default - viewers sign in with the Cognito user pool the data stack creates */
  readonly viewerAuth?: ViewerAuthSettings;
  /** @default - Cognito's own email, limited to a few dozen messages a day; refused in prod */
  readonly viewerEmail?: ViewerEmailSettings;
  readonly playback: PlaybackSettings;
  readonly encoding: EncodingSettings;
  /** @default - no EC2 appliances; bare-metal appliances only */
  readonly applianceFleet?: ApplianceFleetSettings;
  /** @default - no Roles Anywhere trust anchor; bare-metal appliances cannot get AWS credentials */
  readonly rolesAnywhere?: RolesAnywhereSettings;
  readonly originSigningKeys: OriginSigningKeySettings;
  /**
   * Chaos experiments: mode `off` (none), or `leashed` / `on` (FIS templates in each region, the
   * fault-injection extension on the opted-in control-plane functions, and the Chaos Monkey
   * schedule, which in `leashed` resolves targets and harms nothing).
   * @default CHAOS_DEFAULTS: off
   */
  readonly chaos: ChaosSettings;
  /**
   * Whether titles are encrypted unless their upload says otherwise, and the commercial license
   * services licenses are handed to (context `contentProtection`, `licenseServices`).
   * @default - on in prod, off elsewhere; no commercial license service
   */
  readonly contentProtection: ContentProtectionSettings;
  /**
   * Who made an ephemeral environment and when the scheduled cleanup may destroy it.
   * @default - none: named environments (dev, staging, prod) never expire
   */
  readonly lifetime?: EnvironmentLifetime;
}

/** What a user may say about an environment; `resolveEnvironment` fills in the rest. */
export interface EnvironmentInput extends ApplianceInput, ViewerAccessInput, OriginKeyInput, LifetimeInput, ContentProtectionInput {
  readonly name: string;
  /** `off`, `leashed` or `on` (context `chaos`). */
  readonly chaos?: string;
  readonly chaosMeanMinutes?: number;
  readonly chaosTimezone?: string;
  readonly chaosOptOut?: readonly string[];
  readonly account?: string;
  readonly primaryRegion?: string;
  readonly secondaryRegion?: string;
  readonly domainName?: string;
  readonly hostedZoneId?: string;
}

export const DEFAULT_PRIMARY_REGION = 'us-east-1';
export const DEFAULT_SECONDARY_REGION = 'us-west-2';

type Defaults = Omit<
  EnvironmentConfig,
  'name' | 'account' | 'primaryRegion' | 'secondaryRegion' | 'domain' | 'viewerAuth' | 'viewerEmail' | 'corsAllowedOrigins' | 'applianceFleet' | 'rolesAnywhere' | 'originSigningKeys' | 'chaos' | 'contentProtection'
>;

const PLAYBACK_DEFAULTS: PlaybackSettings = { sessionTtlSeconds: 4 * 3600, streamLeaseSeconds: 300, fleetCacheSeconds: 10 };

/** On-demand professional-tier list prices per output minute (single pass); adjust to your contract. */
const ENCODING_DEFAULTS: EncodingSettings = {
  maxUploadBytes: 200 * 1024 ** 3,
  defaultLadder: 'fixed',
  ratesUsdPerMinute: {
    avc1: { sd: 0.0075, hd: 0.015, uhd: 0.03 },
    hvc1: { sd: 0.015, hd: 0.03, uhd: 0.06 },
    av01: { sd: 0.03, hd: 0.06, uhd: 0.12 },
  },
};

const EPHEMERAL_DEFAULTS: Defaults = {
  kind: 'ephemeral',
  apiThrottle: { ratePerSecond: 100, burst: 200 },
  apiAlarms: { serverErrorRatePercent: 5, p99LatencyMs: 1500 },
  alarms: ALARMS_BY_KIND.ephemeral,
  healthProbe: { tableBudgetMs: 500 },
  logRetentionDays: 7,
  playback: PLAYBACK_DEFAULTS,
  encoding: ENCODING_DEFAULTS,
};

/** The environments named in code. Any other name is ephemeral and takes `EPHEMERAL_DEFAULTS`. */
export const NAMED_ENVIRONMENTS: Readonly<Record<string, Defaults>> = {
  dev: { ...EPHEMERAL_DEFAULTS, logRetentionDays: 14 },
  staging: {
    kind: 'staging',
    apiThrottle: { ratePerSecond: 1000, burst: 2000 },
    apiAlarms: { serverErrorRatePercent: 2, p99LatencyMs: 1000 },
    alarms: ALARMS_BY_KIND.staging,
    healthProbe: { tableBudgetMs: 500 },
    logRetentionDays: 90,
    playback: PLAYBACK_DEFAULTS,
    encoding: ENCODING_DEFAULTS,
  },
  prod: {
    kind: 'prod',
    // API Gateway's default account quota per region: 10,000 requests/s, burst 5,000 (shared by every
    // API of the account). Raise the burst here after AWS raises the quota.
    apiThrottle: { ratePerSecond: 10_000, burst: 5_000 },
    apiAlarms: { serverErrorRatePercent: 1, p99LatencyMs: 800 },
    alarms: ALARMS_BY_KIND.prod,
    healthProbe: { tableBudgetMs: 500 },
    logRetentionDays: 365,
    playback: PLAYBACK_DEFAULTS,
    encoding: ENCODING_DEFAULTS,
  },
};

/** CloudWatch Logs accepts only these retention periods. */
const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/**
 * Lower-case letters, digits and single hyphens, starting with a letter, at most 16 characters:
 * the name goes into stack, table, bucket and DNS names, which must stay unique and short.
 */
const ENVIRONMENT_NAME = /^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,15}$/;
const ACCOUNT_ID = /^\d{12}$/;
const REGION = /^[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d$/;
const DOMAIN_NAME = /^(?=.{4,200}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const HOSTED_ZONE_ID = /^Z[A-Z0-9]{1,31}$/;

/** How strictly to resolve. */
export interface ResolveOptions {
  /**
   * An ephemeral environment must say who made it and when it expires: set where an environment is
   * about to be deployed (`bin/`), so none escapes the scheduled cleanup.
   * @default false
   */
  readonly requireLifetime?: boolean;
}

/** Resolves an environment from what the user said, or throws one `ConfigError` naming every problem. */
export function resolveEnvironment(input: EnvironmentInput, options: ResolveOptions = {}): EnvironmentConfig {
  const problems: ConfigProblem[] = [];
  const defaults = NAMED_ENVIRONMENTS[input.name] ?? EPHEMERAL_DEFAULTS;
  const primaryRegion = input.primaryRegion ?? DEFAULT_PRIMARY_REGION;
  const secondaryRegion = input.secondaryRegion ?? DEFAULT_SECONDARY_REGION;

  if (!ENVIRONMENT_NAME.test(input.name)) {
    problems.push({
      field: 'env',
      rule: `'${input.name}' must be 1-16 lower-case letters, digits or single hyphens, starting with a letter and not ending with a hyphen`,
    });
  }
  if (input.account !== undefined && !ACCOUNT_ID.test(input.account)) {
    problems.push({ field: 'account', rule: `'${input.account}' must be exactly 12 digits` });
  }
  for (const [field, region] of [['primaryRegion', primaryRegion], ['secondaryRegion', secondaryRegion]] as const) {
    if (!REGION.test(region)) {
      problems.push({ field, rule: `'${region}' is not an AWS region name (like us-east-1)` });
    }
  }
  if (primaryRegion === secondaryRegion) {
    problems.push({
      field: 'secondaryRegion',
      rule: `must differ from primaryRegion (both are '${primaryRegion}'): active-active needs two regions`,
    });
  }
  problems.push(
    ...domainProblems(input),
    ...viewerAuthProblems(input),
    ...viewerEmailProblems(input, defaults.kind, primaryRegion),
    ...corsProblems(input),
    ...fleetProblems(input, [primaryRegion, secondaryRegion]),
    ...rolesAnywhereProblems(input),
    ...originKeyProblems(input),
    ...lifetimeProblems(input, isEphemeralName(input.name)),
    ...chaosProblems(input),
    ...contentProtectionProblems(input),
  );
  if (options.requireLifetime && isEphemeralName(input.name) && input.creator === undefined && input.expiresAt === undefined) {
    problems.push({
      field: 'expiresAt',
      rule: `an ephemeral environment ('${input.name}') needs an expiry and a creator: create it with \`npm run env -- create ${input.name}\` (3 days unless --ttl), or give -c creator=<you> -c expiresAt=<UTC instant like 2026-12-02T12:00:00Z>`,
    });
  }
  if (problems.length > 0) {
    throw new ConfigError(input.name, problems);
  }

  const config: EnvironmentConfig = {
    ...defaults,
    name: input.name,
    account: input.account,
    primaryRegion,
    secondaryRegion,
    domain: input.domainName && input.hostedZoneId
      ? { name: input.domainName, hostedZoneId: input.hostedZoneId }
      : undefined,
    viewerAuth: input.jwtIssuer && input.jwtAudiences
      ? { issuerUrl: input.jwtIssuer, audiences: input.jwtAudiences }
      : undefined,
    corsAllowedOrigins: input.corsOrigins ?? ['*'],
    viewerEmail: input.viewerEmailFrom
      ? { fromAddress: input.viewerEmailFrom, sesRegion: input.viewerEmailSesRegion ?? primaryRegion }
      : undefined,
    applianceFleet: input.applianceAmis
      ? {
          ...FLEET_DEFAULTS,
          amiIds: input.applianceAmis,
          appliancesPerRegion: input.appliancesPerRegion ?? FLEET_DEFAULTS.appliancesPerRegion,
          instanceType: input.applianceInstanceType ?? FLEET_DEFAULTS.instanceType,
          availabilityZoneCount: input.applianceAvailabilityZones ?? FLEET_DEFAULTS.availabilityZoneCount,
        }
      : undefined,
    rolesAnywhere: input.rolesAnywhereCaBundle || input.rolesAnywherePcaArn
      ? { certificateBundlePem: input.rolesAnywhereCaBundle, acmPcaArn: input.rolesAnywherePcaArn }
      : undefined,
    originSigningKeys: originSigningKeysOf(input),
    lifetime: input.creator !== undefined && input.expiresAt !== undefined ? { creator: input.creator, expiresAt: input.expiresAt } : undefined,
    chaos: {
      mode: (input.chaos as ChaosMode | undefined) ?? CHAOS_DEFAULTS.mode,
      meanMinutesBetweenKills: input.chaosMeanMinutes ?? CHAOS_DEFAULTS.meanMinutesBetweenKills,
      timezone: input.chaosTimezone ?? CHAOS_DEFAULTS.timezone,
      optOutClusters: input.chaosOptOut ?? CHAOS_DEFAULTS.optOutClusters,
    },
    contentProtection: contentProtectionOf(input, defaults.kind),
  };
  validateSettings(config);
  return config;
}

function chaosProblems(input: EnvironmentInput): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (input.chaos !== undefined && !(CHAOS_MODES as readonly string[]).includes(input.chaos)) {
    problems.push({ field: 'chaos', rule: `must be one of ${CHAOS_MODES.join(', ')} (got '${input.chaos}')` });
  }
  if (input.chaosMeanMinutes !== undefined && !(MONKEY_MEAN_MINUTES as readonly number[]).includes(input.chaosMeanMinutes)) {
    problems.push({ field: 'chaosMeanMinutes', rule: `must be one of ${MONKEY_MEAN_MINUTES.join(', ')} (minutes that divide an hour or the 8-hour business day); got ${input.chaosMeanMinutes}` });
  }
  if (input.chaosTimezone !== undefined && !isTimeZone(input.chaosTimezone)) {
    problems.push({ field: 'chaosTimezone', rule: `'${input.chaosTimezone}' is not an IANA time zone like Europe/Amsterdam or UTC` });
  }
  for (const cluster of input.chaosOptOut ?? []) {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(cluster)) {
      problems.push({ field: 'chaosOptOut', rule: `'${cluster}' is not a cluster id (lower-case letters, digits and hyphens)` });
    }
  }
  return problems;
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function domainProblems(input: EnvironmentInput): ConfigProblem[] {
  const { domainName, hostedZoneId } = input;
  const problems: ConfigProblem[] = [];
  if (domainName !== undefined && !DOMAIN_NAME.test(domainName)) {
    problems.push({ field: 'domain', rule: `'${domainName}' must be a lower-case DNS name like example.com` });
  }
  if (hostedZoneId !== undefined && !HOSTED_ZONE_ID.test(hostedZoneId)) {
    problems.push({ field: 'hostedZoneId', rule: `'${hostedZoneId}' must be a Route 53 zone id like Z0123456789ABC` });
  }
  if (domainName !== undefined && hostedZoneId === undefined) {
    problems.push({ field: 'hostedZoneId', rule: `is required when domain is set: give the Route 53 zone that holds '${domainName}'` });
  }
  if (hostedZoneId !== undefined && domainName === undefined) {
    problems.push({ field: 'domain', rule: `is required when hostedZoneId is set: give the zone's domain name` });
  }
  return problems;
}

/**
 * Checks the numeric knobs. They come from code today, but later issues let users tune them, and a
 * wrong value must fail synth rather than deploy an alarm that never fires.
 */
export function validateSettings(config: EnvironmentConfig): void {
  const problems: ConfigProblem[] = [];
  const positiveInteger = (field: string, value: number) => problems.push(...positiveWholeNumberProblems(field, value));
  positiveInteger('apiThrottle.ratePerSecond', config.apiThrottle.ratePerSecond);
  positiveInteger('apiThrottle.burst', config.apiThrottle.burst);
  positiveInteger('apiAlarms.p99LatencyMs', config.apiAlarms.p99LatencyMs);
  positiveInteger('healthProbe.tableBudgetMs', config.healthProbe.tableBudgetMs);
  positiveInteger('playback.sessionTtlSeconds', config.playback.sessionTtlSeconds);
  if (config.playback.sessionTtlSeconds > MAX_TOKEN_LIFETIME_SECONDS) {
    problems.push({
      field: 'playback.sessionTtlSeconds',
      rule: `must be at most ${MAX_TOKEN_LIFETIME_SECONDS} (MAX_TOKEN_LIFETIME_SECONDS): a session's URL tokens live as long as it, and no token may live longer (got ${config.playback.sessionTtlSeconds})`,
    });
  }
  positiveInteger('playback.streamLeaseSeconds', config.playback.streamLeaseSeconds);
  positiveInteger('playback.fleetCacheSeconds', config.playback.fleetCacheSeconds);
  positiveInteger('encoding.maxUploadBytes', config.encoding.maxUploadBytes);
  for (const [codec, classes] of Object.entries(config.encoding.ratesUsdPerMinute)) {
    for (const [resolution, rate] of Object.entries(classes)) {
      if (!(rate >= 0)) {
        problems.push({ field: `encoding.ratesUsdPerMinute.${codec}.${resolution}`, rule: `must be a price of zero or more (got ${rate})` });
      }
    }
  }
  if (config.applianceFleet) {
    problems.push(...fleetSettingProblems(config.applianceFleet));
  }
  problems.push(...alarmSettingProblems(config.alarms));
  const errorRate = config.apiAlarms.serverErrorRatePercent;
  if (!(errorRate > 0 && errorRate <= 100)) {
    problems.push({ field: 'apiAlarms.serverErrorRatePercent', rule: `must be above 0 and at most 100 (got ${errorRate})` });
  }
  if (!LOG_RETENTION_DAYS.includes(config.logRetentionDays)) {
    problems.push({
      field: 'logRetentionDays',
      rule: `must be one of CloudWatch Logs' periods (${LOG_RETENTION_DAYS.join(', ')}); got ${config.logRetentionDays}`,
    });
  }
  if (problems.length > 0) {
    throw new ConfigError(config.name, problems);
  }
}

/** Any name that is not one of the named environments: created on demand, tagged to expire. */
export function isEphemeralName(name: string): boolean {
  return !Object.hasOwn(NAMED_ENVIRONMENTS, name);
}

/** Both regions, primary first: the order every multi-region loop uses. */
export function regionsOf(config: EnvironmentConfig): readonly [string, string] {
  return [config.primaryRegion, config.secondaryRegion];
}
