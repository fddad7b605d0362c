import { DecryptCommand, EncryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { DataKey, EncryptionContext, KeyWrapper } from './content-key-store';

/**
 * Data keys that open in every region serving licenses, with no multi-region KMS key.
 *
 * The control table is a global table: an item written in one region is read in the other, whose
 * Lambda can use only its own region's KMS key. So `generate` asks this region's KMS for a data
 * key (`GenerateDataKey`, AES_256) and `Encrypt`s the same plaintext under each replica region's
 * key, all with the same encryption context; `unwrap` decrypts this region's blob only, pinned to
 * this region's key, and never calls another region.
 *
 * The wrapped value (format version 1) is UTF-8 JSON, one KMS ciphertext blob per region in base64:
 * `{"v":1,"keys":{"us-east-1":"<base64>","us-west-2":"<base64>"}}`, this region first.
 */

const FORMAT_VERSION = 1;
const DATA_KEY_BYTES = 32;
const REGION_PATTERN = /^[a-z0-9-]{1,32}$/;
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** One region's KMS: where its data key blobs are made and opened. */
export interface RegionalKms {
  /** The region name the blob is filed under, e.g. `us-east-1`. */
  readonly region: string;
  /** A client for that region's KMS. */
  readonly client: KMSClient;
  /** That region's key: id, ARN, alias (`alias/<prefix>/content-keys`) or alias ARN. */
  readonly keyId: string;
}

export interface RegionalKmsKeyWrapperProps extends RegionalKms {
  /** The other regions that must be able to open every data key made here. */
  readonly replicas: readonly RegionalKms[];
}

/** The wrapped value is not one this wrapper writes: not JSON of the documented shape or version. */
export class MalformedWrappedDataKeyError extends Error {
  constructor(reason: string) {
    super(`not a regional wrapped data key (expected {"v":${FORMAT_VERSION},"keys":{"<region>":"<base64 KMS blob>"}}): ${reason}`);
    this.name = 'MalformedWrappedDataKeyError';
  }
}

/** The data key was wrapped for other regions only: this region's KMS has nothing to open. */
export class DataKeyNotWrappedForRegionError extends Error {
  constructor(
    readonly region: string,
    readonly regionsPresent: readonly string[],
  ) {
    super(
      `the data key is wrapped for ${regionsPresent.join(', ')} but not for ${region}: ` +
        `it was made by a wrapper without ${region} in its replicas; add ${region} there before creating keys`,
    );
    this.name = 'DataKeyNotWrappedForRegionError';
  }
}

export class RegionalKmsKeyWrapper implements KeyWrapper {
  /** The same in every region, so each region's store reads the items the others wrote. */
  readonly name = 'kms-regional';
  private readonly home: RegionalKms;
  private readonly replicas: readonly RegionalKms[];

  constructor(props: RegionalKmsKeyWrapperProps) {
    const all = [props, ...props.replicas];
    const seen = new Set<string>();
    for (const { region, keyId } of all) {
      if (!REGION_PATTERN.test(region)) {
        throw new Error(`RegionalKmsKeyWrapper: '${region}' is not a region name`);
      }
      if (seen.has(region)) {
        throw new Error(`RegionalKmsKeyWrapper: region ${region} is given twice (this region and replicas must all differ)`);
      }
      if (!keyId) {
        throw new Error(`RegionalKmsKeyWrapper: region ${region} has no keyId`);
      }
      seen.add(region);
    }
    this.home = { region: props.region, client: props.client, keyId: props.keyId };
    this.replicas = props.replicas.map(({ region, client, keyId }) => ({ region, client, keyId }));
  }

  async generate(context: EncryptionContext): Promise<DataKey> {
    const result = await this.home.client.send(
      new GenerateDataKeyCommand({ KeyId: this.home.keyId, KeySpec: 'AES_256', EncryptionContext: { ...context } }),
    );
    if (!result.Plaintext || !result.CiphertextBlob || result.Plaintext.length !== DATA_KEY_BYTES) {
      result.Plaintext?.fill(0);
      throw new Error(`KMS GenerateDataKey in ${this.home.region} returned no 32-byte data key`);
    }
    const plaintext = Buffer.from(result.Plaintext);
    result.Plaintext.fill(0);
    try {
      const replicaBlobs = await Promise.all(this.replicas.map((replica) => this.encryptFor(replica, plaintext, context)));
      const keys: Record<string, string> = { [this.home.region]: Buffer.from(result.CiphertextBlob).toString('base64') };
      this.replicas.forEach((replica, index) => (keys[replica.region] = replicaBlobs[index]));
      return { plaintext, wrapped: Buffer.from(JSON.stringify({ v: FORMAT_VERSION, keys }), 'utf8') };
    } catch (error) {
      plaintext.fill(0);
      throw error;
    }
  }

  async unwrap(wrapped: Buffer, context: EncryptionContext): Promise<Buffer> {
    const blobs = parseWrapped(wrapped);
    const blob = blobs[this.home.region];
    if (blob === undefined) {
      throw new DataKeyNotWrappedForRegionError(this.home.region, Object.keys(blobs));
    }
    // KeyId pins this region's key: a blob sealed under any other key is refused, not tried.
    const result = await this.home.client.send(
      new DecryptCommand({ CiphertextBlob: Buffer.from(blob, 'base64'), KeyId: this.home.keyId, EncryptionContext: { ...context } }),
    );
    if (!result.Plaintext || result.Plaintext.length !== DATA_KEY_BYTES) {
      result.Plaintext?.fill(0);
      throw new Error(`KMS Decrypt in ${this.home.region} returned no 32-byte data key`);
    }
    const plaintext = Buffer.from(result.Plaintext);
    result.Plaintext.fill(0);
    return plaintext;
  }

  private async encryptFor(replica: RegionalKms, plaintext: Buffer, context: EncryptionContext): Promise<string> {
    let result;
    try {
      result = await replica.client.send(new EncryptCommand({ KeyId: replica.keyId, Plaintext: plaintext, EncryptionContext: { ...context } }));
    } catch (error) {
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error';
      throw new Error(`KMS Encrypt in replica region ${replica.region} under ${replica.keyId} failed (${reason}); no data key was made`);
    }
    if (!result.CiphertextBlob || result.CiphertextBlob.length === 0) {
      throw new Error(`KMS Encrypt in replica region ${replica.region} returned no ciphertext`);
    }
    return Buffer.from(result.CiphertextBlob).toString('base64');
  }
}

function parseWrapped(wrapped: Buffer): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(wrapped).toString('utf8'));
  } catch {
    throw new MalformedWrappedDataKeyError(`it is ${wrapped.length} bytes that are not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new MalformedWrappedDataKeyError('it is not a JSON object');
  }
  const { v, keys } = parsed as { v?: unknown; keys?: unknown };
  if (v !== FORMAT_VERSION) {
    throw new MalformedWrappedDataKeyError(`its version is ${JSON.stringify(v)}, and this code reads version ${FORMAT_VERSION}`);
  }
  if (typeof keys !== 'object' || keys === null || Array.isArray(keys) || Object.keys(keys).length === 0) {
    throw new MalformedWrappedDataKeyError('its keys are not a non-empty object of region to blob');
  }
  for (const [region, blob] of Object.entries(keys)) {
    if (!REGION_PATTERN.test(region) || typeof blob !== 'string' || blob === '' || !BASE64_PATTERN.test(blob)) {
      throw new MalformedWrappedDataKeyError(`its entry for '${region.slice(0, 32)}' is not a region name with a base64 blob`);
    }
  }
  return keys as Record<string, string>;
}
