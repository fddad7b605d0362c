import { ENVIRONMENT_TAGS } from '../../lib/config/lifetime';

/** A stack as DescribeStacks shows it, in the region it was found in. */
export interface FoundStack {
  readonly stackName: string;
  readonly region: string;
  /** CloudFormation's StackStatus, e.g. `CREATE_COMPLETE`, `DELETE_FAILED`. */
  readonly status: string;
  readonly tags: Readonly<Record<string, string>>;
  /** CloudFormation's StackStatusReason: for DELETE_FAILED, the resources that would not go and why. */
  readonly statusReason?: string;
  /** CloudFormation's DeletionTime: when the stack's deletion began (a retry may restart it; the API does not say). */
  readonly deletionStartedAt?: Date;
  /** CloudFormation's StackId: DescribeStacks by id still answers, with DELETE_COMPLETE, once the stack is gone. */
  readonly stackId?: string;
}

/** A stack named by where it lives: what DeleteStack and the reports need. */
export interface StackRef {
  readonly stackName: string;
  readonly region: string;
}

/** Why an environment (or a stack of one) is left alone this run. */
export type SkipReason =
  /** prod and staging are never destroyed by the cleanup, whatever their tags say. */
  | 'protected-kind'
  /** An ephemeral environment without an expiry (`dev`, or one deployed by hand) lives until destroyed by hand. */
  | 'no-expiry'
  | 'not-expired'
  /** The expiry tag is not an exact UTC instant: someone must look. */
  | 'bad-expiry'
  /** The kind tag is missing or not prod, staging or ephemeral. */
  | 'bad-kind'
  /** The stack's name is not `nearstream-<environment tag>-<part>`: its tags cannot be trusted. */
  | 'name-mismatch'
  /**
   * The stacks of one environment disagree on its kind, or some carry an expiry and others none.
   * (Different valid expiries are not a conflict: the latest counts, see `planCleanup`.)
   */
  | 'conflicting-tags';

/** The reasons that mean a tag is wrong (rather than an environment simply not due): these are reported to operators. */
export const BAD_TAG_REASONS: ReadonlySet<SkipReason> = new Set<SkipReason>(['bad-expiry', 'bad-kind', 'name-mismatch', 'conflicting-tags']);

export interface Skip {
  /** The environment tag's value. */
  readonly environment: string;
  readonly reason: SkipReason;
  /** One sentence naming the stack or tag at fault. */
  readonly detail: string;
  readonly stacks: readonly StackRef[];
}

/** A stack of the current layer in DELETE_FAILED, and what this run does about it (see `failedDeletionCadence`). */
export interface FailedDeletion extends StackRef {
  /** CloudFormation's StackStatusReason, naming what would not go, when DescribeStacks gave one. */
  readonly statusReason?: string;
  /** DeleteStack is issued again this run (CloudFormation allows it on a DELETE_FAILED stack). */
  readonly retry: boolean;
  /** Operators are told this run. */
  readonly announce: boolean;
}

/** What this run does to one expired environment. */
export interface Teardown {
  readonly environment: string;
  /** The expiry that counts: the latest its stacks carry. */
  readonly expiresAt: string;
  /**
   * Earlier expiries some of its stacks still carry, oldest first (an update that failed on some
   * stacks leaves them with the previous expiry); empty when every stack agrees.
   */
  readonly supersededExpiries: readonly string[];
  /** DeleteStack for the first time: the layer no remaining stack depends on. */
  readonly start: readonly StackRef[];
  /** Stacks whose deletion failed: retried and announced on a cadence, not every run. */
  readonly failed: readonly FailedDeletion[];
  /** Stacks already in DELETE_IN_PROGRESS: not issued again. */
  readonly inProgress: readonly StackRef[];
  /** Stacks of the current layer in another operation (an update, a rollback): tried again next run. */
  readonly busy: readonly StackRef[];
  /** Stacks of later layers, deleted once the current layer is gone. */
  readonly waiting: readonly StackRef[];
  /**
   * True when no later layer waits and no stack of this one is busy: the current layer's stacks
   * are the environment's last. Once each of them is deleting, the environment is gone when they
   * complete.
   */
  readonly lastLayer: boolean;
  /**
   * True when this run issues DeleteStack for the environment's last stacks, so that every stack
   * it has left is deleting. It is gone once those deletions complete, which only a run that
   * waits for them sees (the handler does, within its time): a run cannot see an environment that
   * has no stacks.
   */
  readonly startsLastLayer: boolean;
}

export interface CleanupPlan {
  readonly teardowns: readonly Teardown[];
  readonly skipped: readonly Skip[];
}

const STACK_PREFIX = 'nearstream-';
const REGION = '[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\\d';

/**
 * The parts of an environment's stack names (lib/nearstream-environment.ts), each with its layer:
 * the order deletion goes in, the reverse of the stacks' dependencies. Appliances depend on their
 * region's control plane; the primary region's control plane on encoding (its monitoring alarms on
 * the workflow's functions and dead letters); control planes and encoding on data; data on the
 * origin replica. The appliance image depends on nothing but is deleted with the middle layer so that it
 * never outlives the appliances that boot from it. A regional part's stack names end in its region.
 */
export const ENVIRONMENT_STACK_PARTS: readonly { readonly part: string; readonly regional: boolean; readonly layer: number }[] = [
  { part: 'appliances', regional: true, layer: 0 },
  { part: 'control-plane', regional: true, layer: 1 },
  { part: 'encoding', regional: false, layer: 2 },
  { part: 'appliance-image', regional: false, layer: 1 },
  { part: 'data', regional: false, layer: 3 },
  { part: 'origin-replica', regional: true, layer: 4 },
];

const STACK_PARTS = ENVIRONMENT_STACK_PARTS.map(({ part, regional, layer }) => ({
  part,
  layer,
  name: new RegExp(`^${STACK_PREFIX}(.+)-${part}${regional ? `-${REGION}` : ''}$`),
}));

/** A stack of a part this module does not know goes first: nothing known depends on it. */
const UNKNOWN_PART_LAYER = 0;

/** How often the schedule runs the cleanup by default (EnvironmentCleanup's `schedule`). */
export const DEFAULT_RUN_INTERVAL_MINUTES = 15;

/** The UTC hour whose first run retries every failed deletion and reminds operators of it. */
export const DAILY_RETRY_HOUR_UTC = 9;

export interface CleanupPlanOptions {
  /**
   * How often the schedule runs the cleanup: the daily retry is the run in the first this many
   * minutes of `DAILY_RETRY_HOUR_UTC`, and a failure is new for this long after its deletion began.
   * @default DEFAULT_RUN_INTERVAL_MINUTES
   */
  readonly runIntervalMinutes?: number;
}

const UTC_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const KINDS = ['prod', 'staging', 'ephemeral'];

/** Where a stack stands in its environment's deletion order. */
export interface StackPosition {
  /** The part of the stack's name after the environment's (`control-plane`), undefined for a part this module does not know. */
  readonly part?: string;
  /** 0 is deleted first. */
  readonly layer: number;
}

/**
 * The position of a stack of the environment `environmentTag` names, read from the end of the
 * stack's name (environment names contain hyphens too); undefined when the name belongs to
 * another environment.
 */
export function positionOf(stackName: string, environmentTag: string): StackPosition | undefined {
  for (const { part, name, layer } of STACK_PARTS) {
    const match = name.exec(stackName);
    if (match) {
      return match[1] === environmentTag ? { part, layer } : undefined;
    }
  }
  // No known part at the end: the tag says where the environment's name ends, and the rest is a
  // part added after this module was written.
  const prefix = `${STACK_PREFIX}${environmentTag}-`;
  return stackName.startsWith(prefix) && stackName.length > prefix.length ? { layer: UNKNOWN_PART_LAYER } : undefined;
}

/** The instant an exact UTC timestamp names, or undefined when it is not one (`2026-02-30T00:00:00Z` is not). */
export function parseExpiry(text: string): Date | undefined {
  if (!UTC_INSTANT.test(text)) {
    return undefined;
  }
  const instant = new Date(text);
  // Date rolls 30 February over into March; an expiry that does not print back as itself is a typo.
  return !Number.isNaN(instant.getTime()) && instant.toISOString().replace('.000Z', 'Z') === text ? instant : undefined;
}

const refOf = (stack: FoundStack): StackRef => ({ stackName: stack.stackName, region: stack.region });

const DAY_MS = 24 * 3600 * 1000;

/**
 * When a DELETE_FAILED stack is retried and announced, decided from the time alone: the function
 * keeps no state. A failed deletion rarely goes by itself (a bucket that is not empty, a resource
 * something outside the stack still uses), so retrying it every run only repeats the failure and
 * its alert. And DeletionTime, the only clock DescribeStacks gives a failure, is when a deletion
 * began, which a retry may restart: with a retry every run, every failure could look new. The
 * rule below holds whether or not a retry restarts it.
 *
 * - Retry: in the daily run, the first of `DAILY_RETRY_HOUR_UTC` (09:00 UTC with the default
 *   schedule). Operators who fix the cause sooner can retry by hand (the summary says how).
 * - Announce: in the daily run (a reminder, with the retry), and in the first run after a deletion
 *   that began less than one run interval ago failed, unless that deletion began in a daily run:
 *   then it was the daily retry, already announced. So a stack is announced the run after its
 *   deletion first fails, then once a day. A deletion that takes longer than one interval to fail,
 *   or that first began in the daily run, is announced at the next daily run instead.
 */
export function failedDeletionCadence(deletionStartedAt: Date | undefined, now: Date, runIntervalMinutes = DEFAULT_RUN_INTERVAL_MINUTES): { retry: boolean; announce: boolean } {
  const intervalMs = runIntervalMinutes * 60_000;
  const inDailyRun = (instant: Date) => {
    const sinceRetryHourMs = (((instant.getTime() - DAILY_RETRY_HOUR_UTC * 3600_000) % DAY_MS) + DAY_MS) % DAY_MS;
    return sinceRetryHourMs < intervalMs;
  };
  const daily = inDailyRun(now);
  const newFailure = deletionStartedAt !== undefined && now.getTime() - deletionStartedAt.getTime() < intervalMs && !inDailyRun(deletionStartedAt);
  return { retry: daily, announce: daily || newFailure };
}

/**
 * Decides, from the stacks found in every region and the time, which environments are expired and
 * what to delete of each in this run. A whole environment takes longer to delete than a function
 * may run, so each run advances each expired environment by one layer (the stacks no remaining
 * stack depends on) and returns; the next scheduled run does the next layer. Planning again from
 * the same stacks gives the same plan, and stacks already being deleted are never issued again.
 *
 * Only `ephemeral` environments whose every stack carries a valid expiry are torn down, once the
 * latest of those expiries has passed: stacks disagree when an update failed on some of them and
 * rolled them back to the previous expiry, and a lifetime extension wins. Prod and staging never
 * are, even when only some stacks say so; anything with a missing, unreadable or conflicting tag
 * is skipped and named. Stacks without the environment tag, or not named `nearstream-…`, are not
 * Nearstream environments' and are ignored.
 */
export function planCleanup(stacks: readonly FoundStack[], now: Date, options: CleanupPlanOptions = {}): CleanupPlan {
  const skipped: Skip[] = [];
  const byEnvironment = new Map<string, { stack: FoundStack; layer: number }[]>();
  for (const stack of stacks) {
    const environment = stack.tags[ENVIRONMENT_TAGS.environment];
    if (environment === undefined || !stack.stackName.startsWith(STACK_PREFIX) || stack.status === 'DELETE_COMPLETE') {
      continue;
    }
    const position = positionOf(stack.stackName, environment);
    if (!position) {
      skipped.push({
        environment,
        reason: 'name-mismatch',
        detail: `stack ${stack.stackName} in ${stack.region} is tagged ${ENVIRONMENT_TAGS.environment}=${environment} but is not named ${STACK_PREFIX}${environment}-<part>`,
        stacks: [refOf(stack)],
      });
      continue;
    }
    byEnvironment.set(environment, [...(byEnvironment.get(environment) ?? []), { stack, layer: position.layer }]);
  }

  const teardowns: Teardown[] = [];
  for (const [environment, members] of [...byEnvironment].sort(([a], [b]) => a.localeCompare(b))) {
    const decision = decideEnvironment(environment, members, now, options.runIntervalMinutes ?? DEFAULT_RUN_INTERVAL_MINUTES);
    if ('reason' in decision) {
      skipped.push(decision);
    } else {
      teardowns.push(decision);
    }
  }
  return { teardowns, skipped };
}

function decideEnvironment(environment: string, members: readonly { stack: FoundStack; layer: number }[], now: Date, runIntervalMinutes: number): Teardown | Skip {
  const stacks = members.map(({ stack }) => refOf(stack));
  const skip = (reason: SkipReason, detail: string): Skip => ({ environment, reason, detail, stacks });

  const kinds = distinctTag(members, ENVIRONMENT_TAGS.kind);
  if (kinds.length > 1) {
    const protectedKinds = kinds.filter((kind) => kind === 'prod' || kind === 'staging');
    const never = protectedKinds.length > 0 ? `; with ${protectedKinds.join(' and ')} among them it is never cleaned up` : '';
    return skip('conflicting-tags', `its stacks disagree on ${ENVIRONMENT_TAGS.kind}: ${kinds.map(String).join(', ')}${never}`);
  }
  const [kind] = kinds;
  if (kind === 'prod' || kind === 'staging') {
    return skip('protected-kind', `${ENVIRONMENT_TAGS.kind}=${kind} is never cleaned up`);
  }
  if (kind !== 'ephemeral') {
    return skip('bad-kind', `${ENVIRONMENT_TAGS.kind} is ${kind === undefined ? 'missing' : `'${kind}'`}; expected one of ${KINDS.join(', ')}`);
  }

  const expiries = distinctTag(members, ENVIRONMENT_TAGS.expiresAt);
  if (expiries.every((expiry) => expiry === undefined)) {
    return skip('no-expiry', `no ${ENVIRONMENT_TAGS.expiresAt} tag: it lives until destroyed by hand`);
  }
  const tagged = expiries.filter((expiry): expiry is string => expiry !== undefined);
  if (tagged.length < expiries.length) {
    // A stack without the tag would live forever, the others not: which one is right takes a person.
    const untagged = members.filter(({ stack }) => stack.tags[ENVIRONMENT_TAGS.expiresAt] === undefined).map(({ stack }) => stack.stackName);
    return skip('conflicting-tags', `${untagged.join(', ')} carry no ${ENVIRONMENT_TAGS.expiresAt} while its other stacks carry ${tagged.join(', ')}`);
  }
  const unparseable = tagged.filter((expiry) => !parseExpiry(expiry));
  if (unparseable.length > 0) {
    return skip('bad-expiry', `${ENVIRONMENT_TAGS.expiresAt}=${unparseable.map((expiry) => `'${expiry}'`).join(', ')} is not an exact UTC instant like 2026-12-02T12:00:00Z`);
  }
  const byInstant = tagged.map((text) => ({ text, instant: parseExpiry(text)!.getTime() })).sort((a, b) => a.instant - b.instant);
  const { text: expiresAt, instant: expiry } = byInstant[byInstant.length - 1];
  const supersededExpiries = byInstant.slice(0, -1).map(({ text }) => text);
  // The expiry is the first instant the environment may go, so reaching it is enough.
  if (expiry > now.getTime()) {
    const disagreement = supersededExpiries.length > 0 ? ` (the latest of ${tagged.join(', ')}, which its stacks disagree on)` : '';
    return skip('not-expired', `expires at ${expiresAt}${disagreement}`);
  }

  const currentLayer = Math.min(...members.map(({ layer }) => layer));
  const current = members.filter(({ layer }) => layer === currentLayer).map(({ stack }) => stack);
  const withStatus = (test: (status: string) => boolean) => current.filter(({ status }) => test(status)).map(refOf);
  const start = withStatus((status) => !isBusy(status) && status !== 'DELETE_IN_PROGRESS' && status !== 'DELETE_FAILED');
  const failed = current
    .filter(({ status }) => status === 'DELETE_FAILED')
    .map((stack): FailedDeletion => ({ ...refOf(stack), statusReason: stack.statusReason, ...failedDeletionCadence(stack.deletionStartedAt, now, runIntervalMinutes) }));
  const busy = withStatus(isBusy);
  const waiting = members.filter(({ layer }) => layer !== currentLayer).map(({ stack }) => refOf(stack));
  const retried = failed.filter(({ retry }) => retry);
  const lastLayer = waiting.length === 0 && busy.length === 0;
  return {
    environment,
    expiresAt,
    supersededExpiries,
    start,
    failed,
    inProgress: withStatus((status) => status === 'DELETE_IN_PROGRESS'),
    busy,
    waiting,
    lastLayer,
    startsLastLayer: lastLayer && retried.length === failed.length && start.length + retried.length > 0,
  };
}

/**
 * A stack in the middle of another operation (an update, a rollback, an import), which DeleteStack
 * refuses. REVIEW_IN_PROGRESS is a stack whose first change set was never executed: it holds no
 * resources and deletes at once.
 */
function isBusy(status: string): boolean {
  return status.endsWith('_IN_PROGRESS') && status !== 'DELETE_IN_PROGRESS' && status !== 'REVIEW_IN_PROGRESS';
}

/** The values the stacks give a tag, `undefined` standing for stacks without it; sorted for stable messages. */
function distinctTag(members: readonly { stack: FoundStack }[], key: string): (string | undefined)[] {
  return [...new Set(members.map(({ stack }) => stack.tags[key]))].sort();
}
