#!/usr/bin/env node
/**
 * `npm run bench:steering [-- --json]`: steering decisions per second and per-decision latency,
 * in-process on one core, for 10,000 appliances in 500 clusters holding 20,000 titles.
 * Goal: at least 20,000 decisions/s with p99 under 1 ms.
 */
import { ApplianceView, DEFAULT_STEERING_POLICY, FleetIndex, SteeringRequest } from '../lambda/playback/steering';
import { random } from '../simulator/synthetic';

const CLUSTERS = 500;
const APPLIANCES_PER_CLUSTER = 20;
const TITLES = 20_000;
const TITLES_PER_APPLIANCE = 2_000;
const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1', 'ap-southeast-1'];
const WARMUP = 20_000;
const DECISIONS = 200_000;
const GOAL_DECISIONS_PER_SECOND = 20_000;
const GOAL_P99_MS = 1;

/** Title ranks drawn from a Zipf(0.9) popularity curve over the catalog. */
function zipfSampler(next: () => number, n: number, exponent: number): () => number {
  const cumulative = new Float64Array(n);
  let total = 0;
  for (let rank = 0; rank < n; rank++) {
    total += 1 / Math.pow(rank + 1, exponent);
    cumulative[rank] = total;
  }
  return () => {
    const target = next() * total;
    let low = 0;
    let high = n - 1;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (cumulative[mid] < target) low = mid + 1;
      else high = mid;
    }
    return low;
  };
}

function buildFleet(next: () => number, nowMs: number): ApplianceView[] {
  const titleId = (rank: number) => `title-${rank}`;
  const popular = Array.from({ length: TITLES_PER_APPLIANCE / 4 }, (_, rank) => titleId(rank));
  const appliances: ApplianceView[] = [];
  for (let cluster = 0; cluster < CLUSTERS; cluster++) {
    const prefixes = [`10.${cluster >> 8}.${cluster & 255}.0/24`];
    if (cluster % 10 === 0) {
      prefixes.push(`10.${cluster >> 8}.0.0/16`);
    }
    for (let i = 0; i < APPLIANCES_PER_CLUSTER; i++) {
      const titles = new Set(popular);
      while (titles.size < TITLES_PER_APPLIANCE) {
        titles.add(titleId(Math.floor(next() * TITLES)));
      }
      appliances.push({
        applianceId: `oca-${cluster}-${i}`,
        clusterId: `cluster-${cluster}`,
        region: REGIONS[cluster % REGIONS.length],
        baseUrl: `https://oca-${cluster}-${i}.example`,
        prefixes,
        reportedAtMs: nowMs - Math.floor(next() * 30_000),
        load: next() * 0.95,
        errorRate: next() < 0.02 ? 0.5 : 0.001,
        titles: [...titles],
      });
    }
  }
  return appliances;
}

function requests(next: () => number, count: number): SteeringRequest[] {
  const title = zipfSampler(next, TITLES, 0.9);
  return Array.from({ length: count }, (_, i) => {
    const cluster = Math.floor(next() * CLUSTERS);
    const matched = next() < 0.9;
    return {
      clientIp: matched ? `10.${cluster >> 8}.${cluster & 255}.${1 + Math.floor(next() * 250)}` : `192.0.2.${Math.floor(next() * 255)}`,
      region: REGIONS[cluster % REGIONS.length],
      titleId: `title-${title()}`,
      sessionKey: `session-${i}`,
    };
  });
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function main(): void {
  const json = process.argv.includes('--json');
  const next = random(42);
  const nowMs = Date.now();
  const fleet = buildFleet(next, nowMs);
  const buildStarted = process.hrtime.bigint();
  const index = FleetIndex.build(fleet, DEFAULT_STEERING_POLICY);
  const buildMs = Number(process.hrtime.bigint() - buildStarted) / 1e6;
  const workload = requests(next, WARMUP + DECISIONS);

  let sink = 0;
  for (let i = 0; i < WARMUP; i++) {
    sink += index.steer(workload[i], nowMs).length;
  }
  const latencies = new Float64Array(DECISIONS);
  let toOrigin = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < DECISIONS; i++) {
    const before = process.hrtime.bigint();
    const choices = index.steer(workload[WARMUP + i], nowMs);
    latencies[i] = Number(process.hrtime.bigint() - before) / 1e6;
    sink += choices.length;
    if (choices.length === 0) toOrigin++;
  }
  const elapsedSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort();

  const figures = {
    appliances: fleet.length,
    clusters: CLUSTERS,
    titles: TITLES,
    decisions: DECISIONS,
    indexBuildMs: Math.round(buildMs),
    decisionsPerSecond: Math.round(DECISIONS / elapsedSeconds),
    p50Ms: Number(percentile(latencies, 50).toFixed(4)),
    p99Ms: Number(percentile(latencies, 99).toFixed(4)),
    maxMs: Number(latencies[latencies.length - 1].toFixed(4)),
    originShare: Number((toOrigin / DECISIONS).toFixed(4)),
    heapUsedMb: Math.round(process.memoryUsage().heapUsed / 1e6),
    goalDecisionsPerSecond: GOAL_DECISIONS_PER_SECOND,
    goalP99Ms: GOAL_P99_MS,
    meetsGoal: DECISIONS / elapsedSeconds >= GOAL_DECISIONS_PER_SECOND && percentile(latencies, 99) < GOAL_P99_MS,
    checksum: sink,
  };
  if (json) {
    console.log(JSON.stringify(figures));
    return;
  }
  console.log('| measure | value |');
  console.log('| --- | --- |');
  console.log(`| fleet | ${figures.appliances} appliances, ${figures.clusters} clusters, ${figures.titles} titles |`);
  console.log(`| index build | ${figures.indexBuildMs} ms |`);
  console.log(`| decisions/s (one core) | ${figures.decisionsPerSecond} (goal >= ${GOAL_DECISIONS_PER_SECOND}) |`);
  console.log(`| p50 / p99 / max latency | ${figures.p50Ms} / ${figures.p99Ms} / ${figures.maxMs} ms (goal p99 < ${GOAL_P99_MS} ms) |`);
  console.log(`| decisions sent to origin | ${(figures.originShare * 100).toFixed(2)}% |`);
  console.log(`| heap used | ${figures.heapUsedMb} MB |`);
  console.log(`| goal | ${figures.meetsGoal ? 'met' : 'MISSED'} |`);
}

main();
