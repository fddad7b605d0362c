import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DecryptCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  IncorrectKeyException,
  InvalidCiphertextException,
  KMSClient,
  KMSServiceException,
  ListKeysCommand,
  NotFoundException,
} from '@aws-sdk/client-kms';
import { LocalKms } from '../../local/services/kms-server';

const REGION = 'us-west-2';
const ACCOUNT = '111122223333';
const CONTENT_KEY_ID = '6c2a0d8e-content-keys';
const OTHER_KEY_ID = '9d41b7f2-other';
const CONTEXT = { purpose: 'nearstream-content-key', titleId: 'title-1' };
const KEYS = [
  { keyId: CONTENT_KEY_ID, aliases: ['alias/nearstream/content-keys'] },
  { keyId: OTHER_KEY_ID, aliases: ['alias/nearstream/other'] },
];

function clientFor(endpoint: string): KMSClient {
  return new KMSClient({ endpoint, region: REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
}

async function sealed(client: KMSClient, keyId = CONTENT_KEY_ID) {
  const result = await client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: CONTEXT }));
  return { plaintext: Buffer.from(result.Plaintext!), blob: Buffer.from(result.CiphertextBlob!), keyArn: result.KeyId };
}

describe('the KMS stand-in, through @aws-sdk/client-kms', () => {
  let kms: LocalKms;
  let client: KMSClient;

  beforeAll(async () => {
    kms = await LocalKms.start({ keys: KEYS, region: REGION, accountId: ACCOUNT });
    client = clientFor(kms.endpoint);
  });

  afterAll(async () => {
    client?.destroy();
    await kms?.stop();
  });

  it('makes a 32-byte data key that Decrypt gives back under the same context, named by its key ARN', async () => {
    const { plaintext, blob, keyArn } = await sealed(client);

    const opened = await client.send(new DecryptCommand({ CiphertextBlob: blob, KeyId: CONTENT_KEY_ID, EncryptionContext: CONTEXT }));

    expect(plaintext).toHaveLength(32);
    expect(keyArn).toBe(`arn:aws:kms:${REGION}:${ACCOUNT}:key/${CONTENT_KEY_ID}`);
    expect(Buffer.from(opened.Plaintext!).equals(plaintext)).toBe(true);
    expect(opened).toMatchObject({ KeyId: keyArn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
    expect(blob.includes(plaintext)).toBe(false);
  });

  it('makes data keys of NumberOfBytes, and of AES_128', async () => {
    const bytes = await client.send(new GenerateDataKeyCommand({ KeyId: CONTENT_KEY_ID, NumberOfBytes: 64 }));
    const aes128 = await client.send(new GenerateDataKeyCommand({ KeyId: CONTENT_KEY_ID, KeySpec: 'AES_128' }));

    expect([bytes.Plaintext!.length, aes128.Plaintext!.length]).toEqual([64, 16]);
    const opened = await client.send(new DecryptCommand({ CiphertextBlob: bytes.CiphertextBlob }));
    expect(Buffer.from(opened.Plaintext!).equals(Buffer.from(bytes.Plaintext!))).toBe(true);
  });

  it('resolves a key by id, alias, key ARN and alias ARN, and decrypts with any of them or none', async () => {
    const names = [
      CONTENT_KEY_ID,
      'alias/nearstream/content-keys',
      `arn:aws:kms:${REGION}:${ACCOUNT}:key/${CONTENT_KEY_ID}`,
      `arn:aws:kms:${REGION}:${ACCOUNT}:alias/nearstream/content-keys`,
    ];
    const plaintext = Buffer.from('a secret of a few bytes');

    for (const name of names) {
      const { CiphertextBlob, KeyId } = await client.send(new EncryptCommand({ KeyId: name, Plaintext: plaintext, EncryptionContext: CONTEXT }));
      expect(KeyId).toBe(`arn:aws:kms:${REGION}:${ACCOUNT}:key/${CONTENT_KEY_ID}`);
      for (const keyId of [...names, undefined]) {
        const opened = await client.send(new DecryptCommand({ CiphertextBlob, KeyId: keyId, EncryptionContext: CONTEXT }));
        expect(Buffer.from(opened.Plaintext!).equals(plaintext)).toBe(true);
      }
    }
  });

  it('matches the encryption context whatever the order of its keys', async () => {
    const { plaintext, blob } = await sealed(client);

    const opened = await client.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { titleId: 'title-1', purpose: 'nearstream-content-key' } }));

    expect(Buffer.from(opened.Plaintext!).equals(plaintext)).toBe(true);
  });

  it('refuses with InvalidCiphertextException a wrong, partial or missing encryption context', async () => {
    const { blob } = await sealed(client);

    for (const context of [{ ...CONTEXT, titleId: 'title-2' }, { purpose: CONTEXT.purpose }, { ...CONTEXT, extra: 'x' }, undefined]) {
      const decrypt = client.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context }));
      await expect(decrypt).rejects.toBeInstanceOf(InvalidCiphertextException);
    }
  });

  it('refuses with InvalidCiphertextException a blob tampered with in any byte, truncated, or not its own', async () => {
    const { blob } = await sealed(client);

    const tampered = [...Array(blob.length).keys()]
      .map((index) => {
        const copy = Buffer.from(blob);
        copy[index] ^= 0x01;
        return copy;
      });
    for (const bad of [...tampered, blob.subarray(0, blob.length - 1), Buffer.from('not a blob at all, but long enough to be one')]) {
      await expect(client.send(new DecryptCommand({ CiphertextBlob: bad, EncryptionContext: CONTEXT }))).rejects.toBeInstanceOf(InvalidCiphertextException);
    }
  });

  it('answers NotFoundException for a key it does not hold, or an ARN of another region or account', async () => {
    for (const keyId of ['alias/nearstream/missing', 'no-such-key', `arn:aws:kms:us-east-1:${ACCOUNT}:key/${CONTENT_KEY_ID}`, `arn:aws:kms:${REGION}:999999999999:alias/nearstream/content-keys`]) {
      await expect(client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }))).rejects.toBeInstanceOf(NotFoundException);
    }
    const { blob } = await sealed(client);
    await expect(client.send(new DecryptCommand({ CiphertextBlob: blob, KeyId: 'alias/nearstream/missing', EncryptionContext: CONTEXT }))).rejects.toBeInstanceOf(
      NotFoundException,
    );
  });

  it('answers IncorrectKeyException when Decrypt names another key than the one that sealed the blob', async () => {
    const { blob } = await sealed(client);

    for (const keyId of [OTHER_KEY_ID, 'alias/nearstream/other']) {
      await expect(client.send(new DecryptCommand({ CiphertextBlob: blob, KeyId: keyId, EncryptionContext: CONTEXT }))).rejects.toBeInstanceOf(IncorrectKeyException);
    }
  });

  it('keeps keys apart: a blob from one key does not open as the other', async () => {
    const { blob } = await sealed(client, OTHER_KEY_ID);
    const header = (keyId: string) => Buffer.concat([Buffer.from([1, keyId.length]), Buffer.from(keyId)]);
    const forged = Buffer.concat([header(CONTENT_KEY_ID), blob.subarray(header(OTHER_KEY_ID).length)]);

    await expect(client.send(new DecryptCommand({ CiphertextBlob: forged, EncryptionContext: CONTEXT }))).rejects.toBeInstanceOf(InvalidCiphertextException);
  });

  it('refuses bad requests with a named error that says what to change', async () => {
    const failure = (command: Promise<unknown>) => command.then(() => undefined, (error: KMSServiceException) => error);

    const both = await failure(client.send(new GenerateDataKeyCommand({ KeyId: CONTENT_KEY_ID, KeySpec: 'AES_256', NumberOfBytes: 32 })));
    const neither = await failure(client.send(new GenerateDataKeyCommand({ KeyId: CONTENT_KEY_ID })));
    const unknown = await failure(client.send(new ListKeysCommand({})));

    expect(both).toMatchObject({ name: 'ValidationException', message: 'give exactly one of KeySpec and NumberOfBytes', $metadata: { httpStatusCode: 400 } });
    expect(neither).toMatchObject({ name: 'ValidationException', message: 'give exactly one of KeySpec and NumberOfBytes' });
    expect(unknown).toBeInstanceOf(KMSServiceException);
    expect(unknown).toMatchObject({ name: 'UnknownOperationException', $metadata: { httpStatusCode: 400 } });
  });

  it('is found through AWS_ENDPOINT_URL_KMS, as the handlers reach it', async () => {
    const saved = process.env.AWS_ENDPOINT_URL_KMS;
    process.env.AWS_ENDPOINT_URL_KMS = kms.endpoint;
    const fromEnvironment = new KMSClient({ region: REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
    try {
      const result = await fromEnvironment.send(new GenerateDataKeyCommand({ KeyId: 'alias/nearstream/content-keys', KeySpec: 'AES_256' }));
      expect(result.Plaintext).toHaveLength(32);
    } finally {
      fromEnvironment.destroy();
      if (saved === undefined) {
        delete process.env.AWS_ENDPOINT_URL_KMS;
      } else {
        process.env.AWS_ENDPOINT_URL_KMS = saved;
      }
    }
  });
});

describe('the KMS stand-in with a state file', () => {
  let dir: string;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-kms-state-'));
  });

  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates the file 0600 and, restarted on it, decrypts what it sealed before', async () => {
    const stateFile = path.join(dir, 'kms-state.json');
    const first = await LocalKms.start({ keys: KEYS, stateFile });
    const firstClient = clientFor(first.endpoint);
    const { plaintext, blob } = await sealed(firstClient);
    firstClient.destroy();
    await first.stop();

    const again = await LocalKms.start({ keys: KEYS, stateFile });
    const againClient = clientFor(again.endpoint);
    try {
      const opened = await againClient.send(new DecryptCommand({ CiphertextBlob: blob, KeyId: 'alias/nearstream/content-keys', EncryptionContext: CONTEXT }));
      expect(Buffer.from(opened.Plaintext!).equals(plaintext)).toBe(true);
      expect(fs.statSync(stateFile).mode & 0o777).toBe(0o600);
      expect(Object.keys(JSON.parse(fs.readFileSync(stateFile, 'utf8')).keys).sort()).toEqual([CONTENT_KEY_ID, OTHER_KEY_ID].sort());
    } finally {
      againClient.destroy();
      await again.stop();
    }
  });

  it('cannot decrypt what another state file sealed, though the key has the same id', async () => {
    const first = await LocalKms.start({ keys: KEYS, stateFile: path.join(dir, 'one.json') });
    const other = await LocalKms.start({ keys: KEYS, stateFile: path.join(dir, 'two.json') });
    const firstClient = clientFor(first.endpoint);
    const otherClient = clientFor(other.endpoint);
    try {
      const { blob } = await sealed(firstClient);
      await expect(otherClient.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: CONTEXT }))).rejects.toBeInstanceOf(InvalidCiphertextException);
    } finally {
      firstClient.destroy();
      otherClient.destroy();
      await Promise.all([first.stop(), other.stop()]);
    }
  });

  it('refuses at start a state file that is not its own, and keys it cannot name', async () => {
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, '{"v": 2}');

    await expect(LocalKms.start({ keys: KEYS, stateFile: bad })).rejects.toThrow(`${bad}: not a local KMS state file`);
    await expect(LocalKms.start({ keys: [{ keyId: 'key', aliases: ['content-keys'] }] })).rejects.toThrow("alias 'content-keys' of key key must be 'alias/<name>'");
    await expect(LocalKms.start({ keys: [{ keyId: 'a', aliases: ['alias/x'] }, { keyId: 'b', aliases: ['alias/x'] }] })).rejects.toThrow("'alias/x' names two keys");
  });
});
