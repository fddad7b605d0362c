#!/usr/bin/env node
/**
 * `npm run chaos -- list | run EXPERIMENT --env NAME --region R [--dry-run] | local EXPERIMENT|all`:
 * the chaos catalog, one experiment run through AWS FIS and followed to its end, or drills of the
 * catalog on a local platform. See `npm run chaos -- --help`; the logic lives in ops/chaos/.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { FisClient } from '@aws-sdk/client-fis';
import { findCredentials } from '../ops/aws/credentials';
import { ChaosIo, runChaos } from '../ops/chaos/main';

// The SDK's Node-version notice would interleave with the progress lines; it says nothing actionable here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Throttling and 5xx retried with the SDK's backoff; short timeouts so a dead network fails a poll, not the run. */
const CLIENT_SETTINGS = { maxAttempts: 4, requestHandler: { connectionTimeout: 5_000, requestTimeout: 20_000 } } as const;

// The first Ctrl-C stops the experiment and waits for FIS to confirm; with the handler gone, a second one quits.
const interruption = new AbortController();
process.once('SIGINT', () => interruption.abort());

const io: ChaosIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  findCredentials: () => findCredentials(),
  clients: (region) => {
    const fis = new FisClient({ region, ...CLIENT_SETTINGS });
    const cloudWatch = new CloudWatchClient({ region, ...CLIENT_SETTINGS });
    return {
      fis,
      cloudWatch,
      destroy: () => {
        fis.destroy();
        cloudWatch.destroy();
      },
    };
  },
  clock: {
    nowMs: () => Date.now(),
    sleep: (ms, signal) => sleep(ms, undefined, { signal }).catch(() => undefined),
  },
  interrupted: interruption.signal,
  newClientToken: () => randomUUID(),
};

runChaos(process.argv.slice(2), io).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`npm run chaos: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
