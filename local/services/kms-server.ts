import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';

/**
 * LOCAL STAND-IN for AWS KMS, for the local platform and tests: answers `GenerateDataKey`,
 * `Encrypt` and `Decrypt` in KMS's JSON 1.1 protocol (`X-Amz-Target: TrentService.<Operation>`),
 * so the real wrappers reach it through `@aws-sdk/client-kms` pointed here with
 * `AWS_ENDPOINT_URL_KMS` or `endpoint`. It serves one region and account; the keys are named at
 * start, each by a key id and any number of aliases, and also answer to their key ARN and alias
 * ARNs in that region and account.
 *
 * A ciphertext blob is `[1][id length][key id][IV 12][tag 16][sealed]`: AES-256-GCM under the key's
 * master key, with the header and the encryption context (keys sorted) as additional data, so a
 * blob opens only under its key and the exact context it was sealed with. Master keys are random
 * per start, or kept in `stateFile` (created 0600) so a restarted platform still opens what it
 * sealed; anyone who can read that file can read every key it protects.
 *
 * It checks no signatures and no permissions, and serves no key policies, grants, rotation or
 * deletion. Loopback only.
 */

/** A key the stand-in serves. */
export interface LocalKmsKey {
  /** The key id (`1234abcd-...` in AWS); letters, digits, `-` and `_`. */
  readonly keyId: string;
  /**
   * Names that resolve to the key, each `alias/<name>`.
   * @default - none
   */
  readonly aliases?: readonly string[];
}

export interface LocalKmsOptions {
  readonly keys: readonly LocalKmsKey[];
  /**
   * The region the stand-in plays: in every key ARN it answers with, and the only region whose
   * ARNs it resolves.
   * @default 'us-east-1'
   */
  readonly region?: string;
  /** @default '000000000000' */
  readonly accountId?: string;
  /**
   * A JSON file holding each key's master key, read at start and created (mode 0600) when
   * missing; keys it lacks are added to it.
   * @default - master keys are random and live only as long as the process
   */
  readonly stateFile?: string;
  /** @default 0 (any free port) */
  readonly port?: number;
}

const MASTER_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const BLOB_VERSION = 1;
const MAX_BODY_BYTES = 1024 * 1024;
const MAX_ENCRYPT_BYTES = 4096;
const MAX_DATA_KEY_BYTES = 1024;
const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
const ALIAS_PATTERN = /^alias\/[A-Za-z0-9/_-]{1,250}$/;
const DATA_KEY_SPEC_BYTES: Readonly<Record<string, number>> = { AES_256: 32, AES_128: 16 };

/** A KMS error as the SDK reads it: HTTP 400, `__type` in the body and the header. */
class KmsError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

interface StateFile {
  readonly v: 1;
  readonly keys: Record<string, string>;
}

export class LocalKms {
  private constructor(
    private readonly server: http.Server,
    readonly endpoint: string,
    readonly region: string,
  ) {}

  static async start(options: LocalKmsOptions): Promise<LocalKms> {
    const region = options.region ?? 'us-east-1';
    const accountId = options.accountId ?? '000000000000';
    const { masterKeys, names } = resolveKeys(options.keys, options.stateFile);
    const keyArn = (keyId: string) => `arn:aws:kms:${region}:${accountId}:key/${keyId}`;

    const resolve = (name: unknown): string => {
      if (typeof name !== 'string' || name === '') {
        throw new KmsError('ValidationException', 'KeyId is required');
      }
      const arn = /^arn:aws:kms:([^:]*):([^:]*):((?:key|alias)\/.+)$/.exec(name);
      if (arn && (arn[1] !== region || arn[2] !== accountId)) {
        throw new KmsError('NotFoundException', `${name} is not in this stand-in's region ${region} and account ${accountId}`);
      }
      const local = arn ? arn[3].replace(/^key\//, '') : name;
      const keyId = names.get(local);
      if (!keyId || (arn?.[3].startsWith('key/') && keyId !== local)) {
        throw new KmsError('NotFoundException', `${name} is not a key of the local KMS stand-in (it holds ${[...names.keys()].join(', ')})`);
      }
      return keyId;
    };

    const seal = (keyId: string, plaintext: Buffer, context: Record<string, string>): Buffer => {
      const header = blobHeader(keyId);
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', masterKeys.get(keyId)!, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.concat([header, canonicalContext(context)]));
      const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return Buffer.concat([header, iv, cipher.getAuthTag(), sealed]);
    };

    const operations: Record<string, (input: Record<string, unknown>) => Record<string, unknown>> = {
      GenerateDataKey: (input) => {
        const keyId = resolve(input.KeyId);
        const plaintext = randomBytes(dataKeyLength(input));
        try {
          return {
            KeyId: keyArn(keyId),
            CiphertextBlob: seal(keyId, plaintext, encryptionContext(input)).toString('base64'),
            Plaintext: plaintext.toString('base64'),
          };
        } finally {
          plaintext.fill(0);
        }
      },
      Encrypt: (input) => {
        const keyId = resolve(input.KeyId);
        symmetricDefault(input);
        const plaintext = blob(input, 'Plaintext');
        try {
          if (plaintext.length === 0 || plaintext.length > MAX_ENCRYPT_BYTES) {
            throw new KmsError('ValidationException', `Plaintext must be 1 to ${MAX_ENCRYPT_BYTES} bytes (got ${plaintext.length})`);
          }
          return {
            KeyId: keyArn(keyId),
            CiphertextBlob: seal(keyId, plaintext, encryptionContext(input)).toString('base64'),
            EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
          };
        } finally {
          plaintext.fill(0);
        }
      },
      Decrypt: (input) => {
        symmetricDefault(input);
        const ciphertext = blob(input, 'CiphertextBlob');
        const context = encryptionContext(input);
        const { keyId, header, iv, tag, sealed } = parseBlob(ciphertext);
        const masterKey = masterKeys.get(keyId);
        if (!masterKey) {
          // Corrupted, or sealed by a stand-in started with other keys: KMS's answer to a blob it cannot use.
          throw new KmsError('InvalidCiphertextException', `the ciphertext names key ${keyId}, which this stand-in does not hold (was it started with other keys?)`);
        }
        if (input.KeyId !== undefined && resolve(input.KeyId) !== keyId) {
          throw new KmsError('IncorrectKeyException', `the ciphertext was not sealed under ${String(input.KeyId)}`);
        }
        let plaintext: Buffer;
        try {
          const decipher = createDecipheriv('aes-256-gcm', masterKey, iv, { authTagLength: TAG_BYTES });
          decipher.setAAD(Buffer.concat([header, canonicalContext(context)]));
          decipher.setAuthTag(tag);
          plaintext = Buffer.concat([decipher.update(sealed), decipher.final()]);
        } catch {
          throw new KmsError('InvalidCiphertextException', 'the ciphertext or its encryption context does not authenticate');
        }
        try {
          return { KeyId: keyArn(keyId), Plaintext: plaintext.toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
        } finally {
          plaintext.fill(0);
        }
      },
    };

    const server = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      let length = 0;
      request.on('data', (chunk: Buffer) => {
        length += chunk.length;
        if (length <= MAX_BODY_BYTES) {
          chunks.push(chunk);
        }
      });
      request.on('end', () => {
        const body = Buffer.concat(chunks);
        let payload: Record<string, unknown>;
        let status = 200;
        try {
          payload = answer(operations, request.headers['x-amz-target'], body, length);
        } catch (error) {
          const known = error instanceof KmsError ? error : new KmsError('KMSInternalException', 'the local KMS stand-in failed');
          status = known.type === 'KMSInternalException' ? 500 : 400;
          payload = { __type: known.type, message: known.message };
        } finally {
          body.fill(0);
          chunks.forEach((chunk) => chunk.fill(0));
        }
        const headers: Record<string, string> = { 'content-type': 'application/x-amz-json-1.1' };
        if (status !== 200) {
          headers['x-amzn-errortype'] = String(payload.__type);
        }
        response.writeHead(status, headers).end(JSON.stringify(payload));
      });
    });
    await new Promise<void>((resolveListening, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', resolveListening);
    });
    return new LocalKms(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, region);
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}

function answer(
  operations: Record<string, (input: Record<string, unknown>) => Record<string, unknown>>,
  target: string | string[] | undefined,
  body: Buffer,
  length: number,
): Record<string, unknown> {
  const operation = typeof target === 'string' && target.startsWith('TrentService.') ? operations[target.slice('TrentService.'.length)] : undefined;
  if (!operation) {
    throw new KmsError('UnknownOperationException', `the local KMS answers TrentService.GenerateDataKey, Encrypt and Decrypt only, not ${String(target)}`);
  }
  if (length > MAX_BODY_BYTES) {
    throw new KmsError('ValidationException', `the request body is over ${MAX_BODY_BYTES} bytes`);
  }
  let input: unknown;
  try {
    input = JSON.parse(body.toString('utf8'));
  } catch {
    throw new KmsError('SerializationException', 'the request body is not JSON');
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new KmsError('SerializationException', 'the request body must be a JSON object');
  }
  return operation(input as Record<string, unknown>);
}

/** Master keys by key id, and every name (id, alias) that resolves to a key id. */
function resolveKeys(keys: readonly LocalKmsKey[], stateFile: string | undefined) {
  if (keys.length === 0) {
    throw new Error('LocalKms: keys must name at least one key');
  }
  const names = new Map<string, string>();
  for (const { keyId, aliases = [] } of keys) {
    if (!KEY_ID_PATTERN.test(keyId)) {
      throw new Error(`LocalKms: key id '${keyId}' must be 1 to 128 letters, digits, '-' or '_'`);
    }
    for (const name of [keyId, ...aliases]) {
      if (name !== keyId && (!ALIAS_PATTERN.test(name) || name.startsWith('alias/aws/'))) {
        throw new Error(`LocalKms: alias '${name}' of key ${keyId} must be 'alias/<name>' (letters, digits, '/', '_', '-'), not under alias/aws/`);
      }
      if (names.has(name)) {
        throw new Error(`LocalKms: '${name}' names two keys`);
      }
      names.set(name, keyId);
    }
  }
  const stored = stateFile ? readState(stateFile) : { v: 1 as const, keys: {} };
  const masterKeys = new Map<string, Buffer>();
  let added = false;
  for (const { keyId } of keys) {
    const encoded = stored.keys[keyId];
    if (encoded === undefined) {
      const masterKey = randomBytes(MASTER_KEY_BYTES);
      stored.keys[keyId] = masterKey.toString('base64');
      masterKeys.set(keyId, masterKey);
      added = true;
    } else {
      const masterKey = Buffer.from(encoded, 'base64');
      if (masterKey.length !== MASTER_KEY_BYTES) {
        throw new Error(`${stateFile}: the master key of ${keyId} is not ${MASTER_KEY_BYTES} bytes of base64`);
      }
      masterKeys.set(keyId, masterKey);
    }
  }
  if (stateFile && added) {
    // Keys the file holds and this start does not name are kept: a later start may name them again.
    fs.writeFileSync(`${stateFile}.tmp`, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
    fs.renameSync(`${stateFile}.tmp`, stateFile);
  }
  return { masterKeys, names };
}

function readState(file: string): StateFile {
  if (!fs.existsSync(file)) {
    return { v: 1, keys: {} };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    throw new Error(`${file}: not a local KMS state file (not JSON)`);
  }
  const state = parsed as Partial<StateFile> | null;
  if (!state || state.v !== 1 || typeof state.keys !== 'object' || state.keys === null || Array.isArray(state.keys)) {
    throw new Error(`${file}: not a local KMS state file (expected {"v": 1, "keys": {"<key id>": "<base64 master key>"}})`);
  }
  if (Object.values(state.keys).some((value) => typeof value !== 'string')) {
    throw new Error(`${file}: every master key must be a base64 string`);
  }
  return { v: 1, keys: { ...state.keys } };
}

function blobHeader(keyId: string): Buffer {
  const id = Buffer.from(keyId, 'utf8');
  return Buffer.concat([Buffer.from([BLOB_VERSION, id.length]), id]);
}

function parseBlob(blob: Buffer) {
  const idLength = blob.length > 2 ? blob[1] : 0;
  const headerLength = 2 + idLength;
  if (blob[0] !== BLOB_VERSION || idLength === 0 || blob.length <= headerLength + IV_BYTES + TAG_BYTES) {
    throw new KmsError('InvalidCiphertextException', 'the ciphertext is not a blob of the local KMS stand-in');
  }
  const keyId = blob.subarray(2, headerLength).toString('utf8');
  if (!KEY_ID_PATTERN.test(keyId)) {
    throw new KmsError('InvalidCiphertextException', 'the ciphertext is not a blob of the local KMS stand-in');
  }
  return {
    keyId,
    header: blob.subarray(0, headerLength),
    iv: blob.subarray(headerLength, headerLength + IV_BYTES),
    tag: blob.subarray(headerLength + IV_BYTES, headerLength + IV_BYTES + TAG_BYTES),
    sealed: blob.subarray(headerLength + IV_BYTES + TAG_BYTES),
  };
}

function dataKeyLength(input: Record<string, unknown>): number {
  const { KeySpec, NumberOfBytes } = input;
  if ((KeySpec === undefined) === (NumberOfBytes === undefined)) {
    throw new KmsError('ValidationException', 'give exactly one of KeySpec and NumberOfBytes');
  }
  if (KeySpec !== undefined) {
    const bytes = DATA_KEY_SPEC_BYTES[String(KeySpec)];
    if (!bytes) {
      throw new KmsError('ValidationException', `KeySpec must be AES_256 or AES_128, not ${String(KeySpec)}`);
    }
    return bytes;
  }
  if (!Number.isInteger(NumberOfBytes) || (NumberOfBytes as number) < 1 || (NumberOfBytes as number) > MAX_DATA_KEY_BYTES) {
    throw new KmsError('ValidationException', `NumberOfBytes must be an integer from 1 to ${MAX_DATA_KEY_BYTES}`);
  }
  return NumberOfBytes as number;
}

function encryptionContext(input: Record<string, unknown>): Record<string, string> {
  const context = input.EncryptionContext ?? {};
  if (typeof context !== 'object' || context === null || Array.isArray(context) || Object.values(context).some((value) => typeof value !== 'string')) {
    throw new KmsError('ValidationException', 'EncryptionContext must be a map of strings to strings');
  }
  return context as Record<string, string>;
}

function symmetricDefault(input: Record<string, unknown>): void {
  if (input.EncryptionAlgorithm !== undefined && input.EncryptionAlgorithm !== 'SYMMETRIC_DEFAULT') {
    throw new KmsError('InvalidKeyUsageException', `the local KMS stand-in's keys are symmetric: EncryptionAlgorithm must be SYMMETRIC_DEFAULT`);
  }
}

function blob(input: Record<string, unknown>, field: string): Buffer {
  const value = input[field];
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) {
    throw new KmsError('ValidationException', `${field} must be base64`);
  }
  return Buffer.from(value, 'base64');
}

/** The context as additional data: independent of key order, as KMS's exact-match rule is. */
function canonicalContext(context: Record<string, string>): Buffer {
  return Buffer.from(JSON.stringify(Object.keys(context).sort().map((key) => [key, context[key]])), 'utf8');
}
