import type { ApiFunction } from '../../lambda/shared/api-routes';

/**
 * The chaos experiment catalog: each experiment defined once, in typed code, and rendered for AWS
 * FIS in each region (`lib/constructs/chaos-experiments.ts`). A hypothesis is about the steady
 * state: stream starts per second (SPS) in the region hold within the dip the experiment allows.
 */

/** Whether an environment has chaos: `off` has no templates; `leashed` and `on` have them. */
export type ChaosMode = 'off' | 'leashed' | 'on';
export const CHAOS_MODES: readonly ChaosMode[] = ['off', 'leashed', 'on'];

/** What an experiment breaks, in the platform's terms; the FIS rendering maps each to actions. */
export type ChaosFault =
  /** Terminate `count` appliance instances that opted in; their Auto Scaling group replaces them. */
  | { readonly kind: 'terminate-appliance'; readonly count: 1 }
  /** Delay the start of a share of the opted-in control-plane functions' invocations. */
  | { readonly kind: 'function-latency'; readonly delayMs: number; readonly invocationPercent: number }
  /** Fail a share of the opted-in control-plane functions' invocations without running them. */
  | { readonly kind: 'function-errors'; readonly invocationPercent: number }
  /** Slow one opted-in appliance's cache volume: reads and writes wait `latencyMs`. */
  | { readonly kind: 'appliance-disk-latency'; readonly latencyMs: number; readonly ioPercent: number }
  /**
   * Chaos Kong: every API function of the region (health check included) answers `statusCode`
   * without running, so Route 53 fails the region and players move to the other one; replication
   * of the region's table replica pauses once `settleMinutes` have let the last writes (sessions,
   * stream slots) reach the other region. After `drainMinutes` the other region must be serving.
   */
  | { readonly kind: 'region-evacuation'; readonly statusCode: 503; readonly settleMinutes: number; readonly drainMinutes: number };

/**
 * Whose stream starts the hypothesis is about: the region's own (its SPS alarm), or the
 * platform's as a whole, both regions summed (the global steady-state alarm), for an experiment
 * that empties a region by design.
 */
export type SteadyStateScope = 'region' | 'global';

export interface ChaosExperiment {
  readonly name: string;
  readonly title: string;
  readonly hypothesis: string;
  /** SPS (of `steadyState`'s scope) may fall at most this share (percent) below its level before the fault. */
  readonly maxSpsDipPercent: number;
  readonly steadyState: SteadyStateScope;
  readonly fault: ChaosFault;
  /** What the fault can reach, in words for the template's description and reports. */
  readonly blastRadius: string;
  readonly durationMinutes: number;
}

/** An environment's chaos, from its config (context `chaos`, `chaosMeanMinutes`, `chaosTimezone`, `chaosOptOut`). */
export interface ChaosSettings {
  readonly mode: ChaosMode;
  /**
   * Chaos Monkey's mean time between kills, in minutes of business hours: one of
   * `MONKEY_MEAN_MINUTES`. Business hours are cut into slots this long, and one kill falls at a
   * random moment in each slot.
   */
  readonly meanMinutesBetweenKills: number;
  /** Business hours (09:00-17:00, Monday to Friday) are in this IANA time zone. */
  readonly timezone: string;
  /** Appliance clusters whose nodes are tagged out of every experiment. */
  readonly optOutClusters: readonly string[];
}

export const CHAOS_DEFAULTS: ChaosSettings = { mode: 'off', meanMinutesBetweenKills: 240, timezone: 'UTC', optOutClusters: [] };
/** The mean times between kills Chaos Monkey's schedule can express: each divides an hour or the 8-hour business day. */
export const MONKEY_MEAN_MINUTES = [10, 15, 20, 30, 60, 120, 240, 480] as const;
/** Business hours, Monday to Friday, in the environment's chaos time zone: from 09:00 until 17:00. */
export const BUSINESS_HOURS = { startHour: 9, endHour: 17 } as const;

/** Opt-in tag of everything an experiment may harm: appliance instances and volumes, control-plane functions. */
export const CHAOS_TAG = { key: 'nearstream:chaos', optIn: 'opt-in', optOut: 'opt-out' } as const;

/**
 * Opt-in tag of the functions a region evacuation takes down: the viewer API and the health check.
 * Apart from `CHAOS_TAG`, so the latency and error experiments never touch the health check (they
 * would fail the region by accident).
 */
export const EVACUATION_TAG = { key: 'nearstream:evacuation', optIn: 'opt-in' } as const;

/**
 * The API functions that opt in, in the cloud (tags) and in the local drills (fault files) alike:
 * the viewer path to every experiment on functions, the health check to the evacuation only. The
 * fleet registry, snapshot builder and planner opt in to none.
 */
export const FAULT_TARGETS = {
  chaos: ['catalog', 'play', 'telemetry', 'home', 'license'],
  evacuationOnly: ['health'],
} as const satisfies Readonly<Record<string, readonly ApiFunction[]>>;

export const CHAOS_EXPERIMENTS: readonly ChaosExperiment[] = [
  {
    name: 'chaos-monkey',
    steadyState: 'region',
    title: 'Chaos Monkey: one appliance instance terminated',
    hypothesis: 'Players on the terminated appliance move to the next one steering ranked, and its Auto Scaling group replaces it; SPS holds.',
    maxSpsDipPercent: 5,
    fault: { kind: 'terminate-appliance', count: 1 },
    blastRadius: 'one opted-in appliance instance of the region',
    durationMinutes: 15,
  },
  {
    name: 'latency-monkey',
    steadyState: 'region',
    title: 'Latency Monkey: control-plane functions answer 1.5 s late',
    hypothesis: 'Players wait longer for /play and retry within their budget; SPS holds and play failures stay under their alarm.',
    maxSpsDipPercent: 10,
    fault: { kind: 'function-latency', delayMs: 1500, invocationPercent: 25 },
    blastRadius: 'a quarter of the invocations of the region\'s opted-in control-plane functions',
    durationMinutes: 10,
  },
  {
    name: 'lambda-errors',
    steadyState: 'region',
    title: 'Control-plane functions fail a tenth of their invocations',
    hypothesis: 'Players retry a failed /play or /events; SPS holds.',
    maxSpsDipPercent: 10,
    fault: { kind: 'function-errors', invocationPercent: 10 },
    blastRadius: 'a tenth of the invocations of the region\'s opted-in control-plane functions',
    durationMinutes: 10,
  },
  {
    name: 'appliance-degradation',
    steadyState: 'region',
    title: 'One appliance\'s cache disk answers 200 ms late',
    hypothesis: 'The slow appliance reports load and errors; steering ranks it lower and players fetch from the next one; SPS holds.',
    maxSpsDipPercent: 5,
    fault: { kind: 'appliance-disk-latency', latencyMs: 200, ioPercent: 100 },
    blastRadius: 'the cache volume of one opted-in appliance of the region',
    durationMinutes: 10,
  },
  {
    name: 'region-evacuation',
    steadyState: 'global',
    title: 'Chaos Kong: one region\'s API answers 503 and its table replica stops replicating',
    hypothesis:
      'Route 53 fails the region\'s health check within a minute and players move to the other region, which serves them from its own table replica; the platform\'s SPS, both regions together, holds.',
    maxSpsDipPercent: 15,
    // The drain covers Route 53's failover (about 30 s), the global sum's 2-minute delay and the
    // alarm's 5-minute evaluation window, so the assertion judges minutes after the move.
    fault: { kind: 'region-evacuation', statusCode: 503, settleMinutes: 1, drainMinutes: 8 },
    blastRadius: 'every viewer request and health check of one region, and replication to and from its table replica',
    durationMinutes: 15,
  },
];

/** The experiment named `name`, or an error listing the catalog. */
export function experimentNamed(name: string): ChaosExperiment {
  const found = CHAOS_EXPERIMENTS.find((experiment) => experiment.name === name);
  if (!found) {
    throw new Error(`no chaos experiment '${name}': the catalog has ${CHAOS_EXPERIMENTS.map((experiment) => experiment.name).join(', ')}`);
  }
  return found;
}
