import * as fs from 'node:fs';
import { MAX_MANIFEST_BYTES, ManifestRejectedError, objectsForAppliance, SignedFillManifest, verifyManifest } from '../../../lambda/shared/fill-manifest';
import { parseKeyring } from '../../../lambda/shared/url-token';
import { AgentConfig } from './config';
import { ControlPlane, ControlPlaneError } from './control-plane';
import { HealthFigures } from './edge-metrics';
import { log } from './log';
import { Origin } from './origin';
import { HoldingsTracker } from './holdings';
import { fillWindowEnd, FillPlan, planFill, titlesHeld } from './plan';
import { RetryPolicy, withRetries } from './retry';
import { AgentState, FillOutcome, heldBytesOf, StateFacts } from './state';
import { NodeStore, StoreRefusedError } from './store';
import { transfer } from './transfer';

export interface FillDependencies {
  readonly origin: Origin;
  readonly controlPlane: ControlPlane;
  readonly nowMs: () => number;
}

export interface FillOptions {
  /** Fill now, whatever the hour (operators, tests); the window still bounds the run's length otherwise. */
  readonly ignoreWindow?: boolean;
}

/** Register, manifest pointer and manifest: nothing goes on without them, so they are retried until the window ends. */
const CONTROL_RETRIES: RetryPolicy = { baseDelayMs: 1000, maxDelayMs: 60_000 };
/** The report at the end may outlive the window by this much. */
const REPORT_GRACE_MS = 60_000;

type Outcome = Omit<FillOutcome, 'startedAt' | 'finishedAt'>;
const NOTHING = { downloadedBytes: 0, downloadedObjects: 0, evictedObjects: 0, failures: [] };

/** The last manifest the agent accepted, kept so `status` and reports know which titles are complete. */
export function readAcceptedManifest(stateDir: string, problems?: string[]): SignedFillManifest | undefined {
  const text = NodeStore.acceptedManifestText(stateDir, problems);
  try {
    return text === undefined ? undefined : (JSON.parse(text) as SignedFillManifest);
  } catch (error) {
    problems?.push(`manifest.json is not JSON: ${(error as Error).message}`);
    return undefined;
  }
}

interface RemoteCalls {
  readonly deadlineMs: number;
  readonly nowMs: () => number;
  readonly signal?: AbortSignal;
}

/** Calls the control plane or the origin, retrying what is transient until the window's end. */
function remote<T>(what: string, call: () => Promise<T>, limits: RemoteCalls, policy = CONTROL_RETRIES): Promise<T> {
  return withRetries(call, { ...limits, policy, onRetry: (error, attempt, delayMs) => log('warn', `${what} failed; retrying`, { attempt, retryInMs: delayMs, reason: error.message }) });
}

/** Registers, then fetches and verifies the cluster's manifest: the manifest and its text, or why it was refused. */
async function receiveManifest(
  config: AgentConfig,
  deps: FillDependencies,
  state: AgentState,
  limits: RemoteCalls,
): Promise<{ registration: string } & ({ manifest: SignedFillManifest; text: string } | { rejected: string })> {
  const keyring = parseKeyring(fs.readFileSync(config.keyringFile, 'utf8'));
  const registration = JSON.stringify(registrationOf(config));
  // Registration is idempotent: a node whose registration is unchanged since the control plane
  // last accepted it asks for its manifest at the same time instead of one round trip later.
  const registering = remote('register', () => deps.controlPlane.register(JSON.parse(registration)), limits);
  if (registration !== state.registration) {
    await registering;
  }
  const [pointer] = await Promise.all([remote('manifest pointer', () => deps.controlPlane.manifestPointer(config.applianceId), limits), registering]);
  if (typeof pointer?.bucket !== 'string' || typeof pointer.key !== 'string') {
    throw new Error(`the control plane's manifest pointer names no bucket and key: ${JSON.stringify(pointer).slice(0, 200)}`);
  }
  const text = await remote('manifest read', () => deps.origin.readText(pointer.bucket, pointer.key, MAX_MANIFEST_BYTES), limits);
  try {
    const manifest = verifyManifest(text, {
      keyring,
      clusterId: config.clusterId,
      currentGeneration: state.appliedGeneration,
      currentCreatedAt: state.appliedCreatedAt,
      nowMs: deps.nowMs(),
      diskBudgetBytes: config.diskCeilingBytes,
      applianceId: config.applianceId,
    });
    return { registration, manifest, text };
  } catch (error) {
    if (error instanceof ManifestRejectedError) {
      return { registration, rejected: error.message };
    }
    throw error;
  }
}

/**
 * Tonight's objects must fit beside what stays. Old content is evicted only once the new is
 * verified, except what is in the way of a download and, when the rest would not fit under the
 * ceiling, just enough of what the manifest no longer lists (it is on its way out anyway), or the
 * node could never take a new plan. Returns the evictions left for the end, and how many went.
 */
function makeRoom(store: NodeStore, plan: FillPlan, diskCeilingBytes: number): { later: string[]; evicted: number } {
  const early = new Set(plan.inTheWay);
  const later = plan.evictions.filter((key) => !early.has(key));
  let heldBytes = heldBytesOf(store.objects);
  for (const key of plan.inTheWay) {
    heldBytes -= store.objects.get(key)?.size ?? 0;
  }
  while (heldBytes + plan.downloadBytes > diskCeilingBytes && later.length > 0) {
    const key = later.shift()!;
    heldBytes -= store.objects.get(key)?.size ?? 0;
    early.add(key);
  }
  early.forEach((key) => store.evict(key));
  if (early.size > 0) {
    log('info', 'evicted early to make room', { objects: early.size, inTheWay: plan.inTheWay.length });
  }
  return { later, evicted: early.size };
}

/** What a node registers with: who it is, where players reach it, what it can hold and serve. */
export function registrationOf(config: AgentConfig) {
  return {
    applianceId: config.applianceId,
    clusterId: config.clusterId,
    region: config.region,
    baseUrl: config.baseUrl,
    capacity: config.capacity,
    prefixes: config.prefixes,
  };
}

/**
 * One night's fill, as a pipeline: fetch and verify the cluster's manifest (registering first),
 * reconcile the state with the cache, plan, transfer (download, verify, commit; bounded by the
 * window, the bandwidth cap and the disk ceiling), evict what is no longer listed once everything
 * new is verified, and report the titles held and the node's health to the control plane.
 */
export async function fill(config: AgentConfig, deps: FillDependencies, options: FillOptions = {}): Promise<FillOutcome> {
  const startedAt = new Date(deps.nowMs()).toISOString();
  const windowEnd = options.ignoreWindow ? deps.nowMs() + 24 * 3600 * 1000 : fillWindowEnd(deps.nowMs(), config.fillWindow.startHourUtc, config.fillWindow.endHourUtc);
  let store: NodeStore;
  try {
    store = NodeStore.open(config);
  } catch (error) {
    if (!(error instanceof StoreRefusedError)) {
      throw error;
    }
    // Nothing can be written where the node keeps its state: say so, and change nothing.
    const done: FillOutcome = { startedAt, finishedAt: new Date(deps.nowMs()).toISOString(), ...NOTHING, result: 'failed', message: error.message };
    log('error', 'fill finished', { ...done, failures: 0 });
    return done;
  }
  let accepted: SignedFillManifest | undefined;
  const finish = async (outcome: Outcome, facts: StateFacts = {}): Promise<FillOutcome> => {
    const done: FillOutcome = { startedAt, finishedAt: new Date(deps.nowMs()).toISOString(), ...outcome };
    await store.snapshot({ ...facts, lastFill: done });
    await report(config, deps, store.state, accepted ?? readAcceptedManifest(config.stateDir), undefined, {
      retry: { deadlineMs: deps.nowMs() + REPORT_GRACE_MS, nowMs: deps.nowMs },
      nowMs: deps.nowMs(),
    });
    log(done.result === 'complete' ? 'info' : 'warn', 'fill finished', { ...done, failures: done.failures.length });
    return done;
  };
  if (windowEnd === undefined) {
    return finish({ ...NOTHING, result: 'window-ended', message: `outside the fill window ${config.fillWindow.startHourUtc}:00-${config.fillWindow.endHourUtc}:00 UTC` });
  }
  const controller = new AbortController();
  const windowTimer = setTimeout(() => controller.abort(new Error('fill window ended')), Math.max(0, windowEnd - deps.nowMs()));
  const limits = { deadlineMs: windowEnd, nowMs: deps.nowMs, signal: controller.signal };
  try {
    const received = await receiveManifest(config, deps, store.state, limits);
    store.note({ registration: received.registration });
    const listed = 'manifest' in received ? new Map(objectsForAppliance(received.manifest, config.applianceId).map((object) => [object.key, object])) : undefined;
    const reconciled = await store.reconcile(listed, controller.signal);
    log(reconciled.lost + reconciled.removed + reconciled.refused.length > 0 ? 'warn' : 'info', 'cache reconciled', { ...reconciled, refused: reconciled.refused.slice(0, 20) });
    if ('rejected' in received) {
      return await finish({ ...NOTHING, result: 'rejected', message: received.rejected });
    }
    const { manifest, text } = received;
    store.acceptManifest(text);
    accepted = manifest;
    store.note({ targetGeneration: manifest.generation });
    const plan = planFill(manifest, config.applianceId, store.objects);
    const discardedPartials = store.discardPartialsExcept(plan.downloads);
    log('info', 'fill starting', { generation: manifest.generation, downloads: plan.downloads.length, bytes: plan.downloadBytes, evictions: plan.evictions.length, discardedPartials });

    const room = makeRoom(store, plan, config.diskCeilingBytes);
    const moved = await transfer(plan.downloads, { config, origin: deps.origin, store, ...limits });
    const complete = !controller.signal.aborted && moved.failures.length === 0;
    if (complete) {
      room.later.forEach((key) => store.evict(key));
    }
    const result: FillOutcome['result'] = complete ? 'complete' : controller.signal.aborted ? 'window-ended' : moved.ceilingReached ? 'ceiling-reached' : 'failed';
    const evictedObjects = room.evicted + (complete ? room.later.length : 0);
    const { downloadedBytes, downloadedObjects, failures } = moved;
    return await finish(
      { result, generation: manifest.generation, downloadedBytes, downloadedObjects, evictedObjects, failures },
      complete ? { appliedGeneration: manifest.generation, appliedCreatedAt: manifest.createdAt } : {},
    );
  } catch (error) {
    const reason = (error as Error).message;
    if (controller.signal.aborted || deps.nowMs() >= windowEnd) {
      return finish({ ...NOTHING, result: 'window-ended', message: `the window ended before the fill could go on: ${reason}` });
    }
    log('error', 'fill failed', { reason });
    return finish({ ...NOTHING, result: 'failed', message: reason });
  } finally {
    clearTimeout(windowTimer);
  }
}

/**
 * Tells the control plane how the node is (the edge's figures when the caller measured them,
 * `serve`; else none but disk use) and, when they changed, what it holds complete: `tracker`
 * decides when (the one-shot report after a fill has none and always sends them). Retried until
 * `retry.deadlineMs` when given. Never fails the fill.
 */
export async function report(
  config: AgentConfig,
  deps: Pick<FillDependencies, 'controlPlane'>,
  state: AgentState,
  manifest: SignedFillManifest | undefined,
  edge: HealthFigures = { load: 0, egressGbps: 0, errorRate: 0 },
  options: { readonly retry?: { readonly deadlineMs: number; readonly nowMs: () => number }; readonly tracker?: HoldingsTracker; readonly nowMs?: number } = {},
): Promise<void> {
  const held = new Set(titlesHeld(manifest, config.applianceId, state.objects));
  const tracker = options.tracker ?? new HoldingsTracker();
  const holdings = tracker.toSend(manifest, config.applianceId, held, options.nowMs ?? Date.now());
  const body = {
    applianceId: config.applianceId,
    health: { ...edge, diskUsedBytes: heldBytesOf(state.objects) },
    ...(holdings ? { holdings } : {}),
  };
  const { retry } = options;
  const send = () => (retry ? remote('report', () => deps.controlPlane.report(body), retry) : deps.controlPlane.report(body));
  try {
    let answer: ReportAnswer | undefined;
    try {
      answer = (await send()) as ReportAnswer | undefined;
    } catch (error) {
      // The control plane does not know this node (its registry was rebuilt, or it never registered): register, then report again.
      if (!(error instanceof ControlPlaneError && error.status === 404)) {
        throw error;
      }
      log('warn', 'the control plane does not know this node; registering again', { applianceId: config.applianceId });
      await deps.controlPlane.register(registrationOf(config));
      answer = (await send()) as ReportAnswer | undefined;
    }
    tracker.acknowledge(answer?.holdings, held, holdings);
  } catch (error) {
    log('error', 'report to the control plane failed', { reason: (error as Error).message });
  }
}

/** What `/fleet/report` answers: the holdings it stores for the node. */
interface ReportAnswer {
  readonly holdings?: { readonly digest: string; readonly generation: number } | null;
}

/** What `status` prints: what the node holds, which generation, how the last fill went, and what of its state could not be read. */
export function status(config: AgentConfig) {
  const stateProblems: string[] = [];
  const state = NodeStore.readState(config.stateDir, stateProblems);
  const manifest = readAcceptedManifest(config.stateDir, stateProblems);
  return {
    applianceId: config.applianceId,
    clusterId: config.clusterId,
    appliedGeneration: state.appliedGeneration ?? null,
    targetGeneration: state.targetGeneration ?? null,
    objectsHeld: state.objects.size,
    bytesHeld: heldBytesOf(state.objects),
    titlesHeld: titlesHeld(manifest, config.applianceId, state.objects),
    lastFill: state.lastFill ?? null,
    stateProblems,
  };
}
