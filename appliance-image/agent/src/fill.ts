import * as fs from 'node:fs';
import * as path from 'node:path';
import { inventoryDigest } from '../../../lambda/fleet/fleet-protocol';
import { ManifestObject, ManifestRejectedError, SignedFillManifest, verifyManifest } from '../../../lambda/shared/fill-manifest';
import { parseKeyring } from '../../../lambda/shared/url-token';
import { AgentConfig } from './config';
import { ControlPlane } from './control-plane';
import { cachePath, Committer, CorruptObjectError, DirectoryCache, downloadVerified } from './download';
import { HealthFigures } from './edge-metrics';
import { log } from './log';
import { Origin } from './origin';
import { fillWindowEnd, planFill, titlesHeld } from './plan';
import { RateLimiter } from './rate-limiter';
import { AgentState, FillOutcome, HeldObject, heldBytesOf, readState, writeFileAtomically, writeState } from './state';

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
 * Partial downloads of objects the new manifest no longer lists would never be finished: they are
 * removed before the fill, so an interrupted night cannot leak disk. Returns how many went.
 */
function discardUnlistedPartials(stateDir: string, downloads: readonly ManifestObject[]): number {
  const dir = path.join(stateDir, 'partial');
  if (!fs.existsSync(dir)) {
    return 0;
  }
  const wanted = new Set(downloads.map((object) => object.sha256));
  const unlisted = fs.readdirSync(dir).filter((name) => !wanted.has(name));
  for (const name of unlisted) {
    fs.rmSync(path.join(dir, name), { force: true });
  }
  return unlisted.length;
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
  const registration = {
    applianceId: config.applianceId,
    clusterId: config.clusterId,
    region: config.region,
    baseUrl: config.baseUrl,
    capacity: config.capacity,
    prefixes: config.prefixes,
  };
  // Registration is idempotent: a node whose registration is unchanged since the control plane
  // last accepted it asks for its manifest at the same time instead of one round trip later.
  const registering = deps.controlPlane.register(registration);
  if (JSON.stringify(registration) !== state.registration) {
    await registering;
  }
  const [pointer] = await Promise.all([deps.controlPlane.manifestPointer(config.applianceId), registering]);
  const text = await deps.origin.readText(pointer.bucket, pointer.key);
  let manifest: SignedFillManifest;
  try {
    manifest = verifyManifest(text, {
      keyring,
      clusterId: config.clusterId,
      currentGeneration: state.appliedGeneration,
      nowMs: deps.nowMs(),
      diskBudgetBytes: config.diskCeilingBytes,
      applianceId: config.applianceId,
    });
  } catch (error) {
    if (error instanceof ManifestRejectedError) {
      return finish({ ...nothing, result: 'rejected', message: error.message });
    }
    throw error;
  }
  writeFileAtomically(acceptedManifestFile(config.stateDir), text);
  const plan = planFill(manifest, config.applianceId, state.objects);
  state = { ...state, targetGeneration: manifest.generation, registration: JSON.stringify(registration) };
  writeState(config.stateDir, state);
  const discardedPartials = discardUnlistedPartials(config.stateDir, plan.downloads);
  log('info', 'fill starting', { generation: manifest.generation, downloads: plan.downloads.length, bytes: plan.downloadBytes, evictions: plan.evictions.length, discardedPartials });

  const controller = new AbortController();
  const windowTimer = setTimeout(() => controller.abort(new Error('fill window ended')), Math.max(0, windowEnd - deps.nowMs()));
  const limiter = new RateLimiter(config.bandwidthCapBytesPerSecond);
  const dirs = { cacheDir: config.cacheDir, stateDir: config.stateDir, made: new DirectoryCache(), committer: new Committer(config.parallelism * 2) };
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
  let heldBytes = heldBytesOf(objects);
  // Tonight's objects must fit beside what stays. Normally the old content is evicted only once the
  // new is verified; when that would not fit under the ceiling, just enough of what the manifest no
  // longer lists goes first (it is on its way out anyway), or the node could never take a new plan.
  let evictedObjects = 0;
  const evict = (key: string) => {
    fs.rmSync(cachePath(config.cacheDir, key), { force: true });
    heldBytes -= objects[key].size;
    delete objects[key];
    evictedObjects++;
  };
  const evictions = [...plan.evictions];
  while (heldBytes + plan.downloadBytes > config.diskCeilingBytes && evictions.length > 0) {
    evict(evictions.shift()!);
  }
  if (evictedObjects > 0) {
    state = { ...state, objects: { ...objects } };
    writeState(config.stateDir, state);
    log('info', 'evicted early to make room', { objects: evictedObjects });
  }
  let lastFlush = 0;
  const persist = (force = false) => {
    if (force || performance.now() - lastFlush >= STATE_FLUSH_MS) {
      state = { ...state, objects };
      writeState(config.stateDir, state);
      lastFlush = performance.now();
    }
  };
  const queue = [...plan.downloads];
  const committing = new Set<Promise<void>>();
  const worker = async () => {
    for (let object = queue.shift(); object && !controller.signal.aborted; object = queue.shift()) {
      const replaced = objects[object.key]?.size ?? 0;
      if (heldBytes - replaced + reservedBytes + object.size > config.diskCeilingBytes) {
        ceilingReached = true;
        failures.push({ key: object.key, reason: `would exceed the disk ceiling of ${config.diskCeilingBytes} bytes` });
        continue;
      }
      // The object's bytes stay reserved against the ceiling until they are committed or dropped.
      reservedBytes += object.size;
      const verified = await fetchWithRetries(object);
      if (!verified) {
        reservedBytes -= object.size;
        continue;
      }
      const recorded = verified.committed
        .then(
          () => {
            heldBytes += object.size - (objects[object.key]?.size ?? 0);
            objects[object.key] = { size: object.size, sha256: object.sha256, titleId: object.titleId };
            downloadedObjects++;
            persist();
          },
          (error: Error) => {
            log('error', 'verified object could not be stored', { key: object.key, reason: error.message });
            failures.push({ key: object.key, reason: `verified but could not be stored: ${error.message}` });
          },
        )
        .finally(() => {
          reservedBytes -= object.size;
          committing.delete(recorded);
        });
      committing.add(recorded);
    }
  };
  /** Downloads and verifies the object; resolves with its commit (sync and rename) under way, or undefined if it failed. */
  const fetchWithRetries = async (object: ManifestObject): Promise<{ committed: Promise<void> } | undefined> => {
    for (let attempt = 1; attempt <= ATTEMPTS_PER_OBJECT; attempt++) {
      try {
        return await downloadVerified(deps.origin, config.originBucket, object, dirs, limiter, (bytes) => (downloadedBytes += bytes), controller.signal);
      } catch (error) {
        if (controller.signal.aborted) {
          return undefined;
        }
        const reason = (error as Error).message;
        log('warn', error instanceof CorruptObjectError ? 'corrupt object discarded' : 'download failed', { key: object.key, attempt, reason });
        if (attempt === ATTEMPTS_PER_OBJECT) {
          failures.push({ key: object.key, reason });
        }
      }
    }
    return undefined;
  };
  try {
    await Promise.all(Array.from({ length: config.parallelism }, worker));
  } finally {
    // Verified objects are committed even when the window has ended: they are kept.
    while (committing.size > 0) {
      await Promise.all([...committing]);
    }
    clearTimeout(windowTimer);
    clearInterval(progress);
    persist(true);
  }

  const complete = !controller.signal.aborted && failures.length === 0;
  if (complete) {
    evictions.forEach(evict);
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
  const titles = titlesHeld(manifest, config.applianceId, state.objects);
  try {
    await deps.controlPlane.report({
      applianceId: config.applianceId,
      health: {
        ...edge,
        diskUsedBytes: heldBytesOf(state.objects),
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
    bytesHeld: heldBytesOf(state.objects),
    titlesHeld: titlesHeld(manifest, config.applianceId, state.objects),
    lastFill: state.lastFill ?? null,
  };
}
