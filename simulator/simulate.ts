import { PlannerOptions } from '../lambda/planning/fill-plan';
import { BeladyPolicy, LfuPolicy, LruPolicy, PlannerPolicy, Policy } from './policies';
import { daysOf, Workload } from './workload';

export interface PolicyResult {
  /** Bytes served by a cluster's appliances / bytes requested. */
  readonly offload: number;
  /** Bytes pulled from the origin to fill appliances (nightly or on a miss), warm-up included. */
  readonly fillBytes: number;
  /** Bytes players fetched from the origin tier because their cluster did not hold the title. */
  readonly originBytes: number;
  readonly servedBytes: number;
  /** Offload per simulated day, in day order. */
  readonly offloadByDay: readonly number[];
}

export interface SimulationResult {
  /** Every day replayed, warm-up included. */
  readonly days: readonly number[];
  /** Leading days replayed to warm every policy up and left out of the figures. */
  readonly warmupDays: number;
  readonly requestedBytes: number;
  readonly requests: number;
  readonly policies: Readonly<Record<string, PolicyResult>>;
}

export const POLICY_NAMES = ['planner', 'lru', 'lfu', 'belady'] as const;

export interface SimulationOptions {
  /**
   * Leading days that count for no policy. A deployed planner always has yesterday's demand; on
   * the first simulated night it has none, while the caches learn within that day.
   */
  readonly warmupDays: number;
  readonly planner: Partial<PlannerOptions>;
}

/** Replays the workload day by day against every policy on the same requests and capacity. */
export function simulate(workload: Workload, options: Partial<SimulationOptions> = {}): SimulationResult {
  const warmupDays = options.warmupDays ?? 1;
  const plannerOptions = options.planner ?? {};
  const policies: Policy[] = [new PlannerPolicy(workload, plannerOptions), new LruPolicy(workload), new LfuPolicy(workload), new BeladyPolicy(workload)];
  const days = daysOf(workload.requests);
  const totals = policies.map(() => ({ served: 0, fill: 0, origin: 0, byDay: [] as number[] }));
  let requestedBytes = 0;
  const bytes = workload.requests.bytes;

  for (const [position, { day, start, end }] of days.entries()) {
    const counted = position >= warmupDays;
    let dayBytes = 0;
    for (let index = start; index < end; index++) {
      dayBytes += bytes[index];
    }
    if (counted) {
      requestedBytes += dayBytes;
    }
    policies.forEach((policy, which) => {
      const today = { fill: 0, origin: 0 };
      const total = totals[which];
      today.fill += policy.night(day, start, end);
      let served = 0;
      for (let index = start; index < end; index++) {
        const { hit, filledBytes } = policy.serve(index);
        if (hit) {
          served += bytes[index];
        } else {
          today.origin += bytes[index];
        }
        today.fill += filledBytes;
      }
      total.byDay.push(dayBytes > 0 ? served / dayBytes : 0);
      // Fills count from the first night for every policy: a cache's warm-up fills are as real as
      // the planner's first nightly fill, which lands on the first counted day.
      total.fill += today.fill;
      if (counted) {
        total.served += served;
        total.origin += today.origin;
      }
    });
  }

  return {
    days: days.map((entry) => entry.day),
    warmupDays: Math.min(warmupDays, days.length),
    requestedBytes,
    requests: workload.requests.length,
    policies: Object.fromEntries(
      policies.map((policy, which) => [
        policy.name,
        {
          offload: requestedBytes > 0 ? totals[which].served / requestedBytes : 0,
          fillBytes: totals[which].fill,
          originBytes: totals[which].origin,
          servedBytes: totals[which].served,
          offloadByDay: totals[which].byDay,
        },
      ]),
    ),
  };
}
