#!/usr/bin/env node
/**
 * `npm run bench:fill [-- --json] [--objects N] [--object-bytes B] [--rounds R]`: fill throughput of the
 * appliance agent from the S3 server (s3rver) into a fresh cache, SHA-256 verification on, beside
 * `rclone sync --checksum` (Debian package rclone) from the same server into another directory, in
 * the same run. Goal: at least 1.0x rclone. Both use 4 parallel transfers (rclone's default); each
 * is warmed up once, then the rounds alternate which runs first and the medians are compared.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApplianceWorld, makeTitle } from '../test/support/agent-harness';
import { mustRun } from '../test/support/run-process';
import { requireTools } from '../local/prerequisites';

function argument(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`${name} must be a positive whole number`);
  }
  return value;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const objects = argument('--objects', 200);
  const objectBytes = argument('--object-bytes', 2_000_000);
  const rounds = argument('--rounds', 3);
  const world = new ApplianceWorld();
  await world.start();
  try {
    const items = makeTitle('bench', objects, objectBytes);
    const bytes = items.reduce((sum, item) => sum + item.object.size, 0);
    await world.publish(1, items);
    world.writeConfig({ parallelism: 4, bandwidthCapBytesPerSecond: 100_000_000_000, diskCeilingBytes: bytes * 2, capacity: { egressGbps: 10, diskBytes: bytes * 2 } });

    // Each run starts with nothing dirty in the page cache: otherwise one tool's unwritten bytes
    // are flushed to disk during, and at the cost of, the next tool's run.
    const settleDisk = () => mustRun('sync', []);
    const agentRun = async () => {
      fs.rmSync(world.cacheDir, { recursive: true, force: true });
      fs.rmSync(world.stateDir, { recursive: true, force: true });
      fs.mkdirSync(world.cacheDir);
      await settleDisk();
      const started = performance.now();
      const agent = await world.runAgent('fill', '--ignore-window');
      const seconds = (performance.now() - started) / 1000;
      if (agent.status !== 0) {
        throw new Error(`the agent's fill failed: ${agent.stdout.slice(-500)}`);
      }
      const logged = agent.stdout.trim().split('\n').map((line) => JSON.parse(line) as { time: string; message: string });
      const at = (message: string) => Date.parse(logged.find((entry) => entry.message === message)!.time);
      if (Object.keys(world.servedFiles()).length !== objects) {
        throw new Error(`the agent left ${Object.keys(world.servedFiles()).length} of ${objects} objects in the cache`);
      }
      return { seconds, transferSeconds: (at('fill finished') - at('fill starting')) / 1000 };
    };

    const rcloneDir = path.join(world.root, 'rclone');
    // rclone reads AWS_CA_BUNDLE and refuses a plain-HTTP endpoint with it set; the S3 server is local.
    const { AWS_CA_BUNDLE: _bundle, ...inherited } = process.env;
    const env = {
      ...inherited,
      RCLONE_CONFIG_ORIGIN_TYPE: 's3',
      RCLONE_CONFIG_ORIGIN_PROVIDER: 'Other',
      RCLONE_CONFIG_ORIGIN_ENDPOINT: world.s3.endpoint,
      RCLONE_CONFIG_ORIGIN_ACCESS_KEY_ID: 'S3RVER',
      RCLONE_CONFIG_ORIGIN_SECRET_ACCESS_KEY: 'S3RVER',
      RCLONE_CONFIG_ORIGIN_REGION: 'us-east-1',
    };
    const rcloneRun = async () => {
      fs.rmSync(rcloneDir, { recursive: true, force: true });
      await settleDisk();
      const started = performance.now();
      // --fast-list: one recursive listing. s3rver answers delimiter listings of nested prefixes
      // with nothing, which would make rclone copy nothing; on AWS --fast-list is the usual choice.
      await mustRun('rclone', ['sync', '--checksum', '--fast-list', '--transfers', '4', 'origin:origin/titles', rcloneDir], env);
      const seconds = (performance.now() - started) / 1000;
      // rclone exits with its bytes still in the page cache; the agent syncs each object before
      // it counts it. This is the time until rclone's bytes are as durable.
      await mustRun('sync', ['-f', rcloneDir]);
      const durableSeconds = (performance.now() - started) / 1000;
      const copiedDir = path.join(rcloneDir, 'bench', 'avc1');
      const copied = fs.existsSync(copiedDir) ? fs.readdirSync(copiedDir).length : 0;
      if (copied !== objects) {
        throw new Error(`rclone copied ${copied} of ${objects} objects into ${rcloneDir}`);
      }
      return { seconds, durableSeconds };
    };

    // One untimed run of each warms the server (JIT, page cache) for both; then the timed rounds
    // alternate which goes first, so neither always meets the server warmer.
    await agentRun();
    await rcloneRun();
    const agentRuns: { seconds: number; transferSeconds: number }[] = [];
    const rcloneRuns: { seconds: number; durableSeconds: number }[] = [];
    for (let round = 0; round < rounds; round++) {
      if (round % 2 === 0) {
        agentRuns.push(await agentRun());
        rcloneRuns.push(await rcloneRun());
      } else {
        rcloneRuns.push(await rcloneRun());
        agentRuns.push(await agentRun());
      }
    }
    const agentSeconds = median(agentRuns.map((r) => r.seconds));
    const agentTransferSeconds = median(agentRuns.map((r) => r.transferSeconds));
    const rcloneSeconds = median(rcloneRuns.map((r) => r.seconds));
    const rcloneDurableSeconds = median(rcloneRuns.map((r) => r.durableSeconds));

    const mbps = (seconds: number) => Math.round((bytes / seconds / 1e6) * 10) / 10;
    const round2 = (value: number) => Math.round(value * 100) / 100;
    const figures = {
      objects,
      bytes,
      rounds,
      agentSeconds: round2(agentSeconds),
      agentMBps: mbps(agentSeconds),
      agentTransferSeconds: round2(agentTransferSeconds),
      agentTransferMBps: mbps(agentTransferSeconds),
      rcloneSeconds: round2(rcloneSeconds),
      rcloneMBps: mbps(rcloneSeconds),
      rcloneDurableSeconds: round2(rcloneDurableSeconds),
      rcloneDurableMBps: mbps(rcloneDurableSeconds),
      ratio: round2(rcloneSeconds / agentSeconds),
      ratioDurable: round2(rcloneDurableSeconds / agentSeconds),
      goalRatio: 1.0,
    };
    if (json) {
      console.log(JSON.stringify(figures));
      return;
    }
    console.log(`| fill of ${objects} objects, ${(bytes / 1e6).toFixed(0)} MB (median of ${rounds} rounds) | seconds | MB/s |`);
    console.log('| --- | --- | --- |');
    console.log(`| nearstream-agent (verified SHA-256, fsync, 4 parallel), whole run | ${figures.agentSeconds} | ${figures.agentMBps} |`);
    console.log(`| nearstream-agent, transfer phase only (after start-up, register, manifest) | ${figures.agentTransferSeconds} | ${figures.agentTransferMBps} |`);
    console.log(`| rclone sync --checksum (4 transfers), whole run | ${figures.rcloneSeconds} | ${figures.rcloneMBps} |`);
    console.log(`| rclone, then sync -f until its bytes are on disk | ${figures.rcloneDurableSeconds} | ${figures.rcloneDurableMBps} |`);
    console.log(`| ratio (agent / rclone throughput, whole runs) | ${figures.ratio} | goal >= 1.0 (${figures.ratio >= 1 ? 'met' : 'MISSED'}) |`);
    console.log(`| ratio at equal durability (agent / rclone + sync) | ${figures.ratioDurable} | |`);
  } finally {
    await world.stop();
  }
}

requireTools('bench:fill');
main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
