import { createHash } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { TITLE_KEY_PREFIX } from '../encoding/ladder';
import { ManifestObject } from '../shared/fill-manifest';

const INVENTORY_NAME = 'inventory.json';

/**
 * Every object of an encoded title with its size and SHA-256, as a fill manifest lists them. The
 * first plan that places a title reads its objects once and keeps the result beside them as
 * `titles/<id>/inventory.json`; encoded objects never change, so later plans read only that file.
 */
export class TitleInventory {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async objects(titleId: string): Promise<ManifestObject[]> {
    const prefix = `${TITLE_KEY_PREFIX}${titleId}/`;
    const kept = await this.read(`${prefix}${INVENTORY_NAME}`);
    if (kept) {
      return kept;
    }
    const objects: ManifestObject[] = [];
    for (const key of await this.keysUnder(prefix)) {
      if (key === `${prefix}${INVENTORY_NAME}`) {
        continue;
      }
      const { Body } = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of Body as AsyncIterable<Uint8Array>) {
        hash.update(chunk);
        size += chunk.length;
      }
      objects.push({ key, size, sha256: hash.digest('hex'), titleId });
    }
    if (objects.length === 0) {
      throw new Error(`title '${titleId}' has no objects under s3://${this.bucket}/${prefix}`);
    }
    await this.s3.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: `${prefix}${INVENTORY_NAME}`, Body: JSON.stringify(objects), ContentType: 'application/json' }),
    );
    return objects;
  }

  private async read(key: string): Promise<ManifestObject[] | undefined> {
    try {
      const { Body } = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return JSON.parse(await Body!.transformToString()) as ManifestObject[];
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') {
        return undefined;
      }
      throw error;
    }
  }

  private async keysUnder(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((object) => object.Key!));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }
}
