import { z } from 'zod';
import { decimalNumber, idField, wholeNumber } from '../shared/request-fields';

export const EVENT_TYPES = ['start', 'heartbeat', 'rebuffer', 'bitrate-switch', 'error', 'stop'] as const;
export const MAX_EVENTS_PER_BATCH = 100;
/** No title runs a week; positions are kept to the millisecond. */
const MAX_POSITION_SECONDS = 7 * 24 * 3600;
/** Player clocks drift: an event stamped further ahead than this is refused, so it cannot outrank later positions. */
const MAX_EVENT_CLOCK_SKEW_MS = 5 * 60_000;
/** Players send batches within seconds; anything older than this belongs to a session long expired. */
const MAX_EVENT_AGE_MS = 7 * 24 * 3600_000;
export const EVENT_WINDOW_RULE = `must be within the last ${MAX_EVENT_AGE_MS / 86_400_000} days and at most ${MAX_EVENT_CLOCK_SKEW_MS / 60_000} minutes ahead of the server's clock`;

export const eventBatchSchema = z.strictObject({
  events: z
    .array(
      z.strictObject({
        type: z.enum(EVENT_TYPES),
        sessionId: idField('session', 'must be the session id /play returned'),
        at: z.iso.datetime({ offset: true }),
        positionSeconds: decimalNumber(0, MAX_POSITION_SECONDS, 3).optional(),
        bitrateKbps: wholeNumber(1, 200_000).optional(),
        fatal: z.boolean().optional(),
        code: z.string().max(64).optional(),
      }),
    )
    .min(1, 'must hold at least one event')
    .max(MAX_EVENTS_PER_BATCH, `must hold at most ${MAX_EVENTS_PER_BATCH} events`),
});
export type PlayerEvent = z.infer<typeof eventBatchSchema>['events'][number];

/** The index of the first event stamped outside `EVENT_WINDOW_RULE` for a batch received at `nowMs`; -1 when none is. */
export function firstEventOutsideWindow(events: readonly PlayerEvent[], nowMs: number): number {
  return events.findIndex((event) => {
    const atMs = Date.parse(event.at);
    return atMs > nowMs + MAX_EVENT_CLOCK_SKEW_MS || atMs < nowMs - MAX_EVENT_AGE_MS;
  });
}

/** What the control plane knows of a session an event names. */
export interface SessionFacts {
  readonly accountId: string;
  readonly titleId: string;
  readonly slot: number;
  readonly clusterId?: string;
}

export interface DemandIncrement {
  readonly titleId: string;
  readonly clusterId?: string;
  readonly starts: number;
}

export interface LeaseAction {
  readonly sessionId: string;
  readonly slot: number;
  /** A stop frees the slot at once; anything else renews the lease. */
  readonly release: boolean;
}

export interface TelemetrySummary {
  readonly accepted: number;
  readonly rejected: readonly { readonly index: number; readonly reason: string }[];
  readonly starts: number;
  readonly fatalErrors: number;
  readonly rebuffers: number;
  readonly demand: readonly DemandIncrement[];
  readonly leases: readonly LeaseAction[];
  /** The latest position per title the batch reports. */
  readonly positions: readonly { titleId: string; positionSeconds: number; updatedAt: string }[];
}

/**
 * Reduces one batch from one viewer to what the control plane does with it: counters, demand
 * increments per title and cluster, lease renewals or releases, and watch positions. Events of
 * unknown sessions or of other accounts' sessions are rejected one by one, not the whole batch.
 */
export function summarize(events: readonly PlayerEvent[], sessions: ReadonlyMap<string, SessionFacts>, accountId: string): TelemetrySummary {
  const rejected: { index: number; reason: string }[] = [];
  const demand = new Map<string, DemandIncrement>();
  const leases = new Map<string, LeaseAction>();
  const positions = new Map<string, { titleId: string; positionSeconds: number; updatedAt: string }>();
  let starts = 0;
  let fatalErrors = 0;
  let rebuffers = 0;

  events.forEach((event, index) => {
    const session = sessions.get(event.sessionId);
    if (!session) {
      rejected.push({ index, reason: `unknown session '${event.sessionId}'` });
      return;
    }
    if (session.accountId !== accountId) {
      rejected.push({ index, reason: `session '${event.sessionId}' belongs to another account` });
      return;
    }
    if (event.type === 'start') {
      starts++;
      const key = `${session.titleId}|${session.clusterId ?? ''}`;
      const current = demand.get(key);
      demand.set(key, { titleId: session.titleId, clusterId: session.clusterId, starts: (current?.starts ?? 0) + 1 });
    } else if (event.type === 'error' && event.fatal) {
      fatalErrors++;
    } else if (event.type === 'rebuffer') {
      rebuffers++;
    }
    const lease = leases.get(event.sessionId);
    leases.set(event.sessionId, { sessionId: event.sessionId, slot: session.slot, release: (lease?.release ?? false) || event.type === 'stop' });
    if (event.positionSeconds !== undefined) {
      const updatedAt = new Date(event.at).toISOString();
      const known = positions.get(session.titleId);
      if (!known || known.updatedAt <= updatedAt) {
        positions.set(session.titleId, { titleId: session.titleId, positionSeconds: event.positionSeconds, updatedAt });
      }
    }
  });

  return {
    accepted: events.length - rejected.length,
    rejected,
    starts,
    fatalErrors,
    rebuffers,
    demand: [...demand.values()],
    leases: [...leases.values()],
    positions: [...positions.values()],
  };
}

/** The UTC day an instant falls on, `YYYY-MM-DD`: the demand counters' granularity. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
