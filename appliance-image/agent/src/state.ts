import * as fs from 'node:fs';
import * as path from 'node:path';

export interface HeldObject {
  readonly size: number;
  readonly sha256: string;
  readonly titleId: string;
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

/** What the agent knows about its cache: every object it verified, and how fills went. */
export interface AgentState {
  /** The manifest generation the cache fully matches. */
  readonly appliedGeneration?: number;
  /** The generation being filled towards (equals appliedGeneration once complete). */
  readonly targetGeneration?: number;
  readonly objects: Readonly<Record<string, HeldObject>>;
  readonly lastFill?: FillOutcome;
  /** The registration the control plane last accepted, as sent. */
  readonly registration?: string;
}

/** Bytes of every object the cache holds verified. */
export function heldBytesOf(objects: Readonly<Record<string, HeldObject>>): number {
  let total = 0;
  for (const key in objects) {
    total += objects[key].size;
  }
  return total;
}

export function stateFile(stateDir: string): string {
  return path.join(stateDir, 'state.json');
}

export function readState(stateDir: string): AgentState {
  const file = stateFile(stateDir);
  if (!fs.existsSync(file)) {
    return { objects: {} };
  }
  return JSON.parse(fs.readFileSync(file, 'utf8')) as AgentState;
}

/** Writes the state atomically: a crash leaves either the old file or the new one, never half. */
export function writeState(stateDir: string, state: AgentState): void {
  writeFileAtomically(stateFile(stateDir), JSON.stringify(state, null, 1));
}

export function writeFileAtomically(file: string, content: string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  const handle = fs.openSync(temporary, 'w', mode);
  try {
    fs.writeSync(handle, content);
    fs.fsyncSync(handle);
  } finally {
    fs.closeSync(handle);
  }
  fs.renameSync(temporary, file);
}
