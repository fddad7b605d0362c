import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { decodeSnapshot, encodeSnapshot, HoldingsCodeCache, SteeringSnapshot } from './snapshot';
import { digestOf, encodeHealth, healthPart, holdingsPart } from './snapshot-health';

/** Where the health object of the snapshot at `key` is. */
export function healthKeyOf(key: string): string {
  return `${key}.health`;
}

/** What one write put where. */
export interface SnapshotWrite {
  /** Bytes of the holdings object: written only when it changed (0 when it did not). */
  readonly holdingsBytes: number;
  readonly healthBytes: number;
  /** Size of the holdings object, written or not. */
  readonly snapshotBytes: number;
}

/**
 * A region's steering snapshot in S3, as the builder writes it: the holdings object at `key`,
 * rewritten only when its bytes change (so play functions' conditional reads of it are 304s), then
 * the health object at `key.health`, every build. Holdings first: a health object never names
 * holdings that are not there yet.
 */
export class SnapshotStore {
  private readonly codes = new HoldingsCodeCache();
  private lastHoldings?: { digest: string; bytes: number };

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly key: string,
  ) {}

  /** The holdings last written (for a builder to start from), or undefined when there are none yet. A snapshot that cannot be decoded is thrown as its format error. */
  async read(): Promise<SteeringSnapshot | undefined> {
    try {
      const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key }));
      return decodeSnapshot(await object.Body!.transformToByteArray());
    } catch (error) {
      if (error instanceof NoSuchKey || (error as Error).name === 'NoSuchKey') {
        return undefined;
      }
      throw error;
    }
  }

  /**
   * Writes a snapshot. The dictionary keeps the builder's order (titles are only ever appended), so
   * a cluster whose holdings did not change keeps its codes from the last write and is not coded again.
   */
  async write(snapshot: SteeringSnapshot): Promise<SnapshotWrite> {
    const holdings = encodeSnapshot(holdingsPart(snapshot), this.codes);
    const digest = digestOf(holdings);
    let holdingsBytes = 0;
    if (this.lastHoldings?.digest !== digest) {
      await this.put(this.key, holdings, snapshot);
      this.lastHoldings = { digest, bytes: holdings.length };
      holdingsBytes = holdings.length;
    }
    const health = encodeHealth(healthPart(snapshot, holdings));
    await this.put(healthKeyOf(this.key), health, snapshot);
    return { holdingsBytes, healthBytes: health.length, snapshotBytes: holdings.length };
  }

  private async put(key: string, body: Buffer, snapshot: SteeringSnapshot): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: 'application/octet-stream',
        Metadata: { 'built-at-ms': String(snapshot.builtAtMs), appliances: String(snapshot.appliances.length) },
      }),
    );
  }
}
