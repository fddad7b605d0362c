import { S3Client } from '@aws-sdk/client-s3';
import { CatalogStore } from '../catalog/catalog-store';
import { sharedDocumentClient } from '../shared/dynamodb';
import { requireEnv } from '../shared/env';
import { ObjectDigestStore } from './object-digest-store';
import { TitleInventoryBuilder } from './title-inventory-builder';

/** The inventory builder the hash and publish functions share, bound to their environment. */
export function inventoryBuilderFromEnvironment(): TitleInventoryBuilder {
  const table = requireEnv('CONTROL_TABLE_NAME');
  return new TitleInventoryBuilder({
    s3: new S3Client({}),
    bucket: requireEnv('ORIGIN_BUCKET'),
    digests: new ObjectDigestStore(sharedDocumentClient(), table),
    catalog: new CatalogStore(sharedDocumentClient(), table),
    nowIso: () => new Date().toISOString(),
  });
}
