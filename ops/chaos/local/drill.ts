import { setTimeout as sleep } from 'node:timers/promises';
import type { ChaosExperiment } from '../../../lib/chaos/catalog';
import { TELEMETRY_METRICS } from '../../../lambda/shared/metric-names';
import { ViewerStore } from '../../../lambda/playback/viewer-store';
import { localDocumentClient } from '../../../local/platform/operations';
import type { LocalPlatform } from '../../../local/platform/platform';
import { regionEndpoints } from '../../../local/platform/login';
import { play, PlayReport } from '../../../local/player';
import type { MetricSample } from '../../../local/region/local-region';
import { injectLocalFault } from './local-faults';
import { DrillPlay, DrillWindows, judgeSteadyState, StartSample, SteadyStateVerdict } from './steady-state';

export interface LocalDrillOptions {
  /**
   * The whole drill; the fault is on for its middle third. A fault that delays starts without
   * losing them still moves the starts of its last moments past the window's end, a dip of about
   * the delay over the window's length: 90 s (a 30 s window) keeps that to a few percent.
   * @default 90
   */
  readonly seconds?: number;
  /** Media seconds each play lasts: short plays make many stream starts to count. @default 8 */
  readonly playSeconds?: number;
  /** Media seconds per wall second. @default 4 */
  readonly speed?: number;
  /**
   * How often each player presses play, whether or not its last play has ended.
   * @default - a healthy play's wall time (playSeconds / speed) plus 1 s: at the defaults, 20
   * players start 6.7 streams a second, and the 22.5 s before the fault count about 150 starts
   */
  readonly pacingSeconds?: number;
  /** Progress lines. @default - none */
  readonly log?: (line: string) => void;
}

export interface LocalDrillResult {
  readonly experiment: ChaosExperiment;
  readonly fault: string;
  readonly windows: DrillWindows;
  readonly samples: readonly StartSample[];
  readonly verdict: SteadyStateVerdict;
}

/**
 * Tokens of `count` drill viewers on the premium plan, one per player: a plan limits one viewer's
 * concurrent streams, and a drill's load is many viewers, not one viewer on many screens.
 */
export async function drillViewerTokens(platform: LocalPlatform, count: number): Promise<string[]> {
  const documents = localDocumentClient(platform.state);
  try {
    const viewers = new ViewerStore(documents, platform.state.tableName);
    const subs = Array.from({ length: count }, (_, index) => `chaos-drill-viewer-${index + 1}`);
    for (const sub of subs) {
      await viewers.putPlan(sub, 'premium');
    }
    return await Promise.all(subs.map((sub) => platform.issuer.tokenFor(sub)));
  } finally {
    documents.destroy();
  }
}

/**
 * Runs one catalog experiment on a running local platform: one paced player per token for the
 * drill's length, the experiment's fault on for the middle third, then the steady state judged.
 * The fault is removed whatever happens.
 */
export async function runLocalDrill(platform: LocalPlatform, experiment: ChaosExperiment, tokens: readonly string[], options: LocalDrillOptions = {}): Promise<LocalDrillResult> {
  const players = tokens.length;
  const seconds = options.seconds ?? 90;
  const log = options.log ?? (() => undefined);
  const startMs = Date.now();
  const windows: DrillWindows = {
    startMs,
    warmUpMs: (seconds * 1000) / 12,
    faultStartMs: startMs + (seconds * 1000) / 3,
    faultEndMs: startMs + (seconds * 2000) / 3,
    endMs: startMs + seconds * 1000,
  };
  const firstSources = new Map<string, number>();
  const samples: StartSample[] = [];
  const collecting = collectStarts(platform, windows.endMs, samples);
  const pacingMs = (options.pacingSeconds ?? (options.playSeconds ?? 8) / (options.speed ?? 4) + 1) * 1000;
  // Staggered, so that the platform sees a steady rate of starts rather than waves.
  const loads = tokens.map((token, index) =>
    playerLoop(platform, token, { firstStartMs: startMs + (index * pacingMs) / players, pacingMs, endMs: windows.endMs }, options, firstSources),
  );

  await sleep(Math.max(0, windows.faultStartMs - Date.now()));
  const busiest = [...firstSources.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  const fault = await injectLocalFault(platform, experiment.fault, busiest, windows.faultEndMs);
  log(`${experiment.name}: fault on: ${fault.description}`);
  try {
    await sleep(Math.max(0, windows.faultEndMs - Date.now()));
  } finally {
    await fault.remove();
    log(`${experiment.name}: fault removed`);
  }
  const plays = (await Promise.all(loads)).flat();
  await collecting;
  const verdict = judgeSteadyState(plays, samples, windows, { maxSpsDipPercent: experiment.maxSpsDipPercent });
  return { experiment, fault: fault.description, windows, samples, verdict };
}

/**
 * One player: a play every `pacingMs` until the drill ends, each started on time whether or not
 * the last has ended, as viewers arrive on their own schedule: a slow play shows as a slow play,
 * not as fewer stream starts.
 */
async function playerLoop(
  platform: LocalPlatform,
  token: string,
  schedule: { readonly firstStartMs: number; readonly pacingMs: number; readonly endMs: number },
  options: LocalDrillOptions,
  firstSources: Map<string, number>,
): Promise<DrillPlay[]> {
  const plays: Promise<DrillPlay>[] = [];
  for (let startMs = schedule.firstStartMs; startMs < schedule.endMs; startMs += schedule.pacingMs) {
    await sleep(Math.max(0, startMs - Date.now()));
    plays.push(
      play({
        regions: regionEndpoints(platform.state),
        token,
        titleId: platform.state.demoTitleId!,
        speed: options.speed ?? 4,
        maxSeconds: options.playSeconds ?? 8,
        bufferTargetSeconds: 6,
        // A drill judges plays and starts, not decryption: no ffmpeg decode beside every play.
        verifyDecryption: false,
        onEvent: (event) => {
          if (event.type === 'first-segment') {
            firstSources.set(event.source, (firstSources.get(event.source) ?? 0) + 1);
          }
        },
      }).then(drillPlay),
    );
  }
  return Promise.all(plays);
}

function drillPlay(report: PlayReport): DrillPlay {
  return {
    completed: report.completed,
    wallMs: report.totalWallMs,
    rebufferMs: report.rebuffers.totalMs,
    segments: report.segments.length,
    failedFetches: report.failovers.length,
    errors: report.errors,
  };
}

/**
 * Copies the platform's stream-start metric samples as they arrive (it keeps only the last
 * minute), until `endMs` and a few seconds more for the last metrics to land.
 */
async function collectStarts(platform: LocalPlatform, endMs: number, into: StartSample[]): Promise<void> {
  const seen = new WeakSet<MetricSample>();
  const settleMs = 3_000;
  while (Date.now() < endMs + settleMs) {
    for (const sample of platform.metrics) {
      if (!seen.has(sample) && sample.name === TELEMETRY_METRICS.streamStarts) {
        seen.add(sample);
        into.push({ region: sample.region, atMs: sample.atMs, starts: sample.value });
      }
    }
    await sleep(500);
  }
}
