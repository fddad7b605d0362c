import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CatalogTitle, Codec, codecDirectory, CodecManifests } from '../catalog/catalog';
import { pictureHeights, RENDITION_INDEX_FILE, renditionIndex } from '../shared/rendition-index';
import { capDash, capHls, cappedManifestPath } from '../shared/rendition-manifests';
import { ObjectDigest } from '../shared/title-inventory';

/** An object derived from a codec directory's manifests, to be written beside them. */
export interface DerivedObject {
  readonly key: string;
  readonly body: string;
  readonly contentType: string;
}

/**
 * What a codec directory's manifests imply: `renditions.json`, which the appliances' edge judges
 * segment requests by, and the manifests cut at every picture height, which the origin tier serves
 * a capped viewer (CloudFront cannot cut a body). Both are the rules of `rendition-manifests.ts`.
 */
export function renditionObjects(manifests: CodecManifests, texts: { readonly hls: string; readonly dash: string }): { objects: DerivedObject[]; cappedHeights: number[] } {
  const directory = codecDirectory(manifests);
  const index = renditionIndex(texts);
  const cappedHeights = pictureHeights(index);
  return {
    cappedHeights,
    objects: [
      { key: `${directory}${RENDITION_INDEX_FILE}`, body: JSON.stringify(index), contentType: 'application/json' },
      ...cappedHeights.flatMap((height) => [
        { key: cappedManifestPath(manifests.hls, height), body: capHls(texts.hls, height), contentType: 'application/vnd.apple.mpegurl' },
        { key: cappedManifestPath(manifests.dash, height), body: capDash(texts.dash, height), contentType: 'application/dash+xml' },
      ]),
    ],
  };
}

export interface RenditionArtifactDependencies {
  readonly s3: S3Client;
  readonly bucket: string;
  /** Records the digest of each object written, so the title's inventory lists it like the encoded ones. */
  readonly recordDigest: (digest: ObjectDigest) => Promise<void>;
}

async function textOf(deps: RenditionArtifactDependencies, key: string): Promise<string> {
  const { Body } = await deps.s3.send(new GetObjectCommand({ Bucket: deps.bucket, Key: key }));
  return Body!.transformToString('utf8');
}

/**
 * Writes the rendition objects of every codec of a title whose two manifests are among `stored`
 * (the title's keys, as listed), and answers the title's manifests with the heights they are now
 * also cut at. A codec missing a manifest gets none: the edge then judges by the manifests it has,
 * and the origin serves them uncut.
 */
export async function writeRenditionArtifacts(deps: RenditionArtifactDependencies, title: CatalogTitle, stored: ReadonlySet<string>): Promise<CatalogTitle['manifests']> {
  const written: Partial<Record<Codec, CodecManifests>> = { ...title.manifests };
  for (const [codec, manifests] of Object.entries(title.manifests) as [Codec, CodecManifests][]) {
    if (!stored.has(manifests.hls) || !stored.has(manifests.dash)) {
      continue;
    }
    const [hls, dash] = await Promise.all([textOf(deps, manifests.hls), textOf(deps, manifests.dash)]);
    const { objects, cappedHeights } = renditionObjects(manifests, { hls, dash });
    for (const object of objects) {
      await deps.s3.send(new PutObjectCommand({ Bucket: deps.bucket, Key: object.key, Body: object.body, ContentType: object.contentType }));
      await deps.recordDigest({ key: object.key, size: Buffer.byteLength(object.body), sha256: createHash('sha256').update(object.body).digest('hex') });
    }
    written[codec] = { ...manifests, cappedHeights };
  }
  return written;
}
