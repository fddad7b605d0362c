#!/usr/bin/env node
/**
 * `npm run bench:synth [-- --json] [-- --runs N]`: wall time of a full `cdk synth` of one
 * environment (both regions, bundling and compliance checks included) and of the test suite.
 * Goal: synth under 20 s on the 2-core reference machine.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { requireTools } from '../local/prerequisites';

const ROOT = path.join(__dirname, '..');
const SYNTH_GOAL_SECONDS = 20;

function timed(command: string, args: string[]): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    env: { ...process.env, CDK_DISABLE_VERSION_CHECK: 'true' },
  });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.status}:\n${result.stderr}`);
  }
  return Number(process.hrtime.bigint() - started) / 1e9;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function parseArgs(argv: string[]): { json: boolean; runs: number } {
  const runsAt = argv.indexOf('--runs');
  const runs = runsAt >= 0 ? Number(argv[runsAt + 1]) : 3;
  if (!Number.isInteger(runs) || runs < 1) {
    throw new Error(`--runs must be a positive whole number (got '${argv[runsAt + 1]}')`);
  }
  return { json: argv.includes('--json'), runs };
}

function main(): void {
  const { json, runs } = parseArgs(process.argv.slice(2));
  const cdk = path.join(ROOT, 'node_modules', '.bin', 'cdk');
  const synthSeconds = Array.from({ length: runs }, () => {
    const output = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-bench-'));
    try {
      return timed(cdk, ['synth', '--quiet', '--output', output, '-c', 'env=dev']);
    } finally {
      fs.rmSync(output, { recursive: true, force: true });
    }
  });
  const testSeconds = timed(path.join(ROOT, 'node_modules', '.bin', 'jest'), ['--silent']);
  const figures = {
    synthRuns: runs,
    synthMedianSeconds: round(median(synthSeconds)),
    synthMaxSeconds: round(Math.max(...synthSeconds)),
    synthGoalSeconds: SYNTH_GOAL_SECONDS,
    synthMeetsGoal: Math.max(...synthSeconds) < SYNTH_GOAL_SECONDS,
    testSuiteSeconds: round(testSeconds),
    cpus: os.cpus().length,
  };
  if (json) {
    console.log(JSON.stringify(figures));
    return;
  }
  console.log('| measure | seconds |');
  console.log('| --- | --- |');
  console.log(`| cdk synth -c env=dev, median of ${runs} | ${figures.synthMedianSeconds} |`);
  console.log(`| cdk synth -c env=dev, slowest | ${figures.synthMaxSeconds} |`);
  console.log(`| goal for synth | < ${SYNTH_GOAL_SECONDS} (${figures.synthMeetsGoal ? 'met' : 'MISSED'}) |`);
  console.log(`| test suite (npx jest) | ${figures.testSuiteSeconds} |`);
}

function round(seconds: number): number {
  return Math.round(seconds * 100) / 100;
}

requireTools('bench:synth');
main();
