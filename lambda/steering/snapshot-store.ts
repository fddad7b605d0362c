import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { decodeSnapshot, encodeSnapshot, orderByHolders, SteeringSnapshot } from './snapshot';

/** The one object a region's steering snapshot lives in, as the builder writes and reads it back. */
export class SnapshotStore {
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

  /** Writes a snapshot, its dictionary ordered most-held first (what compresses best); answers its size. */
  async write(snapshot: SteeringSnapshot): Promise<number> {
    const body = encodeSnapshot(orderByHolders(snapshot));
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
