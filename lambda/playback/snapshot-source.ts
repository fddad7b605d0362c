import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { decodeSnapshot } from '../steering/snapshot';
import { decodeHealth, digestOf } from '../steering/snapshot-health';
import { healthKeyOf } from '../steering/snapshot-store';
import { LoadedFleet } from './fleet-cache';
import { FleetIndex, SteeringPolicy } from './steering';

/** Where a region's steering snapshot is. */
export interface SnapshotLocation {
  readonly bucket: string;
  readonly key: string;
}

/**
 * Reads the region's steering snapshot conditionally. Each load reads the small health object
 * (every appliance's latest report, load and error rate), and the holdings object only when the
 * health names holdings other than the ones this container indexed: holdings change when
 * appliances register or fill, not with every report, so most loads cost one small read and no
 * decoding beyond the figures. The fleet-wide read cost is the builder's alone, whatever the
 * number of play containers.
 */
export class SnapshotSource {
  private health?: { etag: string; fleet: LoadedFleet };
  private holdings?: { digest: string; index: FleetIndex };

  constructor(
    private readonly s3: S3Client,
    private readonly location: SnapshotLocation,
    private readonly policy: SteeringPolicy,
  ) {}

  load = async (): Promise<LoadedFleet> => {
    const healthObject = await this.get(healthKeyOf(this.location.key), this.health?.etag);
    if (!healthObject) {
      return this.health!.fleet;
    }
    const health = decodeHealth(healthObject.bytes);
    if (this.holdings?.digest !== health.holdings) {
      const holdingsObject = (await this.get(this.location.key, undefined))!;
      const digest = digestOf(holdingsObject.bytes);
      if (digest !== health.holdings) {
        // The builder writes holdings before health, so this is a write between the two reads: the next load catches up.
        throw new Error('the steering snapshot\'s holdings changed between reading its health and its holdings');
      }
      this.holdings = { digest, index: FleetIndex.fromSnapshot(decodeSnapshot(holdingsObject.bytes), this.policy) };
    }
    this.holdings.index.updateHealth(health);
    const fleet = { index: this.holdings.index, builtAtMs: health.builtAtMs };
    this.health = { etag: healthObject.etag, fleet };
    return fleet;
  };

  /** The object's bytes and ETag, or undefined when S3 answers 304 to `ifNoneMatch`. */
  private async get(key: string, ifNoneMatch: string | undefined): Promise<{ bytes: Uint8Array; etag: string } | undefined> {
    try {
      const response = await this.s3.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: key, IfNoneMatch: ifNoneMatch }));
      return { bytes: await response.Body!.transformToByteArray(), etag: response.ETag ?? '' };
    } catch (error) {
      if (ifNoneMatch !== undefined && isNotModified(error)) {
        return undefined;
      }
      throw error;
    }
  }
}

function isNotModified(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status === 304 || (error as Error).name === 'NotModified';
}
