#!/usr/bin/env node
/**
 * `npm run bench:sim [-- --json]`: the fill planner against LRU, LFU and Belady's clairvoyant bound.
 * Goals: on the default synthetic workload (30 days, 1,000,000 requests) the planner offloads at
 * least 95% of Belady's bytes and more than LRU and LFU, in under 60 s; across Zipf 0.6-1.2 and
 * capacities of 5-40% of the catalog it never falls below LRU.
 */
import { simulate } from '../simulator/simulate';
import { DEFAULT_SYNTHETIC, syntheticWorkload } from '../simulator/synthetic';

const GOAL_OF_BELADY = 0.95;
const GOAL_SECONDS = 60;
const SWEEP_ZIPF = [0.6, 0.8, 1.0, 1.2];
const SWEEP_CAPACITY = [0.05, 0.1, 0.2, 0.4];
/** The sweep uses a third of the default volume per point, to keep the benchmark short. */
const SWEEP_REQUESTS = 300_000;

const json = process.argv.includes('--json');

const started = process.hrtime.bigint();
const main = simulate(syntheticWorkload(DEFAULT_SYNTHETIC));
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const { planner, lru, lfu, belady } = main.policies;

const sweep = SWEEP_ZIPF.flatMap((zipf) =>
  SWEEP_CAPACITY.map((capacityShare) => {
    const result = simulate(syntheticWorkload({ ...DEFAULT_SYNTHETIC, requests: SWEEP_REQUESTS, zipf, capacityShare }));
    const { planner: p, lru: l, lfu: f, belady: b } = result.policies;
    return { zipf, capacityShare, planner: p.offload, lru: l.offload, lfu: f.offload, belady: b.offload, plannerOverLru: p.offload / l.offload };
  }),
);
const worstOverLru = Math.min(...sweep.map((point) => point.plannerOverLru));

const figures = {
  requests: main.requests,
  days: main.days.length,
  seconds,
  offload: { planner: planner.offload, lru: lru.offload, lfu: lfu.offload, belady: belady.offload },
  /** Ours / baseline: the planner's offload over each baseline's. */
  ratio: { belady: planner.offload / belady.offload, lru: planner.offload / lru.offload, lfu: planner.offload / lfu.offload },
  fillBytes: { planner: planner.fillBytes, lru: lru.fillBytes, lfu: lfu.fillBytes, belady: belady.fillBytes },
  sweep,
  worstPlannerOverLru: worstOverLru,
  goals: {
    ofBelady: planner.offload / belady.offload >= GOAL_OF_BELADY,
    aboveLruAndLfu: planner.offload > lru.offload && planner.offload > lfu.offload,
    sweepNeverBelowLru: worstOverLru >= 1,
    underSixtySeconds: seconds < GOAL_SECONDS,
  },
};

if (json) {
  console.log(JSON.stringify(figures));
} else {
  const percent = (value: number) => `${(value * 100).toFixed(2)}%`;
  console.log(`default workload: ${main.requests.toLocaleString('en-US')} requests, ${main.days.length} days, simulated in ${seconds.toFixed(1)} s (goal < ${GOAL_SECONDS} s)`);
  console.log('policy   offload   fill TB   planner / policy');
  for (const name of ['planner', 'lru', 'lfu', 'belady'] as const) {
    const policy = main.policies[name];
    console.log(`${name.padEnd(7)}  ${percent(policy.offload).padStart(7)}  ${(policy.fillBytes / 1e12).toFixed(1).padStart(7)}   ${(planner.offload / policy.offload).toFixed(3)}`);
  }
  console.log(`goal: planner >= ${GOAL_OF_BELADY} x belady: ${figures.goals.ofBelady ? 'met' : 'MISSED'}; above lru and lfu: ${figures.goals.aboveLruAndLfu ? 'met' : 'MISSED'}`);
  console.log(`\nsweep (${SWEEP_REQUESTS.toLocaleString('en-US')} requests per point): offload`);
  console.log('zipf  capacity  planner    lru      lfu      belady   planner/lru');
  for (const point of sweep) {
    console.log(
      `${point.zipf.toFixed(1).padEnd(4)}  ${percent(point.capacityShare).padStart(8)}  ${percent(point.planner)}  ${percent(point.lru)}  ${percent(point.lfu)}  ${percent(point.belady)}  ${point.plannerOverLru.toFixed(3)}`,
    );
  }
  console.log(`goal: planner never below lru: ${figures.goals.sweepNeverBelowLru ? 'met' : 'MISSED'} (worst ${worstOverLru.toFixed(3)})`);
}
