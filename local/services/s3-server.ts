import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { freePort } from './ports';

export interface S3ServerOptions {
  /** @default - a free port */
  readonly port?: number;
  /** Keep the objects in this directory across restarts. @default - a scratch directory removed when it stops */
  readonly directory?: string;
}

/**
 * A real S3-compatible server (s3rver) on a loopback port, storing into a scratch directory that
 * goes away with it, or into a kept one. It checks no signatures and stores no checksums: tests
 * verify content themselves.
 */
export class S3Server {
  private constructor(
    private readonly server: S3rver,
    private readonly scratchDirectory: string | undefined,
    readonly endpoint: string,
  ) {}

  static async start(buckets: readonly string[], options: S3ServerOptions = {}): Promise<S3Server> {
    const directory = options.directory ?? fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-s3-'));
    const port = options.port ?? (await freePort());
    const server = new S3rver({
      address: '127.0.0.1',
      port,
      silent: true,
      directory,
      configureBuckets: buckets.map((name) => ({ name, configs: [] })),
    });
    await server.run();
    return new S3Server(server, options.directory ? undefined : directory, `http://127.0.0.1:${port}`);
  }

  client(): S3Client {
    return new S3Client({
      endpoint: this.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
  }

  async put(bucket: string, key: string, body: string | Uint8Array, metadata?: Record<string, string>): Promise<void> {
    const client = this.client();
    try {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, Metadata: metadata }));
    } finally {
      client.destroy();
    }
  }

  async keys(bucket: string, prefix = ''): Promise<string[]> {
    const client = this.client();
    try {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      return (page.Contents ?? []).map((object) => object.Key!).sort();
    } finally {
      client.destroy();
    }
  }

  async read(bucket: string, key: string): Promise<Buffer> {
    const client = this.client();
    try {
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return Buffer.from(await object.Body!.transformToByteArray());
    } finally {
      client.destroy();
    }
  }

  async stop(): Promise<void> {
    await this.server.close();
    if (this.scratchDirectory) {
      fs.rmSync(this.scratchDirectory, { recursive: true, force: true });
    }
  }
}
