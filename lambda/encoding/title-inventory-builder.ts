import { createHash } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CatalogTitle } from '../catalog/catalog';
import { CatalogStore } from '../catalog/catalog-store';
import { assembleInventory, inventoryKey, ObjectDigest, StoredObject } from '../shared/title-inventory';
import { allJobsComplete, withInventory } from './catalog-entry';
import { TITLE_KEY_PREFIX } from './ladder';
import { ObjectDigestStore } from './object-digest-store';
import { writeRenditionArtifacts } from './rendition-artifacts';

export interface TitleInventoryBuilderDependencies {
  readonly s3: S3Client;
  /** The origin bucket, where titles' objects are and their inventories go. */
  readonly bucket: string;
  readonly digests: ObjectDigestStore;
  readonly catalog: CatalogStore;
  readonly nowIso: () => string;
}

/**
 * Builds a title's inventory in two steps that never hold more than one object at a time:
 * `hashObject` streams one object through SHA-256 and records its digest (the encoding workflow
 * runs it for every object from a Step Functions Distributed Map, each object in its own
 * invocation); `publish` assembles the inventory from those digests, writes it beside the title and
 * only then makes the title available. `build` does both in one process, for the local stand-in.
 */
export class TitleInventoryBuilder {
  constructor(private readonly deps: TitleInventoryBuilderDependencies) {}

  /** The digest of one object of the title, now recorded; undefined for the inventory itself, which lists the others. */
  async hashObject(titleId: string, key: string): Promise<ObjectDigest | undefined> {
    const prefix = `${TITLE_KEY_PREFIX}${titleId}/`;
    if (!key.startsWith(prefix)) {
      throw new Error(`object '${key}' is not under ${prefix}, where title ${titleId}'s objects are`);
    }
    if (key === inventoryKey(titleId)) {
      return undefined;
    }
    const { Body } = await this.deps.s3.send(new GetObjectCommand({ Bucket: this.deps.bucket, Key: key }));
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of Body as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      size += chunk.length;
    }
    const digest: ObjectDigest = { key, size, sha256: hash.digest('hex') };
    await this.deps.digests.put(titleId, digest, Date.parse(this.deps.nowIso()));
    return digest;
  }

  /**
   * Writes each codec's rendition objects (`rendition-artifacts.ts`: the edge's rendition index, the
   * origin's capped manifests) with their digests, then `titles/<id>/inventory.json` from the
   * recorded digests, then records it in the catalog, which makes a title that waited for it
   * available. Nothing is written for a failed title or a title whose jobs are not all complete;
   * no inventory while any object lacks a digest of its current size.
   */
  async publish(titleId: string): Promise<CatalogTitle> {
    const title = await this.deps.catalog.get(titleId);
    if (!title) {
      throw new Error(`there is no title ${titleId} in the catalog to publish an inventory for`);
    }
    if (title.status === 'failed') {
      return title;
    }
    const { s3, bucket, digests: digestStore, nowIso } = this.deps;
    const stored = new Set((await this.objectsOf(titleId)).map((object) => object.key));
    const manifests = allJobsComplete(title)
      ? await writeRenditionArtifacts({ s3, bucket, recordDigest: (digest) => digestStore.put(titleId, digest, Date.parse(nowIso())) }, title, stored)
      : title.manifests;
    const [listed, digests] = await Promise.all([this.objectsOf(titleId), this.deps.digests.all(titleId)]);
    const { body, record } = assembleInventory(titleId, listed, digests);
    // Refuses (throws) before the inventory is written if the title still has jobs running.
    withInventory(title, record, this.deps.nowIso());
    await this.deps.s3.send(
      new PutObjectCommand({ Bucket: this.deps.bucket, Key: record.key, Body: body, ContentType: 'application/json' }),
    );
    const published = await this.deps.catalog.modify(titleId, (current) => withInventory({ ...current, manifests }, record, this.deps.nowIso()));
    return published!;
  }

  /** Hashes every object of the title, `concurrency` at a time, then publishes its inventory. */
  async build(titleId: string, concurrency = 4): Promise<CatalogTitle> {
    const keys = (await this.objectsOf(titleId)).map((object) => object.key);
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        await this.hashObject(titleId, keys[next++]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, keys.length) }, worker));
    return this.publish(titleId);
  }

  private async objectsOf(titleId: string): Promise<StoredObject[]> {
    const objects: StoredObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.deps.s3.send(
        new ListObjectsV2Command({ Bucket: this.deps.bucket, Prefix: `${TITLE_KEY_PREFIX}${titleId}/`, ContinuationToken: token }),
      );
      objects.push(...(page.Contents ?? []).map((object) => ({ key: object.Key!, size: object.Size ?? 0 })));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return objects;
  }
}
