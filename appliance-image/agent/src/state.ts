import { z } from 'zod';
import { MAX_OBJECT_BYTES, objectKeyProblem } from '../../../lambda/shared/fill-manifest';

/** A verified object in the cache, with the identity its file had when it was recorded. */
export interface HeldObject {
  readonly size: number;
  readonly sha256: string;
  readonly titleId: string;
  /**
   * The file's inode and change time (ctime, which no one can set back) once committed: a file
   * found with others was replaced or written since (by a crash between a rename and its record,
   * or by hand) and is hashed again. Absent for objects a version-1 state recorded, whose files
   * are checked by size.
   */
  readonly ino?: number;
  readonly ctimeMs?: number;
}

export interface FillOutcome {
  readonly startedAt: string;
  readonly finishedAt: string;
  /** `complete`: everything listed is held; `window-ended`/`ceiling-reached`/`failed`: not yet. */
  readonly result: 'complete' | 'window-ended' | 'ceiling-reached' | 'failed' | 'rejected';
  readonly generation?: number;
  readonly downloadedBytes: number;
  readonly downloadedObjects: number;
  readonly evictedObjects: number;
  readonly failures: readonly { readonly key: string; readonly reason: string }[];
  readonly message?: string;
}

/** What the agent knows besides the objects it holds. */
export interface StateFacts {
  /** The manifest generation the cache fully matches, and when the planner made it. */
  readonly appliedGeneration?: number;
  readonly appliedCreatedAt?: string;
  /** The generation being filled towards (equals appliedGeneration once complete). */
  readonly targetGeneration?: number;
  readonly lastFill?: FillOutcome;
  /** The registration the control plane last accepted, as sent. */
  readonly registration?: string;
}

/** What the agent knows about its cache: every object it verified, and how fills went. */
export interface AgentState extends StateFacts {
  /** By object key. A Map: no key (`__proto__`, `constructor`) can reach anything but its own entry. */
  readonly objects: Map<string, HeldObject>;
}

/**
 * The state is kept as a snapshot (`state.json`, written whole at the end of a fill) and a journal
 * (`journal.jsonl`, one line per object committed or evicted since, appended in batches), so a
 * fill's cost to record an object does not grow with the size of the cache.
 *
 *   state.json:    {"format":"nearstream-agent-state/v2","appliedGeneration":42,...,
 *                   "objects":[["titles/t1/avc1/seg-1.m4s",812,"<sha256>","t1",<ino>,<ctimeMs>],...]}
 *   journal.jsonl: ["hold","titles/t1/avc1/seg-2.m4s",900,"<sha256>","t1",<ino>,<ctimeMs>]
 *                  ["drop","titles/t0/avc1/seg-1.m4s"]
 *                  ["facts",{"targetGeneration":43}]
 *
 * Both are validated on read: an entry that is not a valid object of its title (the manifest's
 * key rules), a torn last line or a hand edit is dropped and named, never trusted; the cache's
 * reconciliation then finds the files it no longer accounts for.
 */
export const STATE_FORMAT = 'nearstream-agent-state/v2';

const SHA256_HEX = /^[0-9a-f]{64}$/;
const ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const generation = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const factSchemas: { readonly [K in keyof StateFacts]-?: z.ZodType<StateFacts[K]> } = {
  appliedGeneration: generation,
  appliedCreatedAt: z.iso.datetime(),
  targetGeneration: generation,
  registration: z.string(),
  lastFill: z.object({
    startedAt: z.string(),
    finishedAt: z.string(),
    result: z.enum(['complete', 'window-ended', 'ceiling-reached', 'failed', 'rejected']),
    generation: generation.optional(),
    downloadedBytes: z.number(),
    downloadedObjects: z.number(),
    evictedObjects: z.number(),
    failures: z.array(z.object({ key: z.string(), reason: z.string() })),
    message: z.string().optional(),
  }),
};

/** Bytes of every object the cache holds verified. */
export function heldBytesOf(objects: ReadonlyMap<string, HeldObject>): number {
  let total = 0;
  for (const object of objects.values()) {
    total += object.size;
  }
  return total;
}

function isIdentity(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/** A held object as recorded, or undefined when any part of it is not what a fill records. */
export function heldEntry(key: unknown, size: unknown, sha256: unknown, titleId: unknown, ino?: unknown, ctimeMs?: unknown): HeldObject | undefined {
  if (typeof key !== 'string' || typeof titleId !== 'string' || !ID.test(titleId) || objectKeyProblem(key, titleId) !== undefined) {
    return undefined;
  }
  if (!Number.isSafeInteger(size) || (size as number) < 0 || (size as number) > MAX_OBJECT_BYTES || typeof sha256 !== 'string' || !SHA256_HEX.test(sha256)) {
    return undefined;
  }
  const identified = isIdentity(ino) && isIdentity(ctimeMs);
  // JSON writes an absent identity as null.
  if (!identified && (ino ?? ctimeMs ?? undefined) !== undefined) {
    return undefined;
  }
  return identified ? { size: size as number, sha256, titleId, ino, ctimeMs } : { size: size as number, sha256, titleId };
}

/** Takes each fact that is valid from `raw` into `facts`, naming those that are not. */
function readFacts(raw: Record<string, unknown>, facts: Record<string, unknown>, problems: string[], where: string): void {
  for (const [name, schema] of Object.entries(factSchemas)) {
    if (!Object.hasOwn(raw, name) || raw[name] === undefined) {
      continue;
    }
    const parsed = (schema as z.ZodType).safeParse(raw[name]);
    if (parsed.success) {
      facts[name] = parsed.data;
    } else {
      problems.push(`${where}: ${name} is not valid and was dropped`);
    }
  }
}

/**
 * The state from the snapshot's and journal's texts (undefined when absent). Never throws: what
 * cannot be read is dropped, and `problems` says what, for the log.
 */
export function parseState(snapshot: string | undefined, journal: string | undefined): { readonly state: AgentState; readonly problems: readonly string[] } {
  const problems: string[] = [];
  const facts: Record<string, unknown> = {};
  const objects = new Map<string, HeldObject>();
  let droppedObjects = 0;
  const hold = (key: unknown, object: HeldObject | undefined) => {
    if (object) {
      objects.set(key as string, object);
    } else {
      droppedObjects++;
    }
  };
  if (snapshot !== undefined) {
    let raw: unknown;
    try {
      raw = JSON.parse(snapshot);
    } catch (error) {
      problems.push(`state.json is not JSON (${(error as Error).message}); what the cache holds is found again from its files`);
    }
    if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
      const record = raw as Record<string, unknown>;
      readFacts(record, facts, problems, 'state.json');
      if (record.format === STATE_FORMAT && Array.isArray(record.objects)) {
        for (const entry of record.objects as unknown[]) {
          const fields = Array.isArray(entry) ? entry : [];
          hold(fields[0], heldEntry(fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]));
        }
      } else if (record.format === undefined && typeof record.objects === 'object' && record.objects !== null && !Array.isArray(record.objects)) {
        // Version 1 kept objects as a JSON object by key; JSON.parse makes even `__proto__` an own key.
        for (const [key, value] of Object.entries(record.objects)) {
          const object = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
          hold(key, heldEntry(key, object.size, object.sha256, object.titleId));
        }
      } else {
        problems.push(`state.json is neither ${STATE_FORMAT} nor the version before it; what the cache holds is found again from its files`);
      }
    } else if (raw !== undefined) {
      problems.push('state.json is not a JSON object; what the cache holds is found again from its files');
    }
  }
  if (journal !== undefined) {
    const lines = journal.split('\n');
    let unreadable = 0;
    lines.forEach((line, index) => {
      if (line === '') {
        return;
      }
      let entry: unknown;
      try {
        entry = JSON.parse(line);
      } catch {
        // A crash mid-append leaves the last line torn: it recorded nothing.
        unreadable += index === lines.length - 1 ? 0 : 1;
        return;
      }
      const [op, ...fields] = Array.isArray(entry) ? entry : [];
      if (op === 'hold') {
        hold(fields[0], heldEntry(fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]));
      } else if (op === 'drop' && typeof fields[0] === 'string') {
        objects.delete(fields[0]);
      } else if (op === 'facts' && typeof fields[0] === 'object' && fields[0] !== null) {
        readFacts(fields[0] as Record<string, unknown>, facts, problems, 'journal.jsonl');
      } else {
        unreadable++;
      }
    });
    if (unreadable > 0) {
      problems.push(`journal.jsonl has ${unreadable} unreadable lines, ignored`);
    }
  }
  if (droppedObjects > 0) {
    problems.push(`${droppedObjects} recorded objects were not valid and were dropped`);
  }
  return { state: { ...(facts as StateFacts), objects }, problems };
}

export function holdLine(key: string, object: HeldObject): string {
  return `${JSON.stringify(['hold', key, object.size, object.sha256, object.titleId, object.ino, object.ctimeMs])}\n`;
}

export function dropLine(key: string): string {
  return `${JSON.stringify(['drop', key])}\n`;
}

export function factsLine(facts: StateFacts): string {
  return `${JSON.stringify(['facts', facts])}\n`;
}

/** The snapshot's text, built a line per object so no second copy of the whole state is made. */
export function snapshotText(state: AgentState): string {
  const { objects, ...facts } = state;
  const lines: string[] = [];
  for (const [key, object] of objects) {
    lines.push(JSON.stringify([key, object.size, object.sha256, object.titleId, object.ino, object.ctimeMs]));
  }
  return `${JSON.stringify({ format: STATE_FORMAT, ...facts }).slice(0, -1)},"objects":[\n${lines.join(',\n')}\n]}\n`;
}
