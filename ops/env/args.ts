import { ParseArgsConfig } from 'node:util';
import { OptionValues, parseCommandOptions, UsageError } from '../cli-args';
import { ConfigError } from '../../lib/config/config-error';
import { environmentNameForBranch } from '../../lib/config/environment-names';
import { DEFAULT_PRIMARY_REGION, DEFAULT_SECONDARY_REGION, isEphemeralName, resolveEnvironment } from '../../lib/config/environment';
import { creatorTagValue, DEFAULT_TTL_SECONDS, parseTtl } from '../../lib/config/lifetime';

export const USAGE = `usage: npm run env -- <command> [options]

  create NAME | --branch B    deploy an ephemeral environment (all its stacks, both regions) and print its outputs
  destroy NAME | --branch B   destroy every stack of an ephemeral environment (asks first; --yes to skip)
  list                        the environments in the account: kind, creator, expiry, stacks and statuses
  diff NAME | --branch B      what deploying NAME would change (offline: against nothing deployed)
  synth NAME | --branch B     synthesize NAME's stacks into --out and print them with their template sizes
  name --branch B             the ephemeral environment name of a branch (what the pull-request pipeline uses)

  --ttl DURATION              create/diff/synth: how long the environment lives, 1h to 30d, like 90m, 12h, 3d [3d]
  --creator WHO               create/diff/synth: the creator tag [your AWS identity's name, else your OS user]
  --account ID                the 12-digit account [your credentials' account]
  --primary-region R          [${DEFAULT_PRIMARY_REGION}]
  --secondary-region R        [${DEFAULT_SECONDARY_REGION}]
  --yes                       destroy: do not ask
  --no-bundling               diff/synth: skip Lambda bundling (faster; function code hashes then differ from a deploy's)
  --out DIR                   synth: where to write the cloud assembly [cdk.out/env-NAME]
  --json                      print the result as one JSON object
  --help, -h                  this text

Only ephemeral environments are created or destroyed here; dev, staging and prod come from the
pipeline or \`npx cdk deploy -c env=NAME\`. Exit codes: 0 ok, 1 failed, 2 bad usage, 3 no AWS credentials.`;

/** Bad usage or configuration: exit 2 with the message. */
export { UsageError };

/** Where one environment lives, as the user said it (config defaults fill the rest). */
export interface Target {
  readonly name: string;
  readonly account?: string;
  readonly primaryRegion: string;
  readonly secondaryRegion: string;
}

/** Who made an environment and how long it lives; undefined `creator` means "work it out". */
export interface LifetimeRequest {
  readonly ttlSeconds: number;
  readonly creator?: string;
}

export type EnvCommand =
  | { readonly command: 'help' }
  | { readonly command: 'name'; readonly branch: string; readonly json: boolean }
  | { readonly command: 'create'; readonly target: Target; readonly lifetime: LifetimeRequest; readonly json: boolean }
  | { readonly command: 'destroy'; readonly target: Target; readonly yes: boolean; readonly json: boolean }
  | { readonly command: 'list'; readonly account?: string; readonly regions: readonly [string, string]; readonly json: boolean }
  | { readonly command: 'diff'; readonly target: Target; readonly lifetime?: LifetimeRequest; readonly bundling: boolean; readonly json: boolean }
  | {
      readonly command: 'synth';
      readonly target: Target;
      readonly lifetime?: LifetimeRequest;
      readonly bundling: boolean;
      readonly outdir?: string;
      readonly json: boolean;
    };

type Options = NonNullable<ParseArgsConfig['options']>;

const COMMON: Options = { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } };
const PLACEMENT: Options = {
  branch: { type: 'string' },
  account: { type: 'string' },
  'primary-region': { type: 'string' },
  'secondary-region': { type: 'string' },
};
const LIFETIME: Options = { ttl: { type: 'string' }, creator: { type: 'string' } };
const OFFLINE: Options = { 'no-bundling': { type: 'boolean' } };

/** Each command's own options: an option another command takes is still an error here. */
const COMMAND_OPTIONS: Readonly<Record<Exclude<EnvCommand['command'], 'help'>, Options>> = {
  create: { ...COMMON, ...PLACEMENT, ...LIFETIME },
  destroy: { ...COMMON, ...PLACEMENT, yes: { type: 'boolean' } },
  list: { ...COMMON, account: { type: 'string' }, 'primary-region': { type: 'string' }, 'secondary-region': { type: 'string' } },
  diff: { ...COMMON, ...PLACEMENT, ...LIFETIME, ...OFFLINE },
  synth: { ...COMMON, ...PLACEMENT, ...LIFETIME, ...OFFLINE, out: { type: 'string' } },
  name: { ...COMMON, branch: { type: 'string' } },
};

type Values = OptionValues;

/** Parses `npm run env` arguments, or throws a `UsageError` naming the one thing that is wrong. */
export function parseEnvArgs(argv: readonly string[]): EnvCommand {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    return { command: 'help' };
  }
  if (!Object.hasOwn(COMMAND_OPTIONS, command)) {
    throw new UsageError(`unknown command '${command}': choose create, destroy, list, diff, synth or name (--help for usage)`);
  }
  const name = command as keyof typeof COMMAND_OPTIONS;
  const parsed = parseCommandOptions(command, rest, COMMAND_OPTIONS[name]);
  const { values, positionals } = parsed;
  if (values.help) {
    return { command: 'help' };
  }
  const json = values.json === true;
  switch (name) {
    case 'name':
      return { command: 'name', branch: branchOnly(values, positionals), json };
    case 'list': {
      noPositionals('list', positionals);
      // The config owns the account and region rules; any valid name lets it judge them alone.
      const target = placementOf('list', 'list', values);
      return { command: 'list', account: target.account, regions: [target.primaryRegion, target.secondaryRegion], json };
    }
    case 'create': {
      const environment = environmentNameOf('create', values, positionals);
      if (!isEphemeralName(environment)) {
        throw new UsageError(
          `create: '${environment}' is a named environment: create makes ephemeral environments only (with a creator and an expiry); ` +
            `dev, staging and prod come from the pipeline or \`npx cdk deploy -c env=${environment}\``,
        );
      }
      const target = placementOf('create', environment, values);
      return { command: 'create', target, lifetime: lifetimeOf(values), json };
    }
    case 'destroy': {
      const environment = environmentNameOf('destroy', values, positionals);
      if (!isEphemeralName(environment)) {
        throw new UsageError(
          `destroy: '${environment}' is a named environment and is never destroyed by this command: only ephemeral environments are`,
        );
      }
      return { command: 'destroy', target: placementOf('destroy', environment, values), yes: values.yes === true, json };
    }
    case 'diff':
    case 'synth': {
      const target = placementOf(name, environmentNameOf(name, values, positionals), values);
      const lifetime = isEphemeralName(target.name) ? lifetimeOf(values) : namedWithoutLifetime(name, target, values);
      const bundling = values['no-bundling'] !== true;
      return name === 'diff'
        ? { command: 'diff', target, lifetime, bundling, json }
        : { command: 'synth', target, lifetime, bundling, outdir: values.out as string | undefined, json };
    }
  }
}

function branchOnly(values: Values, positionals: readonly string[]): string {
  noPositionals('name', positionals);
  const branch = values.branch as string | undefined;
  if (branch === undefined || branch.trim() === '') {
    throw new UsageError('name: --branch is required (the pull request\'s source branch, like feature/login)');
  }
  return branch;
}

function noPositionals(command: string, positionals: readonly string[]): void {
  if (positionals.length > 0) {
    throw new UsageError(`${command}: unexpected argument '${positionals[0]}'`);
  }
}

/** The environment a command works on, from NAME or `--branch`. */
function environmentNameOf(command: string, values: Values, positionals: readonly string[]): string {
  const branch = values.branch as string | undefined;
  if (positionals.length > 1) {
    throw new UsageError(`${command}: one environment at a time (got ${positionals.join(', ')})`);
  }
  if (branch !== undefined && positionals.length > 0) {
    throw new UsageError(`${command}: give NAME or --branch, not both`);
  }
  if (branch === undefined && positionals.length === 0) {
    throw new UsageError(`${command}: which environment? give NAME (like pr-7) or --branch BRANCH`);
  }
  return branch !== undefined ? nameForBranch(command, branch) : positionals[0];
}

/** Checked by `resolveEnvironment`, so a bad name, account or region is refused with the config's own rule text. */
function placementOf(command: string, name: string, values: Values): Target {
  const input = {
    name,
    account: values.account as string | undefined,
    primaryRegion: values['primary-region'] as string | undefined,
    secondaryRegion: values['secondary-region'] as string | undefined,
  };
  const config = checked(command, () => resolveEnvironment(input));
  return { name, account: config.account, primaryRegion: config.primaryRegion, secondaryRegion: config.secondaryRegion };
}

function nameForBranch(command: string, branch: string): string {
  try {
    return environmentNameForBranch(branch);
  } catch (error) {
    throw new UsageError(`${command}: --branch: ${(error as Error).message}`);
  }
}

function lifetimeOf(values: Values): LifetimeRequest {
  const ttl = values.ttl as string | undefined;
  let ttlSeconds = DEFAULT_TTL_SECONDS;
  if (ttl !== undefined) {
    try {
      ttlSeconds = parseTtl(ttl);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  const given = values.creator as string | undefined;
  if (given !== undefined && given.trim() === '') {
    throw new UsageError('--creator must name someone (a person, a role, pull-request/<branch>)');
  }
  // Whatever names the creator (a branch like fix/#12, an ARN) becomes a valid tag value.
  return { ttlSeconds, creator: given === undefined ? undefined : creatorTagValue(given.trim()) };
}

/** Named environments never expire: the config refuses a lifetime, and so does the command, saying why. */
function namedWithoutLifetime(command: string, target: Target, values: Values): undefined {
  if (values.ttl !== undefined || values.creator !== undefined) {
    throw new UsageError(`${command}: --ttl and --creator apply only to ephemeral environments: '${target.name}' never expires`);
  }
  return undefined;
}

function checked<T>(command: string, resolve: () => T): T {
  try {
    return resolve();
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new UsageError(`${command}: ${error.problems.map((problem) => `${problem.field}: ${problem.rule}`).join('; ')}`);
    }
    throw error;
  }
}
