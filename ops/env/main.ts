import * as os from 'node:os';
import * as readline from 'node:readline/promises';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { deleteLogGroupIfPresent, listLogGroupNames } from '../../lambda/cleanup/log-group-client';
import { ConfigError } from '../../lib/config/config-error';
import { environmentNameForBranch } from '../../lib/config/environment-names';
import { findCredentials, noCredentialsLine } from '../aws/credentials';
import { EnvCommand, parseEnvArgs, USAGE, UsageError } from './args';
import { createEnvironment, destroyEnvironment, diffEnvironment, EnvIo, listEnvironments, synthEnvironment } from './commands';
import { describeStacks } from './environments';
import { defaultSmokeAws } from '../smoke/aws-clients';
import { ensureTestViewer } from '../smoke/test-viewer';

/** The exit codes `npm run env` promises. */
export const EXIT = { ok: 0, failed: 1, usage: 2, noCredentials: 3 } as const;

/** The terminal and AWS as they are. */
export function processIo(): EnvIo {
  return {
    out: (text) => process.stdout.write(text),
    err: (line) => process.stderr.write(`${line}\n`),
    stdinIsTTY: process.stdin.isTTY === true,
    ask: async (question) => {
      const prompt = readline.createInterface({ input: process.stdin, output: process.stderr });
      try {
        return await prompt.question(question);
      } finally {
        prompt.close();
      }
    },
    now: () => new Date(),
    osUser: () => os.userInfo().username,
    findCredentials: () => findCredentials(),
    describeStacks,
    listLogGroups: (region, prefix) => withLogsClient(region, (client) => listLogGroupNames(client, prefix)),
    deleteLogGroup: (region, logGroupName) => withLogsClient(region, (client) => deleteLogGroupIfPresent(client, logGroupName)),
    signInTestViewer: async (settings, region) => {
      const aws = defaultSmokeAws(() => undefined);
      try {
        return await ensureTestViewer({ cognito: aws.cognito(region), documents: aws.documents(region) }, settings);
      } finally {
        aws.destroy();
      }
    },
  };
}

/** A CloudWatch Logs client of `region` for one call, with the SDK's retries for throttling. */
async function withLogsClient<T>(region: string, call: (client: CloudWatchLogsClient) => Promise<T>): Promise<T> {
  const client = new CloudWatchLogsClient({ region, maxAttempts: 5 });
  try {
    return await call(client);
  } finally {
    client.destroy();
  }
}

/** Runs `npm run env -- <argv>` and returns its exit code; prints one clear line on any failure. */
export async function runEnv(argv: readonly string[], io: EnvIo): Promise<number> {
  const commandLine = `npm run env -- ${argv.join(' ')}`.trimEnd();
  let command: EnvCommand;
  try {
    command = parseEnvArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`npm run env: ${error.message}`);
      return EXIT.usage;
    }
    throw error;
  }
  try {
    return await run(command, commandLine, io);
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      io.err(`npm run env: ${error.message}`);
      return EXIT.usage;
    }
    io.err(`${commandLine} failed: ${(error as Error).message}`);
    return EXIT.failed;
  }
}

async function run(command: EnvCommand, commandLine: string, io: EnvIo): Promise<number> {
  switch (command.command) {
    case 'help':
      io.out(`${USAGE}\n`);
      return EXIT.ok;
    case 'name': {
      const name = environmentNameForBranch(command.branch);
      io.out(command.json ? `${JSON.stringify({ branch: command.branch, name })}\n` : `${name}\n`);
      return EXIT.ok;
    }
    case 'diff':
      return diffEnvironment(command, io);
    case 'synth':
      return synthEnvironment(command, io);
  }
  if (command.command === 'destroy' && !command.yes && !io.stdinIsTTY) {
    throw new UsageError(`destroy ${command.target.name}: refusing to destroy without confirmation: stdin is not a terminal, so pass --yes`);
  }
  const regions = command.command === 'list' ? command.regions : [command.target.primaryRegion, command.target.secondaryRegion];
  const account = command.command === 'list' ? command.account : command.target.account;
  const credentials = await io.findCredentials();
  if (!credentials.ok) {
    io.err(noCredentialsLine(commandLine, regions, account, credentials.reason));
    return EXIT.noCredentials;
  }
  switch (command.command) {
    case 'create':
      return createEnvironment(command, credentials.identity, io);
    case 'destroy':
      return destroyEnvironment(command, credentials.identity, io);
    case 'list':
      return listEnvironments(command, credentials.identity, io);
  }
}
