import * as fs from 'node:fs';
import * as path from 'node:path';
import { inventoryDigest } from '../../../lambda/fleet/fleet-protocol';
import { ManifestObject, ManifestRejectedError, SignedFillManifest, verifyManifest } from '../../../lambda/shared/fill-manifest';
import { parseKeyring } from '../../../lambda/shared/url-token';
import { AgentConfig } from './config';
import { ControlPlane } from './control-plane';
import { cachePath, CorruptObjectError, downloadVerified } from './download';
import { HealthFigures } from './edge-metrics';
import { log } from './log';
import { Origin } from './origin';
import { fillWindowEnd, planFill, titlesHeld } from './plan';
import { RateLimiter } from './rate-limiter';
import { AgentState, FillOutcome, HeldObject, readState, writeFileAtomically, writeState } from './state';

export interface FillDependencies {
  readonly origin: Origin;
  readonly controlPlane: ControlPlane;
  readonly nowMs: () => number;
}

export interface FillOptions {
  /** Fill now, whatever the hour (operators, tests); the window still bounds the run's length otherwise. */
  readonly ignoreWindow?: boolean;
}

const ATTEMPTS_PER_OBJECT = 3;
const PROGRESS_INTERVAL_MS = 2000;
const STATE_FLUSH_MS = 500;

/** The last manifest the agent accepted, kept so `status` and reports know which titles are complete. */
export function acceptedManifestFile(stateDir: string): string {
  return path.join(stateDir, 'manifest.json');
}

export function readAcceptedManifest(stateDir: string): SignedFillManifest | undefined {
  const file = acceptedManifestFile(stateDir);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as SignedFillManifest) : undefined;
}

/**
 * One night's fill: register, fetch and verify the cluster's manifest, download what is missing
 * (bounded parallelism, bandwidth cap, disk ceiling, verified while streaming), stop cleanly at the
 * window's end keeping what is verified, evict what is no longer listed once everything new is
 * verified, and report the titles held and the node's health to the control plane.
 */
export async function fill(config: AgentConfig, deps: FillDependencies, options: FillOptions = {}): Promise<FillOutcome> {
  const startedAt = new Date(deps.nowMs()).toISOString();
  const windowEnd = options.ignoreWindow ? deps.nowMs() + 24 * 3600 * 1000 : fillWindowEnd(deps.nowMs(), config.fillWindow.startHourUtc, config.fillWindow.endHourUtc);
  let state = readState(config.stateDir);
  const finish = async (outcome: Omit<FillOutcome, 'startedAt' | 'finishedAt'>, manifest?: SignedFillManifest): Promise<FillOutcome> => {
    const done: FillOutcome = { startedAt, finishedAt: new Date(deps.nowMs()).toISOString(), ...outcome };
    state = { ...state, lastFill: done };
    writeState(config.stateDir, state);
    await report(config, deps, state, manifest ?? readAcceptedManifest(config.stateDir));
    log(done.result === 'complete' ? 'info' : 'warn', 'fill finished', { ...done, failures: done.failures.length });
    return done;
  };
  const nothing = { downloadedBytes: 0, downloadedObjects: 0, evictedObjects: 0, failures: [] };
  if (windowEnd === undefined) {
    return finish({ ...nothing, result: 'window-ended', message: `outside the fill window ${config.fillWindow.startHourUtc}:00-${config.fillWindow.endHourUtc}:00 UTC` });
  }

  const keyring = parseKeyring(fs.readFileSync(config.keyringFile, 'utf8'));
  await deps.controlPlane.register({
    applianceId: config.applianceId,
    clusterId: config.clusterId,
    region: config.region,
    baseUrl: config.baseUrl,
    capacity: config.capacity,
    prefixes: config.prefixes,
  });
  const pointer = await deps.controlPlane.manifestPointer(config.applianceId);
  const text = await deps.origin.readText(pointer.bucket, pointer.key);
  let manifest: SignedFillManifest;
  try {
    manifest = verifyManifest(text, {
      keyring,
      clusterId: config.clusterId,
      currentGeneration: state.appliedGeneration,
      nowMs: deps.nowMs(),
      diskBudgetBytes: config.diskCeilingBytes,
    });
  } catch (error) {
    if (error instanceof ManifestRejectedError) {
      return finish({ ...nothing, result: 'rejected', message: error.message });
    }
    throw error;
  }
  writeFileAtomically(acceptedManifestFile(config.stateDir), text);
  const plan = planFill(manifest, state.objects);
  state = { ...state, targetGeneration: manifest.generation };
  writeState(config.stateDir, state);
  log('info', 'fill starting', { generation: manifest.generation, downloads: plan.downloads.length, bytes: plan.downloadBytes, evictions: plan.evictions.length });

  const controller = new AbortController();
  const windowTimer = setTimeout(() => controller.abort(new Error('fill window ended')), Math.max(0, windowEnd - deps.nowMs()));
  const limiter = new RateLimiter(config.bandwidthCapBytesPerSecond);
  const failures: { key: string; reason: string }[] = [];
  let downloadedBytes = 0;
  let downloadedObjects = 0;
  let reservedBytes = 0;
  let ceilingReached = false;
  const started = performance.now();
  const progress = setInterval(() => {
    const seconds = (performance.now() - started) / 1000;
    const rate = downloadedBytes / Math.max(seconds, 0.001);
    log('info', 'fill progress', {
      bytes: downloadedBytes,
      totalBytes: plan.downloadBytes,
      objects: downloadedObjects,
      totalObjects: plan.downloads.length,
      rateBytesPerSecond: Math.round(rate),
      etaSeconds: rate > 0 ? Math.round((plan.downloadBytes - downloadedBytes) / rate) : null,
    });
  }, PROGRESS_INTERVAL_MS);

  // State is persisted at most every STATE_FLUSH_MS, and at the end: an object verified but not yet
  // recorded is merely fetched again next time, while nothing is recorded before its bytes are synced.
  // The working set is mutated in place and the held total kept as a running sum: a node holds
  // hundreds of thousands of segments, so nothing here may copy or scan them per object.
  const objects: Record<string, HeldObject> = { ...state.objects };
  let heldBytes = Object.values(objects).reduce((sum, held) => sum + held.size, 0);
  let lastFlush = 0;
  const persist = (force = false) => {
    if (force || performance.now() - lastFlush >= STATE_FLUSH_MS) {
      state = { ...state, objects };
      writeState(config.stateDir, state);
      lastFlush = performance.now();
    }
  };
  const queue = [...plan.downloads];
  const worker = async () => {
    for (let object = queue.shift(); object && !controller.signal.aborted; object = queue.shift()) {
      const replaced = objects[object.key]?.size ?? 0;
      if (heldBytes - replaced + reservedBytes + object.size > config.diskCeilingBytes) {
        ceilingReached = true;
        failures.push({ key: object.key, reason: `would exceed the disk ceiling of ${config.diskCeilingBytes} bytes` });
        continue;
      }
      reservedBytes += object.size;
      try {
        await fetchWithRetries(object);
      } finally {
        reservedBytes -= object.size;
      }
    }
  };
  const fetchWithRetries = async (object: ManifestObject) => {
    for (let attempt = 1; attempt <= ATTEMPTS_PER_OBJECT; attempt++) {
      try {
        await downloadVerified(deps.origin, config.originBucket, object, config, limiter, (bytes) => (downloadedBytes += bytes), controller.signal);
        heldBytes += object.size - (objects[object.key]?.size ?? 0);
        objects[object.key] = { size: object.size, sha256: object.sha256, titleId: object.titleId };
        persist();
        downloadedObjects++;
        return;
      } catch (error) {
        if (controller.signal.aborted) {
          return;
        }
        const reason = (error as Error).message;
        log('warn', error instanceof CorruptObjectError ? 'corrupt object discarded' : 'download failed', { key: object.key, attempt, reason });
        if (attempt === ATTEMPTS_PER_OBJECT) {
          failures.push({ key: object.key, reason });
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: config.parallelism }, worker));
  } finally {
    clearTimeout(windowTimer);
    clearInterval(progress);
    persist(true);
  }

  let evictedObjects = 0;
  const complete = !controller.signal.aborted && failures.length === 0;
  if (complete) {
    for (const key of plan.evictions) {
      fs.rmSync(cachePath(config.cacheDir, key), { force: true });
      delete objects[key];
      evictedObjects++;
    }
    state = { ...state, objects, appliedGeneration: manifest.generation };
    writeState(config.stateDir, state);
  }
  const result: FillOutcome['result'] = complete ? 'complete' : controller.signal.aborted ? 'window-ended' : ceilingReached ? 'ceiling-reached' : 'failed';
  return finish({ result, generation: manifest.generation, downloadedBytes, downloadedObjects, evictedObjects, failures }, manifest);
}

/**
 * Tells the control plane what the node holds complete, and how it is: the edge's figures when the
 * caller measured them (`serve`), else none but disk use. Never fails the fill.
 */
export async function report(
  config: AgentConfig,
  deps: Pick<FillDependencies, 'controlPlane'>,
  state: AgentState,
  manifest: SignedFillManifest | undefined,
  edge: HealthFigures = { load: 0, egressGbps: 0, errorRate: 0 },
): Promise<void> {
  const titles = titlesHeld(manifest, state.objects);
  try {
    await deps.controlPlane.report({
      applianceId: config.applianceId,
      health: {
        ...edge,
        diskUsedBytes: Object.values(state.objects).reduce((sum, held) => sum + held.size, 0),
      },
      inventory: { titles, digest: inventoryDigest(titles) },
    });
  } catch (error) {
    log('error', 'report to the control plane failed', { reason: (error as Error).message });
  }
}

/** What `status` prints: what the node holds, which generation, and how the last fill went. */
export function status(config: AgentConfig) {
  const state = readState(config.stateDir);
  const manifest = readAcceptedManifest(config.stateDir);
  return {
    applianceId: config.applianceId,
    clusterId: config.clusterId,
    appliedGeneration: state.appliedGeneration ?? null,
    targetGeneration: state.targetGeneration ?? null,
    objectsHeld: Object.keys(state.objects).length,
    bytesHeld: Object.values(state.objects).reduce((sum, held) => sum + held.size, 0),
    titlesHeld: titlesHeld(manifest, state.objects),
    lastFill: state.lastFill ?? null,
  };
}
