import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { decodeSnapshot, encodeSnapshot, HoldingsCodeCache, SteeringSnapshot } from './snapshot';

/** The one object a region's steering snapshot lives in, as the builder writes and reads it back. */
export class SnapshotStore {
  private readonly codes = new HoldingsCodeCache();

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly key: string,
  ) {}

  /** The last snapshot written, or undefined when there is none yet. A snapshot that cannot be decoded is thrown as its format error. */
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
   * Writes a snapshot; answers its size. The dictionary keeps the builder's order (titles are only
   * ever appended), so a cluster whose holdings did not change keeps its codes from the last write
   * and is not coded again.
   */
  async write(snapshot: SteeringSnapshot): Promise<number> {
    const body = encodeSnapshot(snapshot, this.codes);
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.key,
        Body: body,
        ContentType: 'application/octet-stream',
        Metadata: { 'built-at-ms': String(snapshot.builtAtMs), appliances: String(snapshot.appliances.length) },
      }),
    );
    return body.length;
  }
}
