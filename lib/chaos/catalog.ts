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
  | { readonly kind: 'appliance-disk-latency'; readonly latencyMs: number; readonly ioPercent: number };

export interface ChaosExperiment {
  readonly name: string;
  readonly title: string;
  readonly hypothesis: string;
  /** SPS in the region may fall at most this share (percent) below its level before the fault. */
  readonly maxSpsDipPercent: number;
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

export const CHAOS_EXPERIMENTS: readonly ChaosExperiment[] = [
  {
    name: 'chaos-monkey',
    title: 'Chaos Monkey: one appliance instance terminated',
    hypothesis: 'Players on the terminated appliance move to the next one steering ranked, and its Auto Scaling group replaces it; SPS holds.',
    maxSpsDipPercent: 5,
    fault: { kind: 'terminate-appliance', count: 1 },
    blastRadius: 'one opted-in appliance instance of the region',
    durationMinutes: 15,
  },
  {
    name: 'latency-monkey',
    title: 'Latency Monkey: control-plane functions answer 1.5 s late',
    hypothesis: 'Players wait longer for /play and retry within their budget; SPS holds and play failures stay under their alarm.',
    maxSpsDipPercent: 10,
    fault: { kind: 'function-latency', delayMs: 1500, invocationPercent: 25 },
    blastRadius: 'a quarter of the invocations of the region\'s opted-in control-plane functions',
    durationMinutes: 10,
  },
  {
    name: 'lambda-errors',
    title: 'Control-plane functions fail a tenth of their invocations',
    hypothesis: 'Players retry a failed /play or /events; SPS holds.',
    maxSpsDipPercent: 10,
    fault: { kind: 'function-errors', invocationPercent: 10 },
    blastRadius: 'a tenth of the invocations of the region\'s opted-in control-plane functions',
    durationMinutes: 10,
  },
  {
    name: 'appliance-degradation',
    title: 'One appliance\'s cache disk answers 200 ms late',
    hypothesis: 'The slow appliance reports load and errors; steering ranks it lower and players fetch from the next one; SPS holds.',
    maxSpsDipPercent: 5,
    fault: { kind: 'appliance-disk-latency', latencyMs: 200, ioPercent: 100 },
    blastRadius: 'the cache volume of one opted-in appliance of the region',
    durationMinutes: 10,
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
