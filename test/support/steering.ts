import { FleetStore } from '../../lambda/fleet/fleet-store';
import { LoadedFleet } from '../../lambda/playback/fleet-cache';
import { DEFAULT_STEERING_POLICY, FleetIndex, SteeringPolicy } from '../../lambda/playback/steering';
import { decodeSnapshot, encodeSnapshot, orderByHolders } from '../../lambda/steering/snapshot';
import { SnapshotBuilder } from '../../lambda/steering/snapshot-builder';
import { LeastPrivilegeCheck } from './iam/least-privilege';

/**
 * What a play function loads, without S3 in between: the real builder reads the registry (as the
 * snapshot builder's role when the test checks IAM: the play function's own role may not read the
 * fleet), the snapshot goes through its encoding, and the index is built from the decoded bytes.
 */
export function snapshotLoader(
  store: FleetStore,
  region: string,
  nowMs: () => number = Date.now,
  iam?: LeastPrivilegeCheck,
  policy: SteeringPolicy = DEFAULT_STEERING_POLICY,
): () => Promise<LoadedFleet> {
  const builder = new SnapshotBuilder(store, region);
  const build = (atMs: number) => builder.build(atMs);
  const buildAs = iam ? iam.actingAs('steering-snapshot', build) : build;
  return async () => {
    const { snapshot } = await buildAs(nowMs());
    const decoded = decodeSnapshot(encodeSnapshot(orderByHolders(snapshot)));
    return { index: FleetIndex.fromSnapshot(decoded, policy), builtAtMs: decoded.builtAtMs };
  };
}
