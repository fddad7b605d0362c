import { ConfigProblem } from './config-error';

/**
 * The tags every stack of an environment carries. CloudFormation copies stack tags onto the
 * resources it creates, so the environment, its creator and its expiry show on every bill line,
 * and the scheduled cleanup finds expired environments by their stacks alone.
 */
export const ENVIRONMENT_TAGS = {
  environment: 'nearstream:environment',
  kind: 'nearstream:kind',
  creator: 'nearstream:creator',
  expiresAt: 'nearstream:expires-at',
} as const;

/** Who made an ephemeral environment and when it may be destroyed. */
export interface EnvironmentLifetime {
  /** A person (`alice`), an IAM principal or a pipeline (`pull-request/feature-x`). */
  readonly creator: string;
  /** An exact UTC instant, `2026-12-02T12:00:00Z`: after it, the scheduled cleanup destroys the environment. */
  readonly expiresAt: string;
}

/** What a user may say about an ephemeral environment's lifetime. */
export interface LifetimeInput {
  readonly creator?: string;
  /** An exact UTC instant; the environment command computes it from `--ttl`. */
  readonly expiresAt?: string;
}

/** Three days: long enough for a review, short enough that a forgotten environment costs little. */
export const DEFAULT_TTL_SECONDS = 3 * 24 * 3600;

/** At most 30 days: anything longer is a named environment, not an ephemeral one. */
export const MAX_TTL_SECONDS = 30 * 24 * 3600;

const UTC_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const TTL = /^(\d{1,4})([mhd])$/;
/** AWS tag values: letters, digits, spaces and `_ . : / = + - @`, at most 256 characters. */
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,256}$/u;

/** `90m`, `12h`, `3d` as seconds; throws naming the rule for anything else. */
export function parseTtl(text: string): number {
  const match = TTL.exec(text.trim());
  if (!match) {
    throw new Error(`--ttl '${text}' must be a whole number of minutes, hours or days, like 90m, 12h or 3d`);
  }
  const seconds = Number(match[1]) * { m: 60, h: 3600, d: 86_400 }[match[2] as 'm' | 'h' | 'd'];
  if (seconds < 3600 || seconds > MAX_TTL_SECONDS) {
    throw new Error(`--ttl '${text}' must be between 1h and ${MAX_TTL_SECONDS / 86_400}d`);
  }
  return seconds;
}

/** The expiry of an environment created at `now` living `ttlSeconds`, to the second, in UTC. */
export function expiryAfter(now: Date, ttlSeconds: number): string {
  return new Date(Math.floor(now.getTime() / 1000) * 1000 + ttlSeconds * 1000).toISOString().replace('.000Z', 'Z');
}

/** A creator name as a tag value: characters AWS refuses become `-`, at most 256 characters. */
export function creatorTagValue(creator: string): string {
  const cleaned = creator.replace(/[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu, '-').slice(0, 256);
  return cleaned.length > 0 ? cleaned : 'unknown';
}

export function lifetimeProblems(input: LifetimeInput, ephemeral: boolean): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (!ephemeral && (input.creator !== undefined || input.expiresAt !== undefined)) {
    problems.push({
      field: input.expiresAt !== undefined ? 'expiresAt' : 'creator',
      rule: 'applies only to ephemeral environments: dev, staging and prod are never destroyed by the cleanup',
    });
    return problems;
  }
  if (input.expiresAt !== undefined && (!UTC_INSTANT.test(input.expiresAt) || Number.isNaN(Date.parse(input.expiresAt)))) {
    problems.push({ field: 'expiresAt', rule: `'${input.expiresAt}' must be an exact UTC instant like 2026-12-02T12:00:00Z` });
  }
  if (input.creator !== undefined && !TAG_VALUE.test(input.creator)) {
    problems.push({ field: 'creator', rule: `'${input.creator}' must be 1-256 letters, digits, spaces or _ . : / = + - @ (an AWS tag value)` });
  }
  if ((input.creator === undefined) !== (input.expiresAt === undefined)) {
    problems.push({ field: input.creator === undefined ? 'creator' : 'expiresAt', rule: 'creator and expiresAt go together: an expiring environment names who made it' });
  }
  return problems;
}
