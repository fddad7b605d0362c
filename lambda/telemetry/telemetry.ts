import { z } from 'zod';
import { ID_PATTERN } from '../fleet/fleet-protocol';

export const EVENT_TYPES = ['start', 'heartbeat', 'rebuffer', 'bitrate-switch', 'error', 'stop'] as const;
export const MAX_EVENTS_PER_BATCH = 100;

export const eventBatchSchema = z.strictObject({
  events: z
    .array(
      z.strictObject({
        type: z.enum(EVENT_TYPES),
        sessionId: z.string().regex(ID_PATTERN, 'must be the session id /play returned'),
        at: z.iso.datetime({ offset: true }),
        positionSeconds: z.number().min(0).max(7 * 24 * 3600).optional(),
        bitrateKbps: z.number().int().positive().max(200_000).optional(),
        fatal: z.boolean().optional(),
        code: z.string().max(64).optional(),
      }),
    )
    .min(1, 'must hold at least one event')
    .max(MAX_EVENTS_PER_BATCH, `must hold at most ${MAX_EVENTS_PER_BATCH} events`),
});
export type PlayerEvent = z.infer<typeof eventBatchSchema>['events'][number];

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
