import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ContentKey, KEY_GROUPS, KeyGroup, KID_PATTERN } from '../shared/content-protection';
import { ItemKey } from '../shared/control-table';
import { conditionally, queryAll } from '../shared/dynamodb';
import { ID_PATTERN } from '../shared/request-fields';

/**
 * Content keys at rest, in the control table, under KMS envelope encryption.
 *
 * One item per (title, kid): `{ pk: 'contentkeys#<titleId>', sk: 'kid#<kid>' }`. Each request
 * that creates keys for a title asks its `KeyWrapper` for one data key (KMS `GenerateDataKey`,
 * AES_256, under the configured key, encryption context `{ purpose: 'nearstream-content-key',
 * titleId }`), seals every new content key with AES-256-GCM under the plaintext data key, zeroes
 * the plaintext data key, and stores with each key the wrapped data key, the IV, the tag and the
 * ciphertext. The GCM additional data binds the ciphertext to its title, kid and key group, so an
 * item copied to another kid or title, or relabelled to another group (an SD license must never
 * grant the UHD key), fails to open; the KMS encryption context binds the data key to the title.
 *
 * Get-or-create is idempotent and safe under concurrency: a key is written only with
 * `attribute_not_exists(pk)`, and a writer that loses the race reads the winner's key back, so
 * every caller asking for (title, kid) gets the same key, however many ask at once. The control
 * table is a global table and conditional writes are region-local: keys must be created in one
 * region only (the encoding region, where MediaConvert calls the key provider).
 *
 * Reading never hands out a key it could not open: it throws `ContentKeyUnreadableError` naming
 * the title and kid. No error or log line here carries key bytes.
 */

export const CONTENT_KEY_PURPOSE = 'nearstream-content-key';
const SEAL_ALGORITHM = 'AES-256-GCM';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const CONTENT_KEY_BYTES = 16;
const DATA_KEY_BYTES = 32;

/**
 * The content key items' keys. To move into `itemKeys` of `lambda/shared/control-table.ts` as
 * `contentKey(titleId, kid)`; spelled here until then.
 */
export const contentKeyItemKeys = {
  contentKey: (titleId: string, kid: string): ItemKey => ({ pk: `contentkeys#${titleId}`, sk: `kid#${kid}` }),
  /** The sort-key prefix every content key of a title shares. */
  kidPrefix: 'kid#',
} as const;

/** KMS encryption context (and, for the local stand-in, GCM additional data) of a title's data keys. */
export type EncryptionContext = Readonly<Record<string, string>>;

export function contentKeyEncryptionContext(titleId: string): EncryptionContext {
  return { purpose: CONTENT_KEY_PURPOSE, titleId };
}

export interface DataKey {
  /** 32 bytes; the caller zeroes it when done. */
  readonly plaintext: Buffer;
  /** What is stored: only the wrapper can turn it back into the plaintext. */
  readonly wrapped: Buffer;
}

/** Where data keys come from and go back to. */
export interface KeyWrapper {
  /** Stored with each item (`keyWrapper`), so a store never hands one wrapper's blob to another. */
  readonly name: string;
  generate(context: EncryptionContext): Promise<DataKey>;
  unwrap(wrapped: Buffer, context: EncryptionContext): Promise<Buffer>;
}

/** Data keys from AWS KMS: `GenerateDataKey` (AES_256) and `Decrypt`, both pinned to `keyId`. */
export class KmsKeyWrapper implements KeyWrapper {
  readonly name = 'kms';

  constructor(
    private readonly client: KMSClient,
    private readonly keyId: string,
  ) {}

  async generate(context: EncryptionContext): Promise<DataKey> {
    const result = await this.client.send(
      new GenerateDataKeyCommand({ KeyId: this.keyId, KeySpec: 'AES_256', EncryptionContext: { ...context } }),
    );
    if (!result.Plaintext || !result.CiphertextBlob || result.Plaintext.length !== DATA_KEY_BYTES) {
      throw new Error('KMS GenerateDataKey returned no 32-byte data key');
    }
    const plaintext = Buffer.from(result.Plaintext);
    result.Plaintext.fill(0);
    return { plaintext, wrapped: Buffer.from(result.CiphertextBlob) };
  }

  async unwrap(wrapped: Buffer, context: EncryptionContext): Promise<Buffer> {
    // KeyId pins the key: a blob from any other key is refused rather than decrypted under it.
    const result = await this.client.send(new DecryptCommand({ CiphertextBlob: wrapped, KeyId: this.keyId, EncryptionContext: { ...context } }));
    if (!result.Plaintext || result.Plaintext.length !== DATA_KEY_BYTES) {
      throw new Error('KMS Decrypt returned no 32-byte data key');
    }
    const plaintext = Buffer.from(result.Plaintext);
    result.Plaintext.fill(0);
    return plaintext;
  }
}

/**
 * LOCAL STAND-IN for KMS, for the local platform and tests only: data keys are random and wrapped
 * with AES-256-GCM under a master key held in a file (or a Buffer), the encryption context as
 * additional data. Anyone who can read the master key file can read every content key; deployed
 * environments use `KmsKeyWrapper`. Items it wraps say `keyWrapper: 'local-stand-in'`, and a
 * store with the KMS wrapper refuses them (and the other way round).
 */
export class LocalKeyWrapper implements KeyWrapper {
  readonly name = 'local-stand-in';
  private static readonly VERSION = 1;
  private readonly masterKey: Buffer;

  constructor(masterKey: Buffer) {
    if (masterKey.length !== DATA_KEY_BYTES) {
      throw new Error(`LocalKeyWrapper: the master key must be ${DATA_KEY_BYTES} bytes (got ${masterKey.length})`);
    }
    this.masterKey = Buffer.from(masterKey);
  }

  /** Reads a master key file: 32 raw bytes, or 64 hex digits, or base64 of 32 bytes (surrounding whitespace ignored). */
  static fromFile(file: string): LocalKeyWrapper {
    return new LocalKeyWrapper(readMasterKey(fs.readFileSync(file), file));
  }

  /** Reads the master key file, or first writes a new random one there (mode 0600, base64). */
  static loadOrCreate(file: string): LocalKeyWrapper {
    if (!fs.existsSync(file)) {
      fs.writeFileSync(`${file}.tmp`, `${randomBytes(DATA_KEY_BYTES).toString('base64')}\n`, { mode: 0o600 });
      fs.renameSync(`${file}.tmp`, file);
    }
    return LocalKeyWrapper.fromFile(file);
  }

  async generate(context: EncryptionContext): Promise<DataKey> {
    const plaintext = randomBytes(DATA_KEY_BYTES);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.masterKey, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(canonicalContext(context));
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { plaintext, wrapped: Buffer.concat([Buffer.from([LocalKeyWrapper.VERSION]), iv, cipher.getAuthTag(), sealed]) };
  }

  async unwrap(wrapped: Buffer, context: EncryptionContext): Promise<Buffer> {
    if (wrapped.length !== 1 + IV_BYTES + TAG_BYTES + DATA_KEY_BYTES || wrapped[0] !== LocalKeyWrapper.VERSION) {
      throw new Error('not a data key wrapped by the local stand-in');
    }
    const decipher = createDecipheriv('aes-256-gcm', this.masterKey, wrapped.subarray(1, 1 + IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(canonicalContext(context));
    decipher.setAuthTag(wrapped.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(wrapped.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]);
  }
}

function readMasterKey(contents: Buffer, file: string): Buffer {
  if (contents.length === DATA_KEY_BYTES) {
    return contents;
  }
  const text = contents.toString('utf8').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) {
    return Buffer.from(text, 'hex');
  }
  if (/^[A-Za-z0-9+/]{43}=$/.test(text)) {
    return Buffer.from(text, 'base64');
  }
  throw new Error(`${file}: not a 32-byte master key (32 raw bytes, 64 hex digits or base64)`);
}

function canonicalContext(context: EncryptionContext): Buffer {
  return Buffer.from(JSON.stringify(Object.keys(context).sort().map((key) => [key, context[key]])), 'utf8');
}

/** A stored key that could not be opened: tampered, wrapped by another wrapper or key, or KMS refused. */
export class ContentKeyUnreadableError extends Error {
  constructor(
    readonly titleId: string,
    readonly kid: string,
    reason: string,
  ) {
    super(`content key ${kid} of title ${titleId} cannot be read: ${reason}`);
    this.name = 'ContentKeyUnreadableError';
  }
}

/** A kid asked for under one key group while the title already holds it under another. */
export class ContentKeyConflictError extends Error {
  constructor(
    readonly titleId: string,
    readonly kid: string,
    readonly storedGroup: KeyGroup,
    readonly requestedGroup: KeyGroup,
  ) {
    super(`content key ${kid} of title ${titleId} is its ${storedGroup} key; it cannot serve as its ${requestedGroup} key`);
    this.name = 'ContentKeyConflictError';
  }
}

export interface ContentKeyRequest {
  /** 32 lowercase hex digits. */
  readonly kid: string;
  readonly group: KeyGroup;
}

/** A stored item, as DynamoDB holds it: no plaintext. */
interface ContentKeyItem {
  readonly pk: string;
  readonly sk: string;
  readonly titleId: string;
  readonly kid: string;
  readonly group: KeyGroup;
  readonly algorithm: typeof SEAL_ALGORITHM;
  readonly keyWrapper: string;
  readonly wrappedDataKey: Uint8Array;
  readonly iv: Uint8Array;
  readonly tag: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly createdAt: string;
}

export interface ContentKeyStoreOptions {
  readonly now?: () => Date;
}

export class ContentKeyStore {
  private readonly now: () => Date;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly wrapper: KeyWrapper,
    options: ContentKeyStoreOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
  }

  /**
   * The title's key for each requested kid, in request order: the stored one, or a new random
   * 16-byte key stored first. All keys this call creates are sealed under one new data key. Throws
   * `ContentKeyConflictError` when a kid is stored under another group, and
   * `ContentKeyUnreadableError` when a stored key cannot be opened.
   */
  async getOrCreate(titleId: string, requests: readonly ContentKeyRequest[]): Promise<ContentKey[]> {
    checkTitleId(titleId);
    const wanted = new Map<string, KeyGroup>();
    for (const { kid, group } of requests) {
      if (!KID_PATTERN.test(kid) || !KEY_GROUPS.includes(group)) {
        throw new Error(`ContentKeyStore: kid ${kid} / group ${group} is not a 32-hex-digit kid and a key group`);
      }
      if (wanted.has(kid) && wanted.get(kid) !== group) {
        throw new Error(`ContentKeyStore: kid ${kid} is asked for under two groups`);
      }
      wanted.set(kid, group);
    }
    const stored = await Promise.all([...wanted.keys()].map((kid) => this.read(titleId, kid)));
    const items = new Map<string, ContentKeyItem>();
    for (const item of stored) {
      if (item) {
        // Refused before anything is created; checked again once opened (the group is sealed in).
        if (item.group !== wanted.get(item.kid)) {
          throw new ContentKeyConflictError(titleId, item.kid, item.group, wanted.get(item.kid)!);
        }
        items.set(item.kid, item);
      }
    }
    const missing = [...wanted].filter(([kid]) => !items.has(kid));

    const created = new Map<string, ContentKey>();
    if (missing.length > 0) {
      const context = contentKeyEncryptionContext(titleId);
      const dataKey = await this.wrapper.generate(context);
      try {
        await Promise.all(
          missing.map(async ([kid, group]) => {
            const key = randomBytes(CONTENT_KEY_BYTES);
            const item = this.seal(titleId, kid, group, key, dataKey);
            const won = await conditionally(
              this.client.send(new PutCommand({ TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' })),
            );
            if (won) {
              created.set(kid, { titleId, group, kid, key });
              return;
            }
            // Another request stored this kid first: its key is the key.
            key.fill(0);
            const winner = await this.read(titleId, kid);
            if (!winner) {
              throw new Error(`content key ${kid} of title ${titleId} was written by another request but cannot be read back`);
            }
            items.set(kid, winner);
          }),
        );
      } finally {
        dataKey.plaintext.fill(0);
      }
    }

    const opened = await this.openAll([...items.values()]);
    return [...wanted].map(([kid, group]) => {
      const key = created.get(kid) ?? opened.get(kid)!;
      if (key.group !== group) {
        throw new ContentKeyConflictError(titleId, kid, key.group, group);
      }
      return key;
    });
  }

  /**
   * The key ids and groups a title's content is encrypted under, without opening any key: what the
   * catalog lists for the title once it is encoded.
   */
  keyIdsForTitle(titleId: string): Promise<{ group: ContentKey['group']; kid: string }[]> {
    return contentKeyIdsForTitle(this.client, this.tableName, titleId);
  }

  /**
   * The title's keys (what a license is cut from), opened: every one, or only those of `kids`;
   * throws if any of them cannot be opened.
   */
  async keysForTitle(titleId: string, kids?: ReadonlySet<string>): Promise<ContentKey[]> {
    const parsed = (await this.itemsOf(titleId)).filter((item) => !kids || kids.has(String(item.kid))).map((item) => this.checkItem(titleId, item));
    const opened = await this.openAll(parsed);
    return parsed.map((item) => opened.get(item.kid)!);
  }

  private itemsOf(titleId: string) {
    return contentKeyItemsOf(this.client, this.tableName, titleId);
  }

  private async read(titleId: string, kid: string): Promise<ContentKeyItem | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: contentKeyItemKeys.contentKey(titleId, kid), ConsistentRead: true }),
    );
    return Item ? this.checkItem(titleId, Item, kid) : undefined;
  }

  private seal(titleId: string, kid: string, group: KeyGroup, key: Buffer, dataKey: DataKey): ContentKeyItem {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', dataKey.plaintext, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(additionalData(titleId, kid, group));
    const ciphertext = Buffer.concat([cipher.update(key), cipher.final()]);
    return {
      ...contentKeyItemKeys.contentKey(titleId, kid),
      titleId,
      kid,
      group,
      algorithm: SEAL_ALGORITHM,
      keyWrapper: this.wrapper.name,
      wrappedDataKey: dataKey.wrapped,
      iv,
      tag: cipher.getAuthTag(),
      ciphertext,
      createdAt: this.now().toISOString(),
    };
  }

  /** Opens items, unwrapping each distinct data key once and zeroing it after. */
  private async openAll(items: readonly ContentKeyItem[]): Promise<Map<string, ContentKey>> {
    const dataKeys = new Map<string, Buffer>();
    const opened = new Map<string, ContentKey>();
    try {
      for (const item of items) {
        const wrapped = Buffer.from(item.wrappedDataKey);
        const blob = wrapped.toString('base64');
        let dataKey = dataKeys.get(blob);
        if (!dataKey) {
          try {
            dataKey = await this.wrapper.unwrap(wrapped, contentKeyEncryptionContext(item.titleId));
          } catch (error) {
            throw new ContentKeyUnreadableError(item.titleId, item.kid, `its data key could not be unwrapped (${errorName(error)})`);
          }
          dataKeys.set(blob, dataKey);
        }
        opened.set(item.kid, { titleId: item.titleId, group: item.group, kid: item.kid, key: open(item, dataKey) });
      }
      return opened;
    } finally {
      for (const dataKey of dataKeys.values()) {
        dataKey.fill(0);
      }
    }
  }

  /** The item's shape, checked before anything is decrypted; a malformed item is unreadable. */
  private checkItem(titleId: string, raw: Record<string, unknown>, expectedKid?: string): ContentKeyItem {
    const kid = typeof raw.kid === 'string' ? raw.kid : String(raw.sk ?? '').replace(contentKeyItemKeys.kidPrefix, '');
    const unreadable = (reason: string) => new ContentKeyUnreadableError(titleId, kid, reason);
    const bytes = (name: string, length?: number): Uint8Array => {
      const value = raw[name];
      if (!(value instanceof Uint8Array) || (length !== undefined && value.length !== length)) {
        throw unreadable(`its item has no valid ${name}`);
      }
      return value;
    };
    const expectedKeys = contentKeyItemKeys.contentKey(titleId, kid);
    if (raw.titleId !== titleId || raw.pk !== expectedKeys.pk || raw.sk !== expectedKeys.sk || (expectedKid !== undefined && kid !== expectedKid)) {
      throw unreadable('its item does not belong where it is stored');
    }
    if (!KID_PATTERN.test(kid) || !KEY_GROUPS.includes(raw.group as KeyGroup)) {
      throw unreadable('its item has no valid kid or group');
    }
    if (raw.algorithm !== SEAL_ALGORITHM) {
      throw unreadable(`it is sealed with ${String(raw.algorithm)}, not ${SEAL_ALGORITHM}`);
    }
    if (raw.keyWrapper !== this.wrapper.name) {
      throw unreadable(`its data key is wrapped by '${String(raw.keyWrapper)}', and this store unwraps with '${this.wrapper.name}'`);
    }
    return {
      pk: expectedKeys.pk,
      sk: expectedKeys.sk,
      titleId,
      kid,
      group: raw.group as KeyGroup,
      algorithm: SEAL_ALGORITHM,
      keyWrapper: this.wrapper.name,
      wrappedDataKey: bytes('wrappedDataKey'),
      iv: bytes('iv', IV_BYTES),
      tag: bytes('tag', TAG_BYTES),
      ciphertext: bytes('ciphertext', CONTENT_KEY_BYTES),
      createdAt: typeof raw.createdAt === 'string' ? raw.createdAt : '',
    };
  }
}

function open(item: ContentKeyItem, dataKey: Buffer): Buffer {
  try {
    const decipher = createDecipheriv('aes-256-gcm', dataKey, item.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(item.titleId, item.kid, item.group));
    decipher.setAuthTag(item.tag);
    const key = Buffer.concat([decipher.update(item.ciphertext), decipher.final()]);
    if (key.length !== CONTENT_KEY_BYTES) {
      throw new Error('wrong length');
    }
    return key;
  } catch {
    throw new ContentKeyUnreadableError(item.titleId, item.kid, 'its ciphertext, tag, IV or group does not authenticate (tampered, or sealed under another data key)');
  }
}

/** What each sealed key is bound to: its title, kid and group. */
function additionalData(titleId: string, kid: string, group: KeyGroup): Buffer {
  return Buffer.from(`${CONTENT_KEY_PURPOSE}\u0000${titleId}\u0000${kid}\u0000${group}`, 'utf8');
}

function checkTitleId(titleId: string): void {
  if (!ID_PATTERN.test(titleId)) {
    throw new Error(`ContentKeyStore: '${titleId.slice(0, 64)}' is not a title id`);
  }
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'unknown error';
}

/**
 * The key ids and groups a title's content is encrypted under, read without a key wrapper and
 * without opening any key: what a caller that only lists them (the encoding completion) needs.
 */
export async function contentKeyIdsForTitle(client: DynamoDBDocumentClient, tableName: string, titleId: string): Promise<{ group: ContentKey['group']; kid: string }[]> {
  const items = await contentKeyItemsOf(client, tableName, titleId, { ProjectionExpression: 'kid, #group', ExpressionAttributeNames: { '#group': 'group' } });
  return items.map((item) => ({ group: item.group as ContentKey['group'], kid: String(item.kid) }));
}

/** A title's key items, all pages, with `projection` when only some attributes are wanted. */
function contentKeyItemsOf(
  client: DynamoDBDocumentClient,
  tableName: string,
  titleId: string,
  projection: { ProjectionExpression?: string; ExpressionAttributeNames?: Record<string, string> } = {},
) {
  checkTitleId(titleId);
  const key = contentKeyItemKeys.contentKey(titleId, '');
  return queryAll(client, {
    TableName: tableName,
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
    ExpressionAttributeValues: { ':pk': key.pk, ':prefix': contentKeyItemKeys.kidPrefix },
    ...projection,
  });
}
