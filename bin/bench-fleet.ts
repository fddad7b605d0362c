#!/usr/bin/env node
/**
 * `npm run bench:fleet [-- --json] [--sizes 1000,5000,20000] [--titles 50000]`: the control plane
 * at fleet scale, on DynamoDB Local and the S3 server. Per fleet size: simulated appliances
 * register and report through the fleet handler (health only, and holdings once, relative to
 * placements written as planning writes them); the region's snapshot builder reads the registry
 * and writes the snapshot; a play function, in a process of its own, loads it and steers.
 * DynamoDB's consumed capacity gives the bytes written and read.
 *
 * Goals at 20,000 appliances and 50,000 titles: report items under 1 KB; fleet-wide table writes
 * under 1 MB/s; snapshot under 32 MB compressed, built in under 10 s; loaded in under 1 s into
 * under 256 MB; at least 50,000 decisions/s on one core with p99 under 1 ms; table reads per
 * minute independent of the number of play containers (play functions read only the snapshot).
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { holdingsOf } from '../lambda/fleet/fleet-protocol';
import { FleetStore } from '../lambda/fleet/fleet-store';
import { createFleetHandler } from '../lambda/fleet/handler';
import { recordConsumedCapacity } from '../lambda/shared/consumed-capacity';
import { inParallel } from '../lambda/shared/in-parallel';
import { FleetSource, SnapshotBuilder } from '../lambda/steering/snapshot-builder';
import { SnapshotStore, SnapshotWrite } from '../lambda/steering/snapshot-store';
import { requireTools } from '../local/prerequisites';
import { DynamoDbLocal } from '../local/services/dynamodb-local';
import { S3Server } from '../local/services/s3-server';
import { syntheticFleet } from '../simulator/fleet';
import { applianceEvent } from '../test/support/events';

const USAGE = 'usage: npm run bench:fleet -- [--json] [--sizes 1000,5000,20000] [--titles 50000]';
const REPORT_INTERVAL_SECONDS = 30;
const SNAPSHOT_INTERVAL_SECONDS = 10;
const ROLE = 'arn:aws:sts::123456789012:assumed-role/nearstream-appliance/bench';
const BUCKET = 'steering';
const KEY = 'steering/snapshot.bin';
/** Requests to DynamoDB Local in flight at once. */
const CONCURRENCY = 48;
const GOALS = {
  reportItemBytes: 1024,
  tableWriteBytesPerSecond: 1e6,
  snapshotCompressedBytes: 32 * 1024 * 1024,
  snapshotBuildSeconds: 10,
  snapshotLoadSeconds: 1,
  snapshotHeapMb: 256,
  decisionsPerSecond: 50_000,
  decisionP99Ms: 1,
};

interface PlayFigures {
  readonly snapshotLoadSeconds: number;
  readonly snapshotHeapMb: number;
  readonly decisionsPerSecond: number;
  readonly decisionP99Ms: number;
}

/** Every item through `work`, CONCURRENCY at a time, telling `progress` every 2,000 done. */
async function eachWithProgress<T>(items: readonly T[], work: (item: T, index: number) => Promise<void>, progress: (done: number) => void): Promise<void> {
  let done = 0;
  await inParallel(items, CONCURRENCY, async (item, index) => {
    await work(item, index);
    if (++done % 2000 === 0) {
      progress(done);
    }
  });
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function measureSize(appliances: number, titles: number, services: { dynamo: DynamoDbLocal; s3: S3Server }, note: (line: string) => void) {
  const table = `bench-fleet-${appliances}`;
  await services.dynamo.createControlTable(table);
  const client = services.dynamo.documentClient();
  const capacity = recordConsumedCapacity(client);
  const store = new FleetStore(client, table);
  let clockMs = Date.now();
  const handler = createFleetHandler({ store, now: () => new Date(clockMs), metrics: { addMetric: () => undefined } });
  const fleet = syntheticFleet({ appliances, titles, seed: 7, nowMs: clockMs });
  // Each appliance signs as its own principal, as an instance's role session or a node's certificate does.
  const call = async (route: 'POST /fleet/register' | 'POST /fleet/report', body: { readonly applianceId: string } & Record<string, unknown>) => {
    const response = await handler(applianceEvent(route, `${ROLE}-${body.applianceId}`, { body }));
    if (response.statusCode !== 200) {
      throw new Error(`${route} answered ${response.statusCode}: ${response.body}`);
    }
  };

  note(`${appliances} appliances: registering`);
  await eachWithProgress(
    fleet.appliances,
    async (appliance) => {
      await call('POST /fleet/register', appliance);
    },
    (done) => note(`  ${done} registered`),
  );
  const health = (index: number) => ({ load: Number(fleet.health[index].load.toFixed(6)), egressGbps: 12.5, diskUsedBytes: 180e12, errorRate: Number(fleet.health[index].errorRate.toFixed(6)) });
  note('  first reports: health and holdings');
  clockMs += 1000;
  await eachWithProgress(
    fleet.appliances,
    (appliance, index) => call('POST /fleet/report', { applianceId: appliance.applianceId, health: health(index), holdings: holdingsOf(1, fleet.holdings[index], new Set(fleet.holdings[index])) }),
    (done) => note(`  ${done} reported`),
  );
  // Placements are written once a night by planning, not in the steady state measured here: the
  // builder reads them from memory (the planner's output) instead of from the table.
  const placements = new Map(fleet.appliances.map((appliance, index) => [appliance.applianceId, fleet.holdings[index]]));
  const source: FleetSource = {
    readHealth: () => store.readHealth(),
    getRegistrations: (ids) => store.getRegistrations(ids),
    getHoldings: (ids) => store.getHoldings(ids),
    getPlacement: async (applianceId) => placements.get(applianceId),
  };
  const builder = new SnapshotBuilder(source, 'us-east-1');
  const snapshotStore = new SnapshotStore(services.s3.client(), BUCKET, KEY);
  let cold!: Awaited<ReturnType<SnapshotBuilder['build']>>;
  const coldBuildSeconds = await timed(async () => snapshotStore.write((cold = await builder.build(clockMs)).snapshot));

  note('  a steady round of reports: health only, every appliance once (what 30 s brings)');
  clockMs += REPORT_INTERVAL_SECONDS * 1000;
  const beforeRound = capacity();
  let reportBytes = 0;
  await eachWithProgress(
    fleet.appliances,
    async (appliance, index) => {
      const body = { applianceId: appliance.applianceId, health: health(index) };
      reportBytes = Math.max(reportBytes, Buffer.byteLength(JSON.stringify(body)));
      await call('POST /fleet/report', body);
    },
    () => undefined,
  );
  const roundWriteUnits = capacity().writeUnits - beforeRound.writeUnits;
  const writeUnitsPerReport = roundWriteUnits / appliances;

  note('  the builder after that round (registrations and holdings unchanged), and the snapshot written');
  const beforeBuild = capacity();
  const quiet = await timed(async () => snapshotStore.write((await builder.build(clockMs)).snapshot));
  const buildReadUnits = capacity().readUnits - beforeBuild.readUnits;

  // During a fill every appliance sends what arrived at most every 5 minutes: a 30th of the fleet
  // in each 10 s between builds.
  note('  the builder while fills run: a 30th of the fleet sends new holdings between two builds');
  clockMs += SNAPSHOT_INTERVAL_SECONDS * 1000;
  const changing = fleet.appliances.flatMap((_, index) => (index % 30 === 0 ? [index] : []));
  await eachWithProgress(
    changing,
    (index) => {
      const appliance = fleet.appliances[index];
      const placed = fleet.holdings[index];
      return call('POST /fleet/report', { applianceId: appliance.applianceId, health: health(index), holdings: holdingsOf(1, placed, new Set(placed.slice(0, -1))) });
    },
    () => undefined,
  );
  let written!: SnapshotWrite;
  const filling = await timed(async () => (written = await snapshotStore.write((await builder.build(clockMs)).snapshot)));
  const snapshotCompressedBytes = written.snapshotBytes + written.healthBytes;

  note('  a play function loads it in a process of its own and steers');
  const play = await playFunction([services.s3.endpoint, String(clockMs), String(appliances), String(titles)]);
  const heldPerAppliance = fleet.holdings.map((held) => held.length);
  return {
    appliances,
    titles,
    clusters: new Set(fleet.appliances.map((appliance) => appliance.clusterId)).size,
    meanTitlesPerAppliance: Math.round(heldPerAppliance.reduce((sum, count) => sum + count, 0) / appliances),
    reportBytes,
    // Every write unit is 1 KB of the larger of the item before and after: one unit per report is an item under 1 KB.
    reportWriteUnits: Number(writeUnitsPerReport.toFixed(3)),
    tableWriteBytesPerSecond: Math.round((roundWriteUnits * 1024) / REPORT_INTERVAL_SECONDS),
    // Read units are 4 KB strongly consistent, 8 KB eventually (what the builder uses): bytes read per build and per minute.
    tableReadBytesPerMinute: Math.round(buildReadUnits * 8192 * (60 / SNAPSHOT_INTERVAL_SECONDS)),
    playTableReadsPerMinute: 0,
    snapshotCompressedBytes,
    // What a play function reads when only health changed (most refreshes), and when holdings changed too.
    snapshotHealthBytes: written.healthBytes,
    snapshotHoldingsBytes: written.snapshotBytes,
    snapshotColdBuildSeconds: Number(coldBuildSeconds.toFixed(3)),
    snapshotQuietBuildSeconds: Number(quiet.toFixed(3)),
    // The goal is on the worse of the two steady builds.
    snapshotBuildSeconds: Number(Math.max(quiet, filling).toFixed(3)),
    coldBuild: cold.stats,
    ...play,
  };
}

/** Runs `--play` in a fresh Node process: the heap it reports is the snapshot's alone. */
function playFunction(args: readonly string[]): Promise<PlayFigures> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', require.resolve('./bench-fleet-play'), ...args, BUCKET, KEY], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!) as PlayFigures) : reject(new Error(`the play process exited ${code}`))));
  });
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { json: { type: 'boolean', default: false }, sizes: { type: 'string', default: '1000,5000,20000' }, titles: { type: 'string', default: '50000' } },
  });
  const sizes = values.sizes.split(',').map(Number);
  const titles = Number(values.titles);
  if (sizes.some((size) => !Number.isInteger(size) || size < 10) || !Number.isInteger(titles) || titles < 100) {
    throw new Error(`${USAGE}\n--sizes takes whole numbers of appliances (at least 10), --titles a whole number (at least 100)`);
  }
  requireTools('bench:fleet');
  const note = (line: string) => process.stderr.write(`${line}\n`);
  const [dynamo, s3] = await Promise.all([DynamoDbLocal.start(), S3Server.start([BUCKET])]);
  try {
    const results: Awaited<ReturnType<typeof measureSize>>[] = [];
    for (const size of sizes) {
      results.push(await measureSize(size, titles, { dynamo, s3 }, note));
    }
    const largest = results[results.length - 1];
    const meets = {
      reportItemBytes: largest.reportWriteUnits <= 1,
      tableWriteBytesPerSecond: largest.tableWriteBytesPerSecond < GOALS.tableWriteBytesPerSecond,
      snapshotCompressedBytes: largest.snapshotCompressedBytes < GOALS.snapshotCompressedBytes,
      snapshotBuildSeconds: largest.snapshotBuildSeconds < GOALS.snapshotBuildSeconds,
      snapshotLoadSeconds: largest.snapshotLoadSeconds < GOALS.snapshotLoadSeconds,
      snapshotHeapMb: largest.snapshotHeapMb < GOALS.snapshotHeapMb,
      decisionsPerSecond: largest.decisionsPerSecond >= GOALS.decisionsPerSecond,
      decisionP99Ms: largest.decisionP99Ms < GOALS.decisionP99Ms,
    };
    const figures = { sizes: results, goals: GOALS, meets, meetsGoals: Object.values(meets).every(Boolean) };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(figures)}\n`);
      return;
    }
    const rows: [string, (result: (typeof results)[number]) => string][] = [
      ['clusters', (r) => String(r.clusters)],
      ['titles held per appliance (mean)', (r) => String(r.meanTitlesPerAppliance)],
      ['report body (health only)', (r) => `${r.reportBytes} B`],
      ['write units per report (1 = item under 1 KB)', (r) => String(r.reportWriteUnits)],
      ['fleet-wide table writes', (r) => `${(r.tableWriteBytesPerSecond / 1e3).toFixed(1)} KB/s`],
      ['table reads (builder, every 10 s)', (r) => `${(r.tableReadBytesPerMinute / 1e6).toFixed(1)} MB/min`],
      ['table reads by play functions', (r) => `${r.playTableReadsPerMinute} (they read the snapshot)`],
      ['snapshot, compressed: holdings + health', (r) => `${(r.snapshotHoldingsBytes / 1e3).toFixed(0)} kB + ${(r.snapshotHealthBytes / 1e3).toFixed(1)} kB`],
      ['snapshot build: cold (no snapshot to start from), quiet, during fills', (r) => `${r.snapshotColdBuildSeconds} s, ${r.snapshotQuietBuildSeconds} s, ${r.snapshotBuildSeconds} s`],
      ['play: snapshot load', (r) => `${r.snapshotLoadSeconds} s`],
      ['play: heap held', (r) => `${r.snapshotHeapMb} MB`],
      ['play: decisions/s (one core)', (r) => String(r.decisionsPerSecond)],
      ['play: decision p99', (r) => `${r.decisionP99Ms} ms`],
    ];
    console.log(`| measure | ${results.map((r) => `${r.appliances} appliances`).join(' | ')} |`);
    console.log(`| --- | ${results.map(() => '---').join(' | ')} |`);
    for (const [label, cell] of rows) {
      console.log(`| ${label} | ${results.map(cell).join(' | ')} |`);
    }
    console.log(`\nGoals at ${largest.appliances} appliances: ${Object.entries(meets).map(([goal, met]) => `${goal} ${met ? 'met' : 'MISSED'}`).join(', ')}`);
  } finally {
    await Promise.all([dynamo.stop(), s3.stop()]);
  }
}

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
main(process.argv.slice(2)).catch((error: Error) => {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
});
