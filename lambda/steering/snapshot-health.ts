import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { SnapshotFormatError } from './snapshot-error';
import { SteeringSnapshot } from './snapshot';

/**
 * A steering snapshot travels as two objects. Holdings (who holds what, registrations) change only
 * when appliances register or their holdings change, and are written only then, so a play
 * function's conditional read of them is a 304 between changes; health (each appliance's last
 * report, load and error rate) changes with every build and is a few bytes per appliance. The
 * health object names the holdings object it goes with by the SHA-256 of its bytes.
 */
export const HEALTH_FORMAT = 'nearstream-steering-health/v1';

export interface SnapshotHealth {
  readonly format: typeof HEALTH_FORMAT;
  readonly builtAtMs: number;
  /** base64url SHA-256 of the holdings object these figures go with. */
  readonly holdings: string;
  /** By appliance, in the holdings object's order. */
  readonly reportedAtMs: readonly (number | null)[];
  readonly load: readonly (number | null)[];
  readonly errorRate: readonly (number | null)[];
}

/** 20,000 appliances' figures are about 1 MB of JSON: this leaves room for ten times the fleet, and no more. */
const MAX_HEALTH_BYTES = 16 * 1024 * 1024;

/** The snapshot without what changes with every build: its holdings object, the same bytes while nothing else changed. */
export function holdingsPart(snapshot: SteeringSnapshot): SteeringSnapshot {
  return {
    ...snapshot,
    builtAtMs: 0,
    appliances: snapshot.appliances.map(({ reportedAtMs: _reported, load: _load, errorRate: _errors, ...appliance }) => appliance),
  };
}

/** The figures of every appliance of `snapshot`, for the holdings object whose bytes are `holdingsBytes`. */
export function healthPart(snapshot: SteeringSnapshot, holdingsBytes: Uint8Array): SnapshotHealth {
  return {
    format: HEALTH_FORMAT,
    builtAtMs: snapshot.builtAtMs,
    holdings: digestOf(holdingsBytes),
    reportedAtMs: snapshot.appliances.map((appliance) => appliance.reportedAtMs ?? null),
    load: snapshot.appliances.map((appliance) => appliance.load ?? null),
    errorRate: snapshot.appliances.map((appliance) => appliance.errorRate ?? null),
  };
}

export function digestOf(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64url');
}

export function encodeHealth(health: SnapshotHealth): Buffer {
  return gzipSync(JSON.stringify(health));
}

/** Decodes and checks a health object; throws `SnapshotFormatError` naming what is wrong. */
export function decodeHealth(bytes: Uint8Array): SnapshotHealth {
  let text: string;
  try {
    text = gunzipSync(bytes, { maxOutputLength: MAX_HEALTH_BYTES }).toString('utf8');
  } catch (error) {
    throw new SnapshotFormatError(`health: not a gzip'd object of at most ${MAX_HEALTH_BYTES} bytes (${(error as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SnapshotFormatError('health: not JSON');
  }
  const health = value as Partial<SnapshotHealth>;
  if (typeof value !== 'object' || value === null || health.format !== HEALTH_FORMAT) {
    throw new SnapshotFormatError(`health: format must be ${HEALTH_FORMAT}`);
  }
  if (!Number.isFinite(health.builtAtMs) || typeof health.holdings !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(health.holdings)) {
    throw new SnapshotFormatError('health: builtAtMs must be a number and holdings a base64url SHA-256');
  }
  const count = Array.isArray(health.reportedAtMs) ? health.reportedAtMs.length : -1;
  for (const name of ['reportedAtMs', 'load', 'errorRate'] as const) {
    const column = health[name];
    if (!Array.isArray(column) || column.length !== count || !column.every((entry) => entry === null || Number.isFinite(entry))) {
      throw new SnapshotFormatError(`health: ${name} must be a list of ${Math.max(0, count)} numbers or nulls`);
    }
  }
  return health as SnapshotHealth;
}
