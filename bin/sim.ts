#!/usr/bin/env node
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { readWorkloadFiles, WorkloadFileError } from '../simulator/files';
import { offloadPlot } from '../simulator/plot';
import { POLICY_NAMES, simulate, SimulationResult } from '../simulator/simulate';
import { DEFAULT_SYNTHETIC, SyntheticOptions, syntheticWorkload } from '../simulator/synthetic';
import { Workload } from '../simulator/workload';

const USAGE = `npm run sim -- [options]

Replays a workload day by day against the fill planner, LRU, LFU and Belady's clairvoyant bound,
at the same capacity, and prints byte offload, fill bytes and origin bytes per policy.

Workload from files (all three):
  --trace FILE      CSV with header day,cluster,title,bytes: one row per request
  --catalog FILE    JSON [{"title","bytes","releaseDay"}]
  --fleet FILE      JSON {"clusters":[{"id","capacityBytes"}]}
Or synthetic (defaults in brackets):
  --seed N [${DEFAULT_SYNTHETIC.seed}]  --days N [${DEFAULT_SYNTHETIC.days}]  --requests N [${DEFAULT_SYNTHETIC.requests}]
  --titles N [${DEFAULT_SYNTHETIC.catalogTitles}]  --zipf X [${DEFAULT_SYNTHETIC.zipf}]  --churn X [${DEFAULT_SYNTHETIC.churn}]
  --releases N per day [${DEFAULT_SYNTHETIC.releasesPerDay}]  --clusters N [${DEFAULT_SYNTHETIC.clusters}]
  --capacity X share of catalog bytes per cluster [${DEFAULT_SYNTHETIC.capacityShare}]  --skew X [${DEFAULT_SYNTHETIC.regionalSkew}]
Output:
  --warmup N        leading days replayed but not counted [1]
  --json            one JSON object instead of the table
  --plot FILE.svg   offload per day per policy`;

const SYNTHETIC_FLAGS: Readonly<Record<string, keyof SyntheticOptions>> = {
  seed: 'seed',
  days: 'days',
  requests: 'requests',
  titles: 'catalogTitles',
  zipf: 'zipf',
  churn: 'churn',
  releases: 'releasesPerDay',
  clusters: 'clusters',
  capacity: 'capacityShare',
  skew: 'regionalSkew',
};

class UsageError extends Error {}

function parse(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      trace: { type: 'string' },
      catalog: { type: 'string' },
      fleet: { type: 'string' },
      warmup: { type: 'string' },
      json: { type: 'boolean', default: false },
      plot: { type: 'string' },
      help: { type: 'boolean', default: false },
      ...Object.fromEntries(Object.keys(SYNTHETIC_FLAGS).map((flag) => [flag, { type: 'string' as const }])),
    },
    strict: true,
  });
  return values as Record<string, string | boolean | undefined>;
}

function number(flag: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) {
    throw new UsageError(`--${flag}: '${text}' is not a number`);
  }
  return value;
}

function workloadFrom(values: Record<string, string | boolean | undefined>): Workload {
  const files = ['trace', 'catalog', 'fleet'].filter((flag) => values[flag] !== undefined);
  if (files.length > 0) {
    if (files.length !== 3) {
      throw new UsageError('--trace, --catalog and --fleet go together: give all three');
    }
    return readWorkloadFiles({ trace: values.trace as string, catalog: values.catalog as string, fleet: values.fleet as string });
  }
  const options: Record<string, number> = { ...DEFAULT_SYNTHETIC };
  for (const [flag, key] of Object.entries(SYNTHETIC_FLAGS)) {
    if (values[flag] !== undefined) {
      options[key] = number(flag, values[flag] as string);
    }
  }
  const synthetic = options as unknown as SyntheticOptions;
  for (const key of ['days', 'requests', 'catalogTitles', 'clusters'] as const) {
    if (!Number.isInteger(synthetic[key]) || synthetic[key] < 1) {
      throw new UsageError(`${key} must be a whole number of at least 1 (got ${synthetic[key]})`);
    }
  }
  if (!(synthetic.capacityShare > 0 && synthetic.capacityShare <= 1)) {
    throw new UsageError(`--capacity must be a share of the catalog, above 0 and at most 1 (got ${synthetic.capacityShare})`);
  }
  if (!Number.isInteger(synthetic.releasesPerDay) || synthetic.releasesPerDay < 0) {
    throw new UsageError(`--releases must be a whole number of titles per day, 0 or more (got ${synthetic.releasesPerDay})`);
  }
  if (synthetic.clusters > 65_535) {
    throw new UsageError(`--clusters must be at most 65,535 (got ${synthetic.clusters})`);
  }
  for (const [flag, value] of [['zipf', synthetic.zipf], ['churn', synthetic.churn], ['skew', synthetic.regionalSkew]] as const) {
    if (!(value >= 0) || (flag === 'zipf' && value === 0)) {
      throw new UsageError(`--${flag} must be ${flag === 'zipf' ? 'above' : 'at least'} 0 (got ${value})`);
    }
  }
  return syntheticWorkload(synthetic);
}

function table(result: SimulationResult, seconds: number): string {
  const tb = (bytes: number) => (bytes / 1e12).toFixed(2);
  const rows = POLICY_NAMES.map((name) => {
    const policy = result.policies[name];
    return [name, `${(policy.offload * 100).toFixed(2)}%`, tb(policy.fillBytes), tb(policy.originBytes)];
  });
  const header = ['policy', 'byte offload', 'fill TB', 'origin TB'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ');
  const belady = result.policies.belady.offload;
  return [
    `${result.requests.toLocaleString('en-US')} requests over ${result.days.length} days (${result.warmupDays} warm-up), ${seconds.toFixed(1)} s`,
    line(header),
    ...rows.map(line),
    `planner / belady: ${(result.policies.planner.offload / belady).toFixed(3)}`,
  ].join('\n');
}

function main(): number {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parse(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  try {
    const started = process.hrtime.bigint();
    const workload = workloadFrom(values);
    const warmupDays = values.warmup === undefined ? 1 : number('warmup', values.warmup as string);
    const days = new Set(workload.requests.day).size;
    if (!Number.isInteger(warmupDays) || warmupDays < 0 || warmupDays >= days) {
      throw new UsageError(`--warmup must be a whole number of days below the ${days} replayed (got ${warmupDays})`);
    }
    if (typeof values.plot === 'string' && !fs.existsSync(path.dirname(path.resolve(values.plot)))) {
      throw new UsageError(`--plot: the directory of ${values.plot} does not exist`);
    }
    const result = simulate(workload, { warmupDays });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (typeof values.plot === 'string') {
      // Written beside its destination and renamed: a failed run never leaves half a file.
      const scratch = path.join(path.dirname(values.plot), `.${path.basename(values.plot)}.${process.pid}.tmp`);
      fs.writeFileSync(scratch, offloadPlot(result));
      fs.renameSync(scratch, values.plot);
    }
    if (values.json) {
      const { requests, days, warmupDays: warmup, policies } = result;
      console.log(JSON.stringify({ requests, days: days.length, warmupDays: warmup, seconds, policies }));
    } else {
      console.log(table(result, seconds));
    }
    return 0;
  } catch (error) {
    if (error instanceof WorkloadFileError || error instanceof UsageError) {
      console.error(`sim: ${error.message}`);
      return 2;
    }
    throw error;
  }
}

process.exitCode = main();
