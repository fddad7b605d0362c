import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CatalogTitle } from '../catalog/catalog';
import { ManifestObject } from '../shared/fill-manifest';
import { InventoryError, inventoryKey, parseInventory } from '../shared/title-inventory';

/**
 * Titles' inventories as the planner reads them: `titles/<id>/inventory.json` from this region's
 * origin (the primary, or its replica), verified against the digest the catalog recorded when the
 * encoding workflow wrote it. It reads that one object per title and never an encoded object: the
 * inventory was built when encoding completed. A copy that is missing (not replicated yet) or is
 * not the recorded one is an `InventoryError` naming the title, and the title waits.
 */
export class TitleInventory {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async objects(title: CatalogTitle, signal: AbortSignal): Promise<ManifestObject[]> {
    const record = title.encoding?.inventory;
    if (!record) {
      throw new InventoryError(`title ${title.titleId} has no inventory recorded in the catalog; run the encoding's inventory step for it`);
    }
    if (record.key !== inventoryKey(title.titleId)) {
      throw new InventoryError(`title ${title.titleId} records its inventory at '${record.key}', not ${inventoryKey(title.titleId)}`);
    }
    let body: Uint8Array;
    try {
      const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: record.key }), { abortSignal: signal });
      body = await object.Body!.transformToByteArray();
    } catch (error) {
      const name = (error as Error).name;
      // Without s3:ListBucket (the planner has none), S3 answers a missing key with AccessDenied.
      if (name === 'NoSuchKey' || name === 'AccessDenied') {
        throw new InventoryError(`${record.key} is not in s3://${this.bucket} (${name}): not written or not replicated yet`);
      }
      throw error;
    }
    return parseInventory(title.titleId, body, record);
  }
}
