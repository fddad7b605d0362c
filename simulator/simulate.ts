import { PlannerOptions } from '../lambda/planning/fill-plan';
import { BeladyPolicy, LfuPolicy, LruPolicy, PlannerPolicy, Policy } from './policies';
import { daysOf, Workload } from './workload';

export interface PolicyResult {
  /** Bytes served by a cluster's appliances / bytes requested. */
  readonly offload: number;
  /**
   * Bytes written to appliances by fills (nightly or on a miss), warm-up included: every copy counts,
   * as if each came from the origin.
   */
  readonly fillBytes: number;
  /** Bytes players fetched from the origin tier: their cluster did not hold the title, or `refusedBytes`. */
  readonly originBytes: number;
  /** Bytes the origin served because every appliance of the cluster holding the title had spent its egress. */
  readonly refusedBytes: number;
  /**
   * The busiest server on its busiest counted day: bytes served (relayed misses included, for a
   * cache) over its daily egress. A server is an appliance, or a cluster for Belady, which pools
   * them. Null when no appliance has an egress limit.
   */
  readonly worstEgress: WorstEgress | null;
  readonly servedBytes: number;
  /** Offload per simulated day, in day order, warm-up days included. */
  readonly offloadByDay: readonly number[];
  /** Counted figures per cluster id: totals hide a cluster the policy serves badly. */
  readonly byCluster: Readonly<Record<string, ClusterResult>>;
}

export interface ClusterResult {
  readonly offload: number;
  readonly servedBytes: number;
  readonly requestedBytes: number;
  readonly refusedBytes: number;
}

export interface WorstEgress {
  /** An appliance id, or a cluster id for a policy that pools its cluster. */
  readonly id: string;
  readonly day: number;
  /** Bytes served that day over the daily egress (0-1). */
  readonly utilisation: number;
}

/** Share of counted days on which the planner's offload is at or above each other policy's. */
export type DaysAtOrAbove = Readonly<Record<string, number>>;

export interface SimulationResult {
  /** Every day replayed, warm-up included. */
  readonly days: readonly number[];
  /** Leading days replayed to warm every policy up and left out of the figures. */
  readonly warmupDays: number;
  readonly requestedBytes: number;
  readonly requests: number;
  /** Bytes requested per day, in day order, warm-up days included. */
  readonly requestedBytesByDay: readonly number[];
  /** Days whose demand the planner never received (the requests still count for every policy). */
  readonly lostDemandDays: readonly number[];
  readonly policies: Readonly<Record<string, PolicyResult>>;
  /** For each other policy, the share of counted days the planner served at least as well. */
  readonly plannerDaysAtOrAbove: DaysAtOrAbove;
}

export const POLICY_NAMES = ['planner', 'lru', 'lfu', 'belady'] as const;

export interface SimulationOptions {
  /**
   * Leading days that count for no policy. A deployed planner always has yesterday's demand; on
   * the first simulated night it has none, while the caches learn within that day.
   */
  readonly warmupDays: number;
  readonly planner: Partial<PlannerOptions>;
  /**
   * Days whose demand data never reaches the planner (a lost export): their requests happen and
   * count for every policy, and the caches still learn from their own hits and misses.
   * @default none
   */
  readonly lostDemandDays: readonly number[];
}

/**
 * Replays the workload day by day against every policy on the same requests, appliances, disks
 * and egress limits (each policy with its own day's egress).
 */
export function simulate(workload: Workload, options: Partial<SimulationOptions> = {}): SimulationResult {
  const warmupDays = options.warmupDays ?? 1;
  const plannerOptions = options.planner ?? {};
  const lostDemandDays = [...new Set(options.lostDemandDays ?? [])].sort((a, b) => a - b);
  const policies: Policy[] = [
    new PlannerPolicy(workload, plannerOptions, new Set(lostDemandDays)),
    new LruPolicy(workload),
    new LfuPolicy(workload),
    new BeladyPolicy(workload),
  ];
  const days = daysOf(workload.requests);
  const clusterCount = workload.clusters.length;
  const totals = policies.map(() => ({
    served: 0,
    fill: 0,
    origin: 0,
    refused: 0,
    byDay: [] as number[],
    servedByCluster: new Float64Array(clusterCount),
    refusedByCluster: new Float64Array(clusterCount),
  }));
  const requestedByCluster = new Float64Array(clusterCount);
  const requestedBytesByDay: number[] = [];
  let requestedBytes = 0;
  const { bytes, cluster } = workload.requests;

  for (const [position, { day, start, end }] of days.entries()) {
    const counted = position >= warmupDays;
    let dayBytes = 0;
    for (let index = start; index < end; index++) {
      dayBytes += bytes[index];
      if (counted) {
        requestedByCluster[cluster[index]] += bytes[index];
      }
    }
    requestedBytesByDay.push(dayBytes);
    if (counted) {
      requestedBytes += dayBytes;
    }
    policies.forEach((policy, which) => {
      const today = { fill: 0, origin: 0, refused: 0 };
      const total = totals[which];
      today.fill += policy.night(day, start, end);
      policy.egress.startDay();
      let served = 0;
      for (let index = start; index < end; index++) {
        const { outcome, filledBytes } = policy.serve(index);
        if (outcome === 'served') {
          served += bytes[index];
          if (counted) {
            total.servedByCluster[cluster[index]] += bytes[index];
          }
        } else {
          today.origin += bytes[index];
          if (outcome === 'refused') {
            today.refused += bytes[index];
            if (counted) {
              total.refusedByCluster[cluster[index]] += bytes[index];
            }
          }
        }
        today.fill += filledBytes;
      }
      if (counted) {
        policy.egress.endDay(day);
      }
      total.byDay.push(dayBytes > 0 ? served / dayBytes : 0);
      // Fills count from the first night for every policy: a cache's warm-up fills are as real as
      // the planner's first nightly fill, which lands on the first counted day.
      total.fill += today.fill;
      if (counted) {
        total.served += served;
        total.origin += today.origin;
        total.refused += today.refused;
      }
    });
  }

  const results = Object.fromEntries(
    policies.map((policy, which) => [
      policy.name,
      {
        offload: requestedBytes > 0 ? totals[which].served / requestedBytes : 0,
        fillBytes: totals[which].fill,
        originBytes: totals[which].origin,
        refusedBytes: totals[which].refused,
        worstEgress: worstEgressOf(policy),
        servedBytes: totals[which].served,
        offloadByDay: totals[which].byDay,
        byCluster: Object.fromEntries(
          workload.clusters.map((entry, index) => [
            entry.id,
            {
              offload: requestedByCluster[index] > 0 ? totals[which].servedByCluster[index] / requestedByCluster[index] : 0,
              servedBytes: totals[which].servedByCluster[index],
              requestedBytes: requestedByCluster[index],
              refusedBytes: totals[which].refusedByCluster[index],
            },
          ]),
        ),
      },
    ]),
  );
  const counted = Math.min(warmupDays, days.length);
  return {
    days: days.map((entry) => entry.day),
    warmupDays: counted,
    requestedBytes,
    requests: workload.requests.length,
    requestedBytesByDay,
    lostDemandDays,
    policies: results,
    plannerDaysAtOrAbove: Object.fromEntries(
      policies
        .filter((policy) => policy.name !== 'planner')
        .map((policy) => [policy.name, daysAtOrAbove(results.planner.offloadByDay, results[policy.name].offloadByDay, counted)]),
    ),
  };
}

function worstEgressOf(policy: Policy): WorstEgress | null {
  const busiest = policy.egress.busiest();
  return busiest === undefined ? null : { id: policy.servers[busiest.server], day: busiest.day, utilisation: busiest.utilisation };
}

/**
 * The share of days after the warm-up on which `ours` is at or above `theirs` (offload per day, in
 * day order). Offloads within a part per billion are equal: both are sums of the same bytes.
 */
export function daysAtOrAbove(ours: readonly number[], theirs: readonly number[], warmupDays: number): number {
  let days = 0;
  let atOrAbove = 0;
  for (let position = warmupDays; position < Math.min(ours.length, theirs.length); position++) {
    days++;
    if (ours[position] >= theirs[position] - 1e-9) {
      atOrAbove++;
    }
  }
  return days > 0 ? atOrAbove / days : 0;
}
