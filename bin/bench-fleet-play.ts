/**
 * The play function's side of `npm run bench:fleet`, run in a process of its own so that the heap
 * it measures holds the steering snapshot and nothing else:
 *   bench-fleet-play <s3-endpoint> <nowMs> <appliances> <titles> <bucket> <key>
 * loads the snapshot as a play function does (conditional GET, decode, index), then steers
 * requests drawn over the same synthetic fleet, and prints one JSON line of figures.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { SnapshotSource } from '../lambda/playback/snapshot-source';
import { DEFAULT_STEERING_POLICY } from '../lambda/playback/steering';
import { syntheticFleet } from '../simulator/fleet';
import { measureDecisions, steeringRequests } from '../simulator/steering-load';

const WARMUP = 20_000;
const DECISIONS = 200_000;

function heapMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  const usage = process.memoryUsage();
  return (usage.heapUsed + usage.arrayBuffers) / 2 ** 20;
}

async function main([endpoint, nowText, appliancesText, titlesText, bucket, key]: string[]): Promise<void> {
  const nowMs = Number(nowText);
  const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  const source = new SnapshotSource(s3, { bucket, key }, DEFAULT_STEERING_POLICY);
  await s3.config.credentials();
  const before = heapMb();
  const started = process.hrtime.bigint();
  const { index } = await source.load();
  const snapshotLoadSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const snapshotHeapMb = heapMb() - before;

  const fleet = syntheticFleet({ appliances: Number(appliancesText), titles: Number(titlesText), seed: 7, nowMs });
  const clusters = [...new Map(fleet.appliances.map((appliance) => [appliance.clusterId, appliance])).values()];
  const requests = steeringRequests({ seed: 11, count: WARMUP + DECISIONS, titleIds: fleet.titleIds, clusters });
  const decisions = measureDecisions(index, requests, nowMs, WARMUP);
  process.stdout.write(
    `${JSON.stringify({
      snapshotLoadSeconds: Number(snapshotLoadSeconds.toFixed(3)),
      snapshotHeapMb: Math.round(snapshotHeapMb),
      decisionsPerSecond: Math.round(decisions.decisionsPerSecond),
      decisionP99Ms: decisions.p99Ms,
      originShare: decisions.originShare,
    })}\n`,
  );
}

main(process.argv.slice(2)).catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exit(1);
});
