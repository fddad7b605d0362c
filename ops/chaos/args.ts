import { ParseArgsConfig } from 'node:util';
import { OptionValues, parseCommandOptions, UsageError } from '../cli-args';
import { CHAOS_EXPERIMENTS, ChaosExperiment, experimentNamed } from '../../lib/chaos/catalog';
import { ConfigError } from '../../lib/config/config-error';
import { DEFAULT_PRIMARY_REGION, DEFAULT_SECONDARY_REGION, resolveEnvironment } from '../../lib/config/environment';

/** The local drills' defaults. */
export const LOCAL_DEFAULTS = { players: 20, seconds: 90, workdir: '.nearstream-chaos', basePort: 24_000 } as const;

export const USAGE = `usage: npm run chaos -- <command> [options]

  list                                   the chaos experiment catalog: fault, blast radius, duration, allowed SPS dip
  run EXPERIMENT --env NAME --region R   start EXPERIMENT's FIS template in one region of an environment and follow it to its end
  local EXPERIMENT|all                   drill EXPERIMENT (or each in turn) on a local platform it starts: players, the fault, a verdict

  --env NAME       run: the environment, e.g. staging or pr-7; its chaos must be leashed or on (context chaos)
  --region R       run: the region to run in, e.g. ${DEFAULT_PRIMARY_REGION}
  --dry-run        run: FIS resolves the targets and skips every action, so nothing is harmed
  --players N      local: concurrent CLI players [${LOCAL_DEFAULTS.players}]
  --seconds S      local: each drill's length; the fault is on for its middle third [${LOCAL_DEFAULTS.seconds}]
  --workdir DIR    local: the drill platform's working directory, emptied first; reports go to DIR/reports [${LOCAL_DEFAULTS.workdir}]
  --port N         local: first of the platform's loopback ports [${LOCAL_DEFAULTS.basePort}]
  --help, -h       this text

Experiments: ${CHAOS_EXPERIMENTS.map((experiment) => experiment.name).join(', ')}.
A run prints each change of the experiment's and its actions' states and of the region's SPS alarm,
which stops the experiment when it fires. Ctrl-C during a run stops the experiment (a second Ctrl-C
quits without waiting for FIS to confirm).
A local drill judges the steady state: every play completes, rebuffering stays under 5% and failed
segment fetches under 20%, and the platform's SPS during the fault dips no more than the experiment allows; it
exits 0 when every drill passed, 1 when one failed, and writes an HTML report with SPS over time.
Exit codes: 0 completed (or list), 1 stopped, failed or not found, 2 bad usage, 3 no AWS credentials.`;

/** Bad usage: exit 2 with the message. */
export { UsageError };

export type ChaosCommand =
  | { readonly command: 'help' }
  | { readonly command: 'list' }
  | {
      readonly command: 'run';
      readonly experiment: ChaosExperiment;
      readonly environment: string;
      readonly region: string;
      readonly dryRun: boolean;
    }
  | {
      readonly command: 'local';
      readonly experiments: readonly ChaosExperiment[];
      readonly players: number;
      readonly seconds: number;
      readonly workdir: string;
      readonly basePort: number;
    };

const COMMANDS = ['list', 'run', 'local'] as const;
type Command = (typeof COMMANDS)[number];
type Values = OptionValues;

/** Each command's own options: one the other command takes is still an error here. */
const COMMAND_OPTIONS: Readonly<Record<Command, NonNullable<ParseArgsConfig['options']>>> = {
  list: { help: { type: 'boolean', short: 'h' } },
  run: { env: { type: 'string' }, region: { type: 'string' }, 'dry-run': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  local: { players: { type: 'string' }, seconds: { type: 'string' }, workdir: { type: 'string' }, port: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
};

/** Parses `npm run chaos` arguments, or throws a `UsageError` naming the one thing that is wrong. */
export function parseChaosArgs(argv: readonly string[]): ChaosCommand {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    return { command: 'help' };
  }
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new UsageError(`unknown command '${command}': choose ${COMMANDS.slice(0, -1).join(', ')} or ${COMMANDS.at(-1)} (--help for usage)`);
  }
  const { values, positionals } = parseCommandOptions(command, rest, COMMAND_OPTIONS[command as Command]);
  if (values.help) {
    return { command: 'help' };
  }
  if (command === 'list') {
    if (positionals.length > 0) {
      throw new UsageError(`list: unexpected argument '${positionals[0]}'`);
    }
    return { command: 'list' };
  }
  if (command === 'local') {
    return localDrills(positionals, values);
  }
  return { command: 'run', ...runTarget(positionals, values), dryRun: values['dry-run'] === true };
}

function runTarget(positionals: readonly string[], values: Values) {
  if (positionals.length === 0) {
    throw new UsageError(`run: which experiment? give one of ${CHAOS_EXPERIMENTS.map((experiment) => experiment.name).join(', ')}`);
  }
  if (positionals.length > 1) {
    throw new UsageError(`run: one experiment at a time (got ${positionals.join(', ')})`);
  }
  let experiment: ChaosExperiment;
  try {
    experiment = experimentNamed(positionals[0]);
  } catch (error) {
    throw new UsageError(`run: ${(error as Error).message}`);
  }
  const environment = values.env as string | undefined;
  const region = values.region as string | undefined;
  const missing = [
    environment === undefined ? '--env NAME (the environment, e.g. pr-7)' : undefined,
    region === undefined ? `--region R (the region to run in, e.g. ${DEFAULT_PRIMARY_REGION})` : undefined,
  ].filter((flag) => flag !== undefined);
  if (missing.length > 0) {
    throw new UsageError(`run ${experiment.name}: missing ${missing.join(' and ')}`);
  }
  checkPlacement(experiment.name, environment!, region!);
  return { experiment, environment: environment!, region: region! };
}

function localDrills(positionals: readonly string[], values: Values): ChaosCommand {
  const names = CHAOS_EXPERIMENTS.map((experiment) => experiment.name).join(', ');
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? `local: which experiment? give one of ${names}, or all` : `local: one experiment or all (got ${positionals.join(', ')})`);
  }
  let experiments: readonly ChaosExperiment[];
  try {
    experiments = positionals[0] === 'all' ? CHAOS_EXPERIMENTS : [experimentNamed(positionals[0])];
  } catch (error) {
    throw new UsageError(`local: ${(error as Error).message}, or all`);
  }
  return {
    command: 'local',
    experiments,
    players: wholeNumber('--players', values.players, LOCAL_DEFAULTS.players, 1, 500),
    seconds: wholeNumber('--seconds', values.seconds, LOCAL_DEFAULTS.seconds, 15, 3_600),
    workdir: (values.workdir as string | undefined) ?? LOCAL_DEFAULTS.workdir,
    basePort: wholeNumber('--port', values.port, LOCAL_DEFAULTS.basePort, 1024, 65_000),
  };
}

function wholeNumber(flag: string, raw: string | boolean | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) {
    return fallback;
  }
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`local: ${flag} must be a whole number from ${min} to ${max} (got '${String(raw)}')`);
  }
  return value;
}

/**
 * The config owns the environment-name and region rules, so they are judged by it. It wants two
 * distinct regions; the second one given here differs from `--region` so only `--region` is judged.
 */
function checkPlacement(experimentName: string, environment: string, region: string): void {
  const secondaryRegion = region === DEFAULT_SECONDARY_REGION ? DEFAULT_PRIMARY_REGION : DEFAULT_SECONDARY_REGION;
  try {
    resolveEnvironment({ name: environment, primaryRegion: region, secondaryRegion });
  } catch (error) {
    if (error instanceof ConfigError) {
      const flags: Record<string, string> = { env: '--env', primaryRegion: '--region' };
      const problems = error.problems.map((problem) => `${flags[problem.field] ?? problem.field}: ${problem.rule}`);
      throw new UsageError(`run ${experimentName}: ${problems.join('; ')}`);
    }
    throw error;
  }
}
