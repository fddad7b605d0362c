import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { decodeSnapshot } from '../steering/snapshot';
import { LoadedFleet } from './fleet-cache';
import { FleetIndex, SteeringPolicy } from './steering';

/** Where a region's steering snapshot is. */
export interface SnapshotLocation {
  readonly bucket: string;
  readonly key: string;
}

/**
 * Reads the region's steering snapshot conditionally: S3 answers 304 while the object's ETag is
 * the one this container decoded last, so an unchanged snapshot costs one small request and no
 * decoding, and the fleet-wide read cost is the builder's alone, whatever the number of play
 * containers.
 */
export class SnapshotSource {
  private last?: { etag: string; fleet: LoadedFleet };

  constructor(
    private readonly s3: S3Client,
    private readonly location: SnapshotLocation,
    private readonly policy: SteeringPolicy,
  ) {}

  load = async (): Promise<LoadedFleet> => {
    let response;
    try {
      response = await this.s3.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: this.location.key, IfNoneMatch: this.last?.etag }));
    } catch (error) {
      if (this.last && isNotModified(error)) {
        return this.last.fleet;
      }
      throw error;
    }
    const snapshot = decodeSnapshot(await response.Body!.transformToByteArray());
    const fleet = { index: FleetIndex.fromSnapshot(snapshot, this.policy), builtAtMs: snapshot.builtAtMs };
    this.last = response.ETag ? { etag: response.ETag, fleet } : undefined;
    return fleet;
  };
}

function isNotModified(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status === 304 || (error as Error).name === 'NotModified';
}
