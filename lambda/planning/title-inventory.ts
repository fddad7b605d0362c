import { createHash } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { TITLE_KEY_PREFIX } from '../encoding/ladder';
import { ManifestObject } from '../shared/fill-manifest';

const INVENTORY_NAME = 'inventory.json';

const inventorySchema = (titleId: string) =>
  z
    .array(
      z.strictObject({
        key: z.string().startsWith(`${TITLE_KEY_PREFIX}${titleId}/`),
        size: z.number().int().nonnegative(),
        sha256: z.string().regex(/^[0-9a-f]{64}$/),
        titleId: z.literal(titleId),
      }),
    )
    .min(1);

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
    const inventoryKey = `${prefix}${INVENTORY_NAME}`;
    // Listed rather than probed: without s3:ListBucket on the key, a missing object is a 403, not a 404.
    const keys = await this.keysUnder(prefix);
    if (keys.includes(inventoryKey)) {
      const kept = await this.read(inventoryKey, titleId);
      if (kept) {
        return kept;
      }
    }
    const objects: ManifestObject[] = [];
    for (const key of keys) {
      if (key === inventoryKey) {
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

  /** A kept inventory, or undefined when it does not describe this title (it is then rebuilt). */
  private async read(key: string, titleId: string): Promise<ManifestObject[] | undefined> {
    const { Body } = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    let parsed: unknown;
    try {
      parsed = JSON.parse(await Body!.transformToString());
    } catch {
      return undefined;
    }
    const result = inventorySchema(titleId).safeParse(parsed);
    return result.success ? result.data : undefined;
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
