#!/usr/bin/env node
/**
 * `npm run bench:steering [-- --json] [--appliances N] [--titles N]`: the steering snapshot and the
 * decisions made from it, for a synthetic fleet (`simulator/fleet.ts`; 20,000 appliances and
 * 50,000 titles by default) placed the way fill planning places content.
 *
 * 1. Builds the snapshot with every cluster coded (`orderByHolders`, then `encodeSnapshot`: what a
 *    builder without a code cache does; `bench:fleet` measures the builder's steady writes)
 *    and times it.
 * 2. In a fresh Node process (a clean heap, as a play function's), decodes it and builds the
 *    steering index (`FleetIndex.fromSnapshot`), timing that and measuring what it retains: heap
 *    plus array buffers, after forced garbage collections, over what the process held before.
 * 3. In that process, steers warm-up requests and then 200,000 timed ones (titles Zipf 0.9, 90%
 *    of players inside a cluster's prefix; `simulator/steering-load.ts`), one at a time on one core.
 *
 * Goals: a snapshot under 32 MB; loaded in under 1 s into under 256 MB; at least 50,000
 * decisions/s with p99 under 1 ms. Needs nothing beyond Node.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { DEFAULT_STEERING_POLICY, FleetIndex, SteeringRequest } from '../lambda/playback/steering';
import { decodeSnapshot, encodeSnapshot, orderByHolders, SNAPSHOT_FORMAT, SnapshotAppliance, SteeringSnapshot } from '../lambda/steering/snapshot';
import { SyntheticFleet, syntheticFleet } from '../simulator/fleet';
import { DecisionFigures, measureDecisions, steeringRequests } from '../simulator/steering-load';

const USAGE = 'usage: npm run bench:steering -- [--json] [--appliances 20000] [--titles 50000]';
const SEED = 42;
const WARMUP = 20_000;
const DECISIONS = 200_000;
const MB = 1e6;
const GOALS = {
  maxSnapshotCompressedBytes: 32 * MB,
  maxSnapshotLoadSeconds: 1,
  maxSnapshotHeapMb: 256,
  minDecisionsPerSecond: 50_000,
  maxDecisionP99Ms: 1,
} as const;

interface Options {
  readonly json: boolean;
  readonly appliances: number;
  readonly titles: number;
  /** Internal: the directory of a built snapshot, for the child process that loads it. */
  readonly load?: string;
}

/** What the child process reports. */
interface LoadFigures {
  readonly snapshotLoadSeconds: number;
  readonly snapshotHeapMb: number;
  /** The child's peak resident set (Linux), the Node runtime and the snapshot's bytes included. */
  readonly loadPeakRssMb?: number;
  readonly indexTitles: number;
  readonly decisions: DecisionFigures;
}

function options(): Options {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    allowPositionals: false,
    options: {
      json: { type: 'boolean', default: false },
      appliances: { type: 'string', default: '20000' },
      titles: { type: 'string', default: '50000' },
      load: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const whole = (name: 'appliances' | 'titles') => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value <= 0) {
      throw new Error(`--${name} must be a positive whole number, not '${values[name]}'`);
    }
    return value;
  };
  return { json: values.json, appliances: whole('appliances'), titles: whole('titles'), load: values.load };
}

/** The fleet as its region's builder would write it: every appliance, with health and holdings. */
function snapshotOf(fleet: SyntheticFleet, builtAtMs: number): SteeringSnapshot {
  const titleIndex = new Map(fleet.titleIds.map((titleId, index) => [titleId, index]));
  const words = Math.ceil(fleet.titleIds.length / 32);
  const bits = new Uint32Array(fleet.appliances.length * words);
  const appliances = fleet.appliances.map((registration, i): SnapshotAppliance => {
    const holdings = bits.subarray(i * words, (i + 1) * words);
    for (const titleId of fleet.holdings[i]) {
      const bit = titleIndex.get(titleId)!;
      holdings[bit >>> 5] |= 1 << (bit & 31);
    }
    const { applianceId, clusterId, region, baseUrl, prefixes } = registration;
    return { applianceId, clusterId, region, baseUrl, prefixes, ...fleet.health[i], registrationVersion: builtAtMs - 86_400_000, holdings };
  });
  return { format: SNAPSHOT_FORMAT, region: fleet.appliances[0]?.region ?? 'us-east-1', builtAtMs, titles: fleet.titleIds, appliances };
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

/** The child: loads the snapshot as a play function would, then steers. Prints its figures as JSON. */
function loadAndSteer(dir: string): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) {
    throw new Error('the loading process needs --expose-gc to measure what the index retains');
  }
  const { nowMs } = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')) as { nowMs: number };
  const bytes = fs.readFileSync(path.join(dir, 'snapshot.bin'));
  const retained = () => {
    gc();
    gc();
    const usage = process.memoryUsage();
    return usage.heapUsed + usage.arrayBuffers;
  };
  const before = retained();
  const started = process.hrtime.bigint();
  let index: FleetIndex | undefined = FleetIndex.fromSnapshot(decodeSnapshot(bytes), DEFAULT_STEERING_POLICY);
  const snapshotLoadSeconds = seconds(started);
  const snapshotHeapMb = (retained() - before) / MB;
  const peakKb = /^VmHWM:\s*(\d+) kB$/m.exec(fs.existsSync('/proc/self/status') ? fs.readFileSync('/proc/self/status', 'utf8') : '')?.[1];

  const requests = JSON.parse(fs.readFileSync(path.join(dir, 'requests.json'), 'utf8')) as SteeringRequest[];
  const decisions = measureDecisions(index, requests, nowMs, WARMUP);
  const figures: LoadFigures = {
    snapshotLoadSeconds,
    snapshotHeapMb,
    ...(peakKb === undefined ? {} : { loadPeakRssMb: (Number(peakKb) * 1024) / MB }),
    indexTitles: index.titleCount,
    decisions,
  };
  index = undefined;
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

function runChild(dir: string): Promise<LoadFigures> {
  const tsx = pathToFileURL(require.resolve('tsx')).href;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', tsx, __filename, '--load', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) {
        reject(new Error(`the loading process exited ${code}`));
        return;
      }
      resolve(JSON.parse(stdout) as LoadFigures);
    });
  });
}

async function main(): Promise<void> {
  let settings: Options;
  try {
    settings = options();
  } catch (error) {
    process.stderr.write(`bench:steering: ${(error as Error).message} (see --help)\n`);
    process.exit(2);
  }
  if (settings.load !== undefined) {
    loadAndSteer(settings.load);
    return;
  }
  const say = (line: string) => process.stderr.write(`bench:steering: ${line}\n`);
  const nowMs = Date.now();

  say(`generating ${settings.appliances} appliances and ${settings.titles} titles`);
  let started = process.hrtime.bigint();
  const fleet = syntheticFleet({ appliances: settings.appliances, titles: settings.titles, seed: SEED, nowMs });
  const fleetGenerateSeconds = seconds(started);
  const held = fleet.holdings.map((titles) => titles.length);
  const clusters = new Map(fleet.appliances.map((appliance) => [appliance.clusterId, { region: appliance.region, prefixes: appliance.prefixes }]));
  const snapshot = snapshotOf(fleet, nowMs);

  say('ordering and encoding the snapshot');
  started = process.hrtime.bigint();
  const bytes = encodeSnapshot(orderByHolders(snapshot));
  const snapshotEncodeSeconds = seconds(started);
  const snapshotBytes = gunzipSync(bytes, { maxOutputLength: 2 ** 31 }).length;

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-bench-steering-'));
  let loaded: LoadFigures;
  try {
    fs.writeFileSync(path.join(dir, 'snapshot.bin'), bytes);
    fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify({ nowMs }));
    const requests = steeringRequests({ seed: SEED, count: WARMUP + DECISIONS, titleIds: fleet.titleIds, clusters: [...clusters.values()] });
    fs.writeFileSync(path.join(dir, 'requests.json'), JSON.stringify(requests));
    say('loading the snapshot and steering in a fresh process');
    loaded = await runChild(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const { decisions } = loaded;
  const met = {
    snapshotSize: bytes.length < GOALS.maxSnapshotCompressedBytes,
    snapshotLoad: loaded.snapshotLoadSeconds < GOALS.maxSnapshotLoadSeconds && loaded.snapshotHeapMb < GOALS.maxSnapshotHeapMb,
    decisions: decisions.decisionsPerSecond >= GOALS.minDecisionsPerSecond && decisions.p99Ms < GOALS.maxDecisionP99Ms,
  };
  const round = (value: number, digits: number) => Number(value.toFixed(digits));
  const figures = {
    appliances: fleet.appliances.length,
    titles: fleet.titleIds.length,
    clusters: clusters.size,
    meanTitlesPerAppliance: round(held.reduce((sum, count) => sum + count, 0) / Math.max(1, held.length), 1),
    maxTitlesPerAppliance: held.reduce((max, count) => Math.max(max, count), 0),
    fleetGenerateSeconds: round(fleetGenerateSeconds, 2),
    snapshotBytes,
    snapshotCompressedBytes: bytes.length,
    snapshotEncodeSeconds: round(snapshotEncodeSeconds, 2),
    snapshotLoadSeconds: round(loaded.snapshotLoadSeconds, 3),
    snapshotHeapMb: round(loaded.snapshotHeapMb, 1),
    ...(loaded.loadPeakRssMb === undefined ? {} : { loadPeakRssMb: round(loaded.loadPeakRssMb, 1) }),
    decisions: decisions.decisions,
    decisionsPerSecond: Math.round(decisions.decisionsPerSecond),
    decisionP50Ms: round(decisions.p50Ms, 4),
    decisionP99Ms: round(decisions.p99Ms, 4),
    decisionMaxMs: round(decisions.maxMs, 4),
    originShare: round(decisions.originShare, 4),
    checksum: decisions.checksum,
    goals: GOALS,
    goalsMet: met,
    meetsGoals: met.snapshotSize && met.snapshotLoad && met.decisions,
  };
  if (loaded.indexTitles !== figures.titles) {
    throw new Error(`the loaded index knows ${loaded.indexTitles} titles, the snapshot was built with ${figures.titles}`);
  }
  if (settings.json) {
    process.stdout.write(`${JSON.stringify(figures)}\n`);
    return;
  }
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const rows: [string, string][] = [
    ['fleet', `${figures.appliances} appliances in ${figures.clusters} clusters, ${figures.titles} titles (generated in ${figures.fleetGenerateSeconds} s)`],
    ['titles held per appliance', `mean ${figures.meanTitlesPerAppliance}, max ${figures.maxTitlesPerAppliance}`],
    ['snapshot', `${(figures.snapshotCompressedBytes / MB).toFixed(1)} MB gzip'd, ${(figures.snapshotBytes / MB).toFixed(1)} MB raw (goal < ${GOALS.maxSnapshotCompressedBytes / MB} MB): ${verdict(met.snapshotSize)}`],
    ['order + encode, every cluster coded', `${figures.snapshotEncodeSeconds} s`],
    ['decode + index (fresh process)', `${figures.snapshotLoadSeconds} s, ${figures.snapshotHeapMb} MB retained${figures.loadPeakRssMb === undefined ? '' : `, ${figures.loadPeakRssMb} MB peak RSS`} (goal < ${GOALS.maxSnapshotLoadSeconds} s, < ${GOALS.maxSnapshotHeapMb} MB): ${verdict(met.snapshotLoad)}`],
    ['decisions/s (one core)', `${figures.decisionsPerSecond} over ${figures.decisions} (goal >= ${GOALS.minDecisionsPerSecond})`],
    ['p50 / p99 / max latency', `${figures.decisionP50Ms} / ${figures.decisionP99Ms} / ${figures.decisionMaxMs} ms (goal p99 < ${GOALS.maxDecisionP99Ms} ms): ${verdict(met.decisions)}`],
    ['decisions sent to origin', `${(figures.originShare * 100).toFixed(2)}%`],
    ['goals', figures.meetsGoals ? 'all met' : 'MISSED'],
  ];
  console.log('| measure | value |');
  console.log('| --- | --- |');
  for (const [measure, value] of rows) {
    console.log(`| ${measure} | ${value} |`);
  }
}

main().catch((error: Error) => {
  process.stderr.write(`bench:steering: ${error.message}\n`);
  process.exit(1);
});
