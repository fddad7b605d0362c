#!/usr/bin/env node
/**
 * `npm run bench:play [-- --json] [-- --rate 200] [-- --seconds 10]`: the local platform's play
 * path. (1) `/play` latency p50/p99 against one local region (the real handler behind the local
 * gateway on DynamoDB Local), with requests sent at evenly spaced times (an open loop: each
 * latency counts from when its request was due, so queueing is not hidden), many viewers each
 * within their plan's streams. (2) Time from asking `/play` to the first segment buffered, with the
 * CLI player. (3) `npm start -- --once` from a warm install (dependencies installed, nothing
 * encoded yet) to the first played segment. Goals: p99 under 50 ms at 200 plays/s on a 2-core
 * machine, first segment under 300 ms, start to first segment under 60 s.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ViewerStore } from '../lambda/playback/viewer-store';
import { openLoop, OpenLoopResult } from '../local/load/open-loop';
import { DEFAULT_BASE_PORT, namedPorts, portsOf } from '../local/platform/layout';
import { loginAsDevViewer, regionEndpoints } from '../local/platform/login';
import { localDocumentClient } from '../local/platform/operations';
import { LocalPlatform } from '../local/platform/platform';
import { play } from '../local/player';
import { requireTools } from '../local/prerequisites';
import { portsFree } from '../local/services/ports';

const GOALS = { playP99Ms: 50, requestsPerSecond: 200, firstSegmentMs: 300, startToFirstSegmentSeconds: 60 };
/** Viewers the load plays as: each premium plan holds 4 streams for the lease's 5 minutes. */
const VIEWERS = 2_000;
const WARMUP_SECONDS = 8;

async function freeBase(avoid: number): Promise<number> {
  for (let base = DEFAULT_BASE_PORT + 100; base < 60_000; base += 50) {
    if (Math.abs(base - avoid) < 30) continue;
    if (await portsFree(namedPorts(portsOf(base, 2)).map(({ port }) => port))) return base;
  }
  throw new Error('no free range of loopback ports');
}

/** `npm start -- --once` in a fresh working directory, timed from launch to the player's first segment. */
function timeStart(workdir: string, basePort: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const startedAt = Date.now();
    const child = spawn(process.execPath, [require.resolve('tsx/cli'), path.join(__dirname, 'start.ts'), '--once', '--fresh', '--workdir', workdir, '--port', String(basePort), '--appliances', '2'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let firstSegmentAt: number | undefined;
    let tail = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-3000);
      if (firstSegmentAt === undefined && /playing after \d+ ms/.test(tail)) {
        firstSegmentAt = Date.now();
      }
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0 || firstSegmentAt === undefined) {
        reject(new Error(`npm start -- --once exited ${code}: ${tail}`));
      } else {
        resolve((firstSegmentAt - startedAt) / 1000);
      }
    });
  });
}

function row(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((cell, i) => cell.padEnd(widths[i])).join('  ');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: { json: { type: 'boolean', default: false }, rate: { type: 'string', default: '200' }, seconds: { type: 'string', default: '10' }, help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) {
    process.stdout.write('usage: npm run bench:play [-- --json] [-- --rate 200] [-- --seconds 10]\n');
    return;
  }
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  if (!(rate > 0) || !(seconds > 0)) {
    process.stderr.write('--rate and --seconds must be positive numbers\n');
    process.exit(2);
  }
  requireTools('bench:play');
  const say = (line: string) => process.stderr.write(`bench:play: ${line}\n`);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-bench-play-'));
  fs.chmodSync(scratch, 0o755);
  let platform: LocalPlatform | undefined;
  try {
    const base = await freeBase(0);
    say('starting the local platform (2 appliances, H.264, tables in memory)');
    platform = await LocalPlatform.start({ workdir: path.join(scratch, 'load'), fresh: true, basePort: base, appliances: 2, codecs: ['avc1'], keepTables: false, log: () => undefined });
    const state = platform.state;
    const documents = localDocumentClient(state);
    const viewers = new ViewerStore(documents, state.tableName);
    const subs = Array.from({ length: VIEWERS }, (_, i) => `bench-viewer-${i}`);
    for (let i = 0; i < subs.length; i += 50) {
      await Promise.all(subs.slice(i, i + 50).map((sub) => viewers.putPlan(sub, 'premium')));
    }
    documents.destroy();
    const tokens = await Promise.all(subs.map((sub) => platform!.issuer.tokenFor(sub)));
    const body = JSON.stringify({ titleId: state.demoTitleId, device: { codecs: ['avc1'], maxHeight: 1080, keySystems: ['clearkey'] }, clientIp: '127.0.0.1' });
    say(`/play at ${rate}/s for ${seconds} s after a ${WARMUP_SECONDS} s warmup (JIT, caches), as ${VIEWERS} viewers`);
    const load: OpenLoopResult = await openLoop({
      targetUrl: state.regions[0].url,
      ratePerSecond: rate,
      durationSeconds: seconds,
      warmupSeconds: WARMUP_SECONDS,
      request: (index) => ({ method: 'POST', path: '/play', headers: { authorization: `Bearer ${tokens[index % tokens.length]}`, 'content-type': 'application/json' }, body }),
    });
    const refused = Object.entries(load.statusCounts).filter(([status]) => status !== '200');
    if (refused.length > 0) {
      say(`answers other than 200: ${JSON.stringify(Object.fromEntries(refused))}`);
    }
    say('time to first segment, 7 plays with the CLI player');
    const token = await loginAsDevViewer(state);
    const firstSegments: number[] = [];
    for (let i = 0; i < 7; i++) {
      const report = await play({ regions: regionEndpoints(state), token, titleId: state.demoTitleId!, speed: Infinity, maxSeconds: 6 });
      if (report.timeToFirstSegmentMs === undefined || !report.completed) {
        throw new Error(`a play failed: ${report.errors.join('; ')}`);
      }
      firstSegments.push(report.timeToFirstSegmentMs);
    }
    firstSegments.sort((a, b) => a - b);
    await platform.stop();
    platform = undefined;
    say('npm start -- --once from a fresh working directory');
    const startToFirstSegmentSeconds = await timeStart(path.join(scratch, 'start'), await freeBase(base));
    const figures = {
      requestsPerSecond: rate,
      achievedRequestsPerSecond: Math.round(load.achievedRatePerSecond * 10) / 10,
      playP50Ms: round(load.latencyMs.p50),
      playP99Ms: round(load.latencyMs.p99),
      playMaxMs: round(load.latencyMs.max),
      playErrors: load.errors + refused.reduce((sum, [, count]) => sum + count, 0),
      firstSegmentMs: round(firstSegments[Math.floor(firstSegments.length / 2)]),
      startToFirstSegmentSeconds: round(startToFirstSegmentSeconds),
      goals: GOALS,
    };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(figures)}\n`);
      return;
    }
    const widths = [34, 12, 10];
    process.stdout.write(
      [
        row(['measure', 'result', 'goal'], widths),
        row([`/play p50 at ${rate}/s (open loop)`, `${figures.playP50Ms} ms`, ''], widths),
        row([`/play p99 at ${rate}/s (open loop)`, `${figures.playP99Ms} ms`, `< ${GOALS.playP99Ms} ms`], widths),
        row(['/play answered per second', `${figures.achievedRequestsPerSecond}`, `${GOALS.requestsPerSecond}`], widths),
        row(['/play errors and refusals', `${figures.playErrors}`, '0'], widths),
        row(['first segment (median of 7)', `${figures.firstSegmentMs} ms`, `< ${GOALS.firstSegmentMs} ms`], widths),
        row(['npm start to first segment', `${figures.startToFirstSegmentSeconds} s`, `< ${GOALS.startToFirstSegmentSeconds} s`], widths),
      ].join('\n') + '\n',
    );
  } finally {
    await platform?.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
main().catch((error: Error) => {
  process.stderr.write(`bench:play: ${error.message}\n`);
  process.exit(1);
});
