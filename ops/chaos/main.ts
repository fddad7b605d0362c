import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { FisClient } from '@aws-sdk/client-fis';
import { CHAOS_EXPERIMENTS } from '../../lib/chaos/catalog';
import type { CredentialCheck } from '../aws/credentials';
import { ChaosCommand, parseChaosArgs, USAGE, UsageError } from './args';
import { formatCatalog } from './catalog-table';
import { runLocalChaos } from './local/local-command';
import { Clock } from './follow';
import { runExperiment } from './run';
import { TemplateLookupError } from './templates';

/** The exit codes `npm run chaos` promises. */
export const EXIT = { ok: 0, failed: 1, usage: 2, noCredentials: 3 } as const;

/** One region's clients for a run. */
export interface ChaosClients {
  readonly fis: Pick<FisClient, 'send'>;
  readonly cloudWatch: Pick<CloudWatchClient, 'send'>;
  /** Closes them. */
  destroy(): void;
}

/** The terminal, the clock and AWS, so tests can stand in for each. */
export interface ChaosIo {
  /** Results and progress, a line at a time. */
  out(line: string): void;
  /** Errors, a line at a time. */
  err(line: string): void;
  findCredentials(): Promise<CredentialCheck>;
  clients(region: string): ChaosClients;
  readonly clock: Clock;
  /** Aborts on Ctrl-C. */
  readonly interrupted: AbortSignal;
  newClientToken(): string;
}

/** Runs `npm run chaos -- <argv>` and resolves to its exit code; every failure is one clear line. */
export async function runChaos(argv: readonly string[], io: ChaosIo): Promise<number> {
  const commandLine = `npm run chaos -- ${argv.join(' ')}`.trimEnd();
  let command: ChaosCommand;
  try {
    command = parseChaosArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`npm run chaos: ${error.message}`);
      return EXIT.usage;
    }
    throw error;
  }
  switch (command.command) {
    case 'help':
      io.out(USAGE);
      return EXIT.ok;
    case 'list':
      io.out(formatCatalog(CHAOS_EXPERIMENTS));
      return EXIT.ok;
    case 'local':
      // Local drills break a platform on this machine: no AWS, so no credentials to find.
      try {
        return (await runLocalChaos(command, io)) ? EXIT.ok : EXIT.failed;
      } catch (error) {
        io.err(`${commandLine} failed: ${(error as Error).message.split('\n')[0]}`);
        return EXIT.failed;
      }
  }
  const credentials = await io.findCredentials();
  if (!credentials.ok) {
    // Not `noCredentialsLine`: its bootstrap advice is for deploys, and a run deploys nothing.
    io.err(`${commandLine}: ${credentials.reason} (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, for the account of ${command.environment})`);
    return EXIT.noCredentials;
  }
  const clients = io.clients(command.region);
  try {
    return await runExperiment(
      { experiment: command.experiment, environment: command.environment, region: command.region, dryRun: command.dryRun, callerArn: credentials.identity.arn },
      { ...clients, clock: io.clock, interrupted: io.interrupted, out: io.out, newClientToken: io.newClientToken },
    );
  } catch (error) {
    io.err(error instanceof TemplateLookupError ? `${commandLine}: ${error.message}` : `${commandLine} failed: ${(error as Error).message.split('\n')[0]}`);
    return EXIT.failed;
  } finally {
    clients.destroy();
  }
}
