import { Readable } from 'node:stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';

/** Reads objects from the regional origin: credentials from the instance profile or IAM Roles Anywhere. */
export class Origin {
  private readonly client: S3Client;

  constructor(region: string, endpoint?: string) {
    this.client = new S3Client({ region, ...(endpoint ? { endpoint, forcePathStyle: true } : {}), maxAttempts: 3 });
  }

  /** The object's bytes from `fromByte` on, as a stream. */
  async read(bucket: string, key: string, fromByte = 0, signal?: AbortSignal): Promise<Readable> {
    const object = await this.client.send(
      new GetObjectCommand({ Bucket: bucket, Key: key, Range: fromByte > 0 ? `bytes=${fromByte}-` : undefined }),
      { abortSignal: signal },
    );
    return object.Body as Readable;
  }

  async readText(bucket: string, key: string): Promise<string> {
    const object = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return object.Body!.transformToString('utf8');
  }
}
