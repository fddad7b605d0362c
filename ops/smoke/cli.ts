import { parseArgs } from 'node:util';
import { ID_PATTERN } from '../../lambda/shared/request-fields';
import { DEFAULT_PRIMARY_REGION, DEFAULT_SECONDARY_REGION, EnvironmentConfig, resolveEnvironment } from '../../lib/config/environment';
import { ConfigError } from '../../lib/config/config-error';
import { formatReport } from '../../local/player';
import { defaultSmokeAws, SmokeAws } from './aws-clients';
import { DEFAULT_WARM_UP_MS } from './health';
import { SMOKE_OUTPUTS, SMOKE_PLAIN_VARIABLES, SMOKE_TOKEN_VARIABLE } from './outputs';
import { runSmoke, SmokeResult } from './run';
import { ClipUploader } from './clip-upload';

const DEFAULT_TITLE_TIMEOUT_MINUTES = 30;

const USAGE = `usage: npm run smoke -- [options]

Checks a deployed environment: both regions answer GET /health, a test viewer signs in, a title is
playable (a 10 s clip is encoded if the catalog is empty), and the start of it plays through the
CLI player. The pipeline passes the stacks' outputs in variables; from a laptop, --env reads them
from the environment's stacks (CloudFormation DescribeStacks).

  --env NAME              the environment, e.g. staging or pr-7 [$NEARSTREAM_ENV]
  --primary-region R      [$NEARSTREAM_PRIMARY_REGION, else ${DEFAULT_PRIMARY_REGION}]
  --secondary-region R    [$NEARSTREAM_SECONDARY_REGION, else ${DEFAULT_SECONDARY_REGION}]
  --title ID              play this title [the newest available one]
  --title-timeout MIN     minutes to wait for the clip's encode when the catalog is empty [${DEFAULT_TITLE_TIMEOUT_MINUTES}]
  --warm-up SEC           seconds a region may take to answer /health with 200 after a deploy [${DEFAULT_WARM_UP_MS / 1000}]
  --json                  print one JSON object with every step's outcome on stdout
  --help, -h              this text

Variables (set by the pipeline from stack outputs; read from the stacks when absent):
${SMOKE_OUTPUTS.map((output) => `  ${output.variable.padEnd(24)}${output.stackPart} stack (${output.region} region), output ${output.outputKey}${output.onlyWith ? ' (with the Cognito pool only)' : ''}`).join('\n')}
  ${SMOKE_TOKEN_VARIABLE.padEnd(24)}a viewer token, for an environment that trusts an external issuer

Exit status: 0 every step passed, 1 a check failed (named), 2 bad usage, 3 no AWS credentials where needed.`;

/** Bad usage: exit 2 with the message. */
class UsageError extends Error {}

export interface SmokeCliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

export interface SmokeCliDependencies {
  /** @default the SDK's default credential chain */
  readonly aws?: SmokeAws;
  readonly uploader?: ClipUploader;
  readonly scratchDir?: string;
}

interface ParsedArgs {
  readonly config: EnvironmentConfig;
  readonly titleId?: string;
  readonly titleTimeoutMs: number;
  readonly warmUpMs: number;
  readonly json: boolean;
  /** The output variables apply: they describe this environment. */
  readonly useVariables: boolean;
}

function positiveNumber(flag: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !(value > 0) || !Number.isFinite(value)) {
    throw new UsageError(`--${flag} must be a positive number (got '${text}')`);
  }
  return value;
}

function parse(argv: readonly string[], variables: Readonly<Partial<Record<string, string>>>): ParsedArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        env: { type: 'string' },
        'primary-region': { type: 'string' },
        'secondary-region': { type: 'string' },
        title: { type: 'string' },
        'title-timeout': { type: 'string', default: String(DEFAULT_TITLE_TIMEOUT_MINUTES) },
        'warm-up': { type: 'string', default: String(DEFAULT_WARM_UP_MS / 1000) },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]);
  }
  const { values } = parsed;
  if (values.help) {
    return 'help';
  }
  const [envVariable, primaryVariable, secondaryVariable] = SMOKE_PLAIN_VARIABLES.map((name) => variables[name]?.trim() || undefined);
  const env = values.env ?? envVariable;
  if (!env) {
    throw new UsageError('--env is required (or NEARSTREAM_ENV): the environment to check, e.g. --env pr-7');
  }
  if (values.title !== undefined && !ID_PATTERN.test(values.title)) {
    throw new UsageError(`--title must be a title id (letters, digits, '-' and '_'; got '${values.title}')`);
  }
  let config: EnvironmentConfig;
  try {
    config = resolveEnvironment({
      name: env,
      primaryRegion: values['primary-region'] ?? primaryVariable,
      secondaryRegion: values['secondary-region'] ?? secondaryVariable,
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      const flags: Record<string, string> = { env: '--env', primaryRegion: '--primary-region', secondaryRegion: '--secondary-region' };
      throw new UsageError(error.problems.map((problem) => `${flags[problem.field] ?? problem.field}: ${problem.rule}`).join('; '));
    }
    throw error;
  }
  return {
    config,
    ...(values.title === undefined ? {} : { titleId: values.title }),
    titleTimeoutMs: positiveNumber('title-timeout', values['title-timeout']) * 60_000,
    warmUpMs: positiveNumber('warm-up', values['warm-up']) * 1000,
    json: values.json,
    // The pipeline's variables describe NEARSTREAM_ENV; a laptop asking for another environment must not mix them in.
    useVariables: envVariable === undefined || envVariable === env,
  };
}

/** The one line that ends a run, naming the step that failed. */
function verdict(result: SmokeResult): string {
  if (result.passed) {
    return `smoke test of ${result.env} passed: ${result.steps.map((step) => step.step).join(', ')}`;
  }
  const failed = result.steps.find((step) => step.step === result.failedStep);
  return `smoke test of ${result.env} FAILED at ${result.failedStep}: ${failed?.error}`;
}

/**
 * `npm run smoke`: resolves to the exit status. `variables` is the process environment, passed in
 * by bin/ (the only place that reads it) and by tests.
 */
export async function runSmokeCli(
  argv: readonly string[],
  variables: Readonly<Partial<Record<string, string>>>,
  io: SmokeCliIo = process,
  deps: SmokeCliDependencies = {},
): Promise<number> {
  let args: ParsedArgs | 'help';
  try {
    args = parse(argv, variables);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`npm run smoke: ${error.message} (see --help)\n`);
      return 2;
    }
    throw error;
  }
  if (args === 'help') {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const log = (line: string) => io.stderr.write(`${line}\n`);
  const aws = deps.aws ?? defaultSmokeAws(log);
  let result: SmokeResult;
  try {
    result = await runSmoke(
      {
        config: args.config,
        variables: args.useVariables ? variables : { [SMOKE_TOKEN_VARIABLE]: variables[SMOKE_TOKEN_VARIABLE] },
        ...(args.titleId ? { titleId: args.titleId } : {}),
        titleTimeoutMs: args.titleTimeoutMs,
        warmUpMs: args.warmUpMs,
      },
      { aws, log, ...(deps.uploader ? { uploader: deps.uploader } : {}), ...(deps.scratchDir ? { scratchDir: deps.scratchDir } : {}) },
    );
  } finally {
    aws.destroy();
  }
  if (args.json) {
    io.stdout.write(`${JSON.stringify(result)}\n`);
  } else if (result.play) {
    io.stdout.write(formatReport(result.play));
  }
  if (result.noCredentials) {
    io.stderr.write(`${result.noCredentials}\n`);
    return 3;
  }
  (args.json ? io.stderr : io.stdout).write(`${verdict(result)}\n`);
  return result.passed ? 0 : 1;
}
