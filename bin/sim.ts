#!/usr/bin/env node
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { readWorkloadFiles, WorkloadFileError } from '../simulator/files';
import { offloadPlot } from '../simulator/plot';
import { POLICY_NAMES, simulate, SimulationResult } from '../simulator/simulate';
import { DEFAULT_SYNTHETIC, SERIES_CONTINUATION, SERIES_EPISODES, SMALL_GROUP_VOLUME, SyntheticOptions, syntheticWorkload } from '../simulator/synthetic';
import { Workload } from '../simulator/workload';

const USAGE = `npm run sim -- [options]

Replays a workload day by day against the fill planner, LRU, LFU and Belady's clairvoyant bound,
on the same appliances (disk and daily egress), and prints byte offload, fill bytes, origin bytes,
bytes refused because the appliances holding a title had spent their egress, and the busiest
appliance's egress per policy. The planner serves from any appliance it placed a title on; LRU and
LFU cache per appliance, each title on the one its cluster's rendezvous order picks; Belady pools
each cluster's disk and egress.

Workload from files (all three):
  --trace FILE      CSV with header day,cluster,title,bytes: one row per request
  --catalog FILE    JSON [{"title","bytes","releaseDay","retireDay"?,"series"?,"episode"?}]: retireDay,
                    the first day a title is no longer available, is optional; series (an id) and
                    episode (1-based) go together and make the title an episode of that series
  --fleet FILE      JSON {"clusters":[{"id","appliances":[{"id","diskBytes","egressBytesPerDay"?}]}]}:
                    egressBytesPerDay (bytes an appliance serves a day: line rate x 86,400 s over
                    its peak-to-average ratio) is optional, none meaning no limit; a cluster may
                    give {"id","capacityBytes"} instead: one appliance with no egress limit
Or synthetic (defaults in brackets):
  --seed N [${DEFAULT_SYNTHETIC.seed}]  --days N [${DEFAULT_SYNTHETIC.days}]  --requests N [${DEFAULT_SYNTHETIC.requests}]
  --titles N [${DEFAULT_SYNTHETIC.catalogTitles}]  --zipf X [${DEFAULT_SYNTHETIC.zipf}]  --churn X [${DEFAULT_SYNTHETIC.churn}]
  --releases N per day [${DEFAULT_SYNTHETIC.releasesPerDay}]  --clusters N [${DEFAULT_SYNTHETIC.clusters}]
  --capacity X share of catalog bytes per cluster [${DEFAULT_SYNTHETIC.capacityShare}]  --skew X [${DEFAULT_SYNTHETIC.regionalSkew}]
  --appliances-per-cluster N  sharing the cluster's disk equally [${DEFAULT_SYNTHETIC.appliancesPerCluster}]
  --egress-share X  an appliance's daily egress as a share of its cluster's mean daily requested
                    bytes: a title drawing more saturates an appliance holding its only copy [no limit]
  --language-groups N  clusters in N language groups [${DEFAULT_SYNTHETIC.languageGroups}]: the first holds all clusters
                    but one per other group; a small group's cluster has ${SMALL_GROUP_VOLUME} of a big one's requests
  --language-skew X    how many times more a cluster plays its own group's titles [${DEFAULT_SYNTHETIC.languageSkew}]
  --taste-shift-day D  every catalog title's popularity is re-drawn on day D [none]
  --flash-crowd-day D  one little-played title becomes as hot as a top release on day D [none]
  --retirements N   catalog titles retired per day, drawn at random: none is requested from its
                    retire day on [${DEFAULT_SYNTHETIC.retirementsPerDay}]
  --series N        series of ${SERIES_EPISODES} episodes premiering at even intervals over the run (some before
                    day 0); viewers watch one episode a day and ${SERIES_CONTINUATION * 100}% go on to the next [${DEFAULT_SYNTHETIC.series}]
  --series-drop-share X  share of the series released all at once (a binge drop); the others
                    release one episode a day [${DEFAULT_SYNTHETIC.seriesDropShare}]
Scenario (any workload):
  --lost-days D1,D2 the planner never receives these days' demand; their requests still count for
                    every policy, and the caches still learn from them [none]
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
  'language-groups': 'languageGroups',
  'language-skew': 'languageSkew',
  'taste-shift-day': 'tasteShiftDay',
  'flash-crowd-day': 'flashCrowdDay',
  retirements: 'retirementsPerDay',
  'appliances-per-cluster': 'appliancesPerCluster',
  'egress-share': 'egressShare',
  series: 'series',
  'series-drop-share': 'seriesDropShare',
};

/** More than a real cluster has: each appliance keeps its own cache and rendezvous scores. */
const MAX_APPLIANCES_PER_CLUSTER = 1000;

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
      'lost-days': { type: 'string' },
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

async function workloadFrom(values: Record<string, string | boolean | undefined>): Promise<Workload> {
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
  if (!Number.isInteger(synthetic.retirementsPerDay) || synthetic.retirementsPerDay < 0 || synthetic.retirementsPerDay * synthetic.days >= synthetic.catalogTitles) {
    throw new UsageError(
      `--retirements must be a whole number of titles per day, 0 or more, retiring fewer than the ${synthetic.catalogTitles} catalog titles over ${synthetic.days} days (got ${synthetic.retirementsPerDay})`,
    );
  }
  if (synthetic.clusters > 65_535) {
    throw new UsageError(`--clusters must be at most 65,535 (got ${synthetic.clusters})`);
  }
  for (const [flag, value] of [['zipf', synthetic.zipf], ['churn', synthetic.churn], ['skew', synthetic.regionalSkew]] as const) {
    if (!(value >= 0) || (flag === 'zipf' && value === 0)) {
      throw new UsageError(`--${flag} must be ${flag === 'zipf' ? 'above' : 'at least'} 0 (got ${value})`);
    }
  }
  if (!Number.isInteger(synthetic.appliancesPerCluster) || synthetic.appliancesPerCluster < 1 || synthetic.appliancesPerCluster > MAX_APPLIANCES_PER_CLUSTER) {
    throw new UsageError(`--appliances-per-cluster must be a whole number from 1 to ${MAX_APPLIANCES_PER_CLUSTER} (got ${synthetic.appliancesPerCluster})`);
  }
  if (!(synthetic.egressShare > 0)) {
    throw new UsageError(`--egress-share must be above 0 (got ${synthetic.egressShare})`);
  }
  if (!Number.isInteger(synthetic.languageGroups) || synthetic.languageGroups < 1 || synthetic.languageGroups > synthetic.clusters) {
    throw new UsageError(`--language-groups must be a whole number from 1 to the ${synthetic.clusters} clusters (got ${synthetic.languageGroups})`);
  }
  if (!(synthetic.languageSkew >= 1)) {
    throw new UsageError(`--language-skew must be at least 1 (got ${synthetic.languageSkew})`);
  }
  if (!Number.isInteger(synthetic.tasteShiftDay) || synthetic.tasteShiftDay < -1 || synthetic.tasteShiftDay >= synthetic.days) {
    throw new UsageError(`--taste-shift-day must be a whole day from 0 to ${synthetic.days - 1} (got ${synthetic.tasteShiftDay})`);
  }
  if (!Number.isInteger(synthetic.flashCrowdDay) || synthetic.flashCrowdDay < -1 || synthetic.flashCrowdDay >= synthetic.days) {
    throw new UsageError(`--flash-crowd-day must be a whole day from 0 to ${synthetic.days - 1} (got ${synthetic.flashCrowdDay})`);
  }
  if (!Number.isInteger(synthetic.series) || synthetic.series < 0) {
    throw new UsageError(`--series must be a whole number of series, 0 or more (got ${synthetic.series})`);
  }
  if (!(synthetic.seriesDropShare >= 0 && synthetic.seriesDropShare <= 1)) {
    throw new UsageError(`--series-drop-share must be a share from 0 to 1 (got ${synthetic.seriesDropShare})`);
  }
  return syntheticWorkload(synthetic);
}

/** `--lost-days 3,4`: whole days, each one the workload replays. */
function lostDays(text: string | undefined, replayed: ReadonlySet<number>): number[] {
  if (text === undefined) {
    return [];
  }
  return text.split(',').map((field) => {
    if (!/^-?\d+$/.test(field.trim())) {
      throw new UsageError(`--lost-days: '${field}' is not a whole day (give days separated by commas, e.g. 5,6)`);
    }
    const day = Number(field);
    if (!replayed.has(day)) {
      throw new UsageError(`--lost-days: day ${day} is not replayed by the workload`);
    }
    return day;
  });
}

function table(result: SimulationResult, seconds: number): string {
  const tb = (bytes: number) => (bytes / 1e12).toFixed(2);
  const percent = (value: number) => `${(value * 100).toFixed(2)}%`;
  const rows = POLICY_NAMES.map((name) => {
    const policy = result.policies[name];
    const atOrAbove = result.plannerDaysAtOrAbove[name];
    const egress = policy.worstEgress === null ? '-' : `${percent(policy.worstEgress.utilisation)} ${policy.worstEgress.id} day ${policy.worstEgress.day}`;
    return [name, percent(policy.offload), tb(policy.fillBytes), tb(policy.originBytes), tb(policy.refusedBytes), egress, atOrAbove === undefined ? '-' : percent(atOrAbove)];
  });
  const perDay = result.days.map((day, position) => [
    `${day}${position < result.warmupDays ? ' (warm-up)' : ''}${result.lostDemandDays.includes(day) ? ' (lost)' : ''}`,
    ...POLICY_NAMES.map((name) => percent(result.policies[name].offloadByDay[position])),
  ]);
  const perCluster = Object.keys(result.policies.planner.byCluster).map((clusterId) => [
    clusterId,
    tb(result.policies.planner.byCluster[clusterId].requestedBytes),
    ...POLICY_NAMES.map((name) => percent(result.policies[name].byCluster[clusterId].offload)),
  ]);
  const belady = result.policies.belady.offload;
  return [
    `${result.requests.toLocaleString('en-US')} requests over ${result.days.length} days (${result.warmupDays} warm-up), ${seconds.toFixed(1)} s`,
    ...aligned(['policy', 'byte offload', 'fill TB', 'origin TB', 'refused TB', 'busiest egress', 'planner at or above, days'], rows),
    `planner / belady: ${(result.policies.planner.offload / belady).toFixed(3)}`,
    '',
    'offload per day',
    ...aligned(['day', ...POLICY_NAMES], perDay),
    '',
    'offload per cluster (counted days)',
    ...aligned(['cluster', 'requested TB', ...POLICY_NAMES], perCluster),
  ].join('\n');
}

/** A header and rows as text columns: the first left-aligned, the rest right-aligned. */
function aligned(header: string[], rows: string[][]): string[] {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ');
  return [line(header), ...rows.map(line)];
}

async function main(): Promise<number> {
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
    const workload = await workloadFrom(values);
    const warmupDays = values.warmup === undefined ? 1 : number('warmup', values.warmup as string);
    const days = new Set(workload.requests.day).size;
    if (!Number.isInteger(warmupDays) || warmupDays < 0 || warmupDays >= days) {
      throw new UsageError(`--warmup must be a whole number of days below the ${days} replayed (got ${warmupDays})`);
    }
    if (typeof values.plot === 'string' && !fs.existsSync(path.dirname(path.resolve(values.plot)))) {
      throw new UsageError(`--plot: the directory of ${values.plot} does not exist`);
    }
    const lostDemandDays = lostDays(values['lost-days'] as string | undefined, new Set(workload.requests.day));
    const result = simulate(workload, { warmupDays, lostDemandDays });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (typeof values.plot === 'string') {
      // Written beside its destination and renamed: a failed run never leaves half a file.
      const scratch = path.join(path.dirname(values.plot), `.${path.basename(values.plot)}.${process.pid}.tmp`);
      fs.writeFileSync(scratch, offloadPlot(result));
      fs.renameSync(scratch, values.plot);
    }
    if (values.json) {
      const { requests, days, warmupDays: warmup, policies, plannerDaysAtOrAbove, requestedBytesByDay } = result;
      console.log(JSON.stringify({ requests, days: days.length, dayNumbers: days, warmupDays: warmup, lostDemandDays, seconds, policies, plannerDaysAtOrAbove, requestedBytesByDay }));
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

void main().then((code) => {
  process.exitCode = code;
});
