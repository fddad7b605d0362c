#!/usr/bin/env node
/**
 * `npm run bench:fill [-- --json] [-- --objects N] [-- --object-bytes B]`: fill throughput of the
 * appliance agent from the S3 server (s3rver) into a fresh cache, SHA-256 verification on, beside
 * `rclone sync --checksum` (Debian package rclone) from the same server into another directory, in
 * the same run. Goal: at least 1.0x rclone. Both use 4 parallel transfers (rclone's default).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApplianceWorld, makeTitle } from '../test/support/agent-harness';

function argument(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`${name} must be a positive whole number`);
  }
  return value;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(0) : reject(new Error(`${command} exited ${code}: ${stderr.slice(0, 500)}`))));
  });
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const objects = argument('--objects', 150);
  const objectBytes = argument('--object-bytes', 1_000_000);
  const world = new ApplianceWorld();
  await world.start();
  try {
    const items = makeTitle('bench', objects, objectBytes);
    const bytes = items.reduce((sum, item) => sum + item.object.size, 0);
    await world.publish(1, items);
    world.writeConfig({ parallelism: 4, bandwidthCapBytesPerSecond: 100_000_000_000, diskCeilingBytes: bytes * 2, capacity: { egressGbps: 10, diskBytes: bytes * 2 } });

    const agentStarted = performance.now();
    const agent = await world.runAgent('fill', '--ignore-window');
    const agentSeconds = (performance.now() - agentStarted) / 1000;
    if (agent.status !== 0) {
      throw new Error(`the agent's fill failed: ${agent.stdout.slice(-500)}`);
    }
    const logged = agent.stdout.trim().split('\n').map((line) => JSON.parse(line) as { time: string; message: string });
    const at = (message: string) => Date.parse(logged.find((entry) => entry.message === message)!.time);
    const agentTransferSeconds = (at('fill finished') - at('fill starting')) / 1000;

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
    const rcloneStarted = performance.now();
    // --fast-list: one recursive listing. s3rver answers delimiter listings of nested prefixes
    // with nothing, which would make rclone copy nothing; on AWS --fast-list is the usual choice.
    await run('rclone', ['sync', '--checksum', '--fast-list', '--transfers', '4', 'origin:origin/titles', rcloneDir], env);
    const rcloneSeconds = (performance.now() - rcloneStarted) / 1000;
    const copiedDir = path.join(rcloneDir, 'bench', 'avc1');
    const copied = fs.existsSync(copiedDir) ? fs.readdirSync(copiedDir).length : 0;
    if (copied !== objects) {
      throw new Error(`rclone copied ${copied} of ${objects} objects into ${rcloneDir}: ${fs.existsSync(rcloneDir) ? fs.readdirSync(rcloneDir, { recursive: true }).slice(0, 5).join(', ') : 'nothing'}`);
    }

    const mbps = (seconds: number) => Math.round((bytes / seconds / 1e6) * 10) / 10;
    const figures = {
      objects,
      bytes,
      agentSeconds: Math.round(agentSeconds * 100) / 100,
      agentMBps: mbps(agentSeconds),
      agentTransferSeconds,
      agentTransferMBps: mbps(agentTransferSeconds),
      rcloneSeconds: Math.round(rcloneSeconds * 100) / 100,
      rcloneMBps: mbps(rcloneSeconds),
      ratio: Math.round((rcloneSeconds / agentSeconds) * 100) / 100,
      goalRatio: 1.0,
    };
    if (json) {
      console.log(JSON.stringify(figures));
      return;
    }
    console.log('| fill of | seconds | MB/s |');
    console.log('| --- | --- | --- |');
    console.log(`| nearstream-agent (verified SHA-256, 4 parallel), whole run | ${figures.agentSeconds} | ${figures.agentMBps} |`);
    console.log(`| nearstream-agent, transfer phase only (after start-up, register, manifest) | ${figures.agentTransferSeconds} | ${figures.agentTransferMBps} |`);
    console.log(`| rclone sync --checksum (4 transfers) | ${figures.rcloneSeconds} | ${figures.rcloneMBps} |`);
    console.log(`| ratio (agent / rclone throughput) | ${figures.ratio} | goal >= 1.0 (${figures.ratio >= 1 ? 'met' : 'MISSED'}) |`);
    console.log(`| data | ${objects} objects, ${(bytes / 1e6).toFixed(1)} MB | |`);
  } finally {
    await world.stop();
  }
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
