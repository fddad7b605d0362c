import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  CONTENT_KEY_PURPOSE,
  contentKeyItemKeys,
  ContentKeyConflictError,
  ContentKeyStore,
  ContentKeyUnreadableError,
  DataKey,
  EncryptionContext,
  KeyWrapper,
  KmsKeyWrapper,
  LocalKeyWrapper,
} from '../../../lambda/keys/content-key-store';
import { ContentKey, KeyGroup } from '../../../lambda/shared/content-protection';
import { DynamoDbLocal } from '../../support/dynamodb-local';
import { KMS_KEY_ID, kmsModel } from './kms-model';

const TABLE = 'nearstream-content-keys';
const KIDS: Record<KeyGroup, string> = {
  AUDIO: '0c54f2b0b43345a4ae73664438bb0b4e',
  SD: '93f5fb581df74752acb26cf1e75b4910',
  HD1: 'e1f85ce65c99442c8cdf5063550ca1a1',
  HD2: 'e1f85ce65c99442c8cdf5063550ca95b',
  UHD: '03341606452b46dd89347e0720ba4f21',
};
const ALL = (Object.keys(KIDS) as KeyGroup[]).map((group) => ({ kid: KIDS[group], group }));
const NOW = new Date('2026-11-21T12:00:00Z');

let titles = 0;
/** A title of its own for each test: the table is shared by the file. */
const newTitle = () => `title-${++titles}-${randomBytes(3).toString('hex')}`;

/** Every form a key could leak in: raw bytes, hex, base64, base64url. */
function forms(key: Buffer): (string | Buffer)[] {
  return [key, key.toString('hex'), key.toString('base64'), key.toString('base64url').replace(/=+$/, '')];
}

function leaks(value: unknown, keys: readonly ContentKey[]): boolean {
  const holds = (haystack: Buffer | string) =>
    keys.some((key) => forms(key.key).some((form) => (typeof haystack === 'string' ? typeof form === 'string' && haystack.includes(form) : Buffer.from(haystack).includes(form))));
  if (value instanceof Uint8Array) {
    return holds(Buffer.from(value));
  }
  if (typeof value === 'string') {
    return holds(value);
  }
  if (value && typeof value === 'object') {
    return Object.values(value).some((inner) => leaks(inner, keys));
  }
  return false;
}

describe('the content key store against DynamoDB Local, with KMS envelope encryption', () => {
  let dynamo: DynamoDbLocal;
  let client: DynamoDBDocumentClient;
  const model = kmsModel();
  let store: ContentKeyStore;

  beforeAll(async () => {
    dynamo = await DynamoDbLocal.start();
    await dynamo.createControlTable(TABLE);
    client = dynamo.documentClient();
  });

  afterAll(async () => {
    await dynamo?.stop();
  });

  beforeEach(() => {
    model.reset();
    store = new ContentKeyStore(client, TABLE, new KmsKeyWrapper(new KMSClient({ region: 'us-east-1' }), KMS_KEY_ID), { now: () => NOW });
  });

  const rawItems = async (titleId: string) =>
    (await client.send(new QueryCommand({ TableName: TABLE, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `contentkeys#${titleId}` } }))).Items ?? [];

  it('creates a random 16-byte key per kid under one data key for the title, and reads them all back', async () => {
    const titleId = newTitle();

    const created = await store.getOrCreate(titleId, ALL);
    const read = await store.keysForTitle(titleId);

    expect(created.map((key) => [key.titleId, key.kid, key.group, key.key.length])).toEqual(ALL.map(({ kid, group }) => [titleId, kid, group, 16]));
    expect(new Set(created.map((key) => key.key.toString('hex'))).size).toBe(5);
    expect(read.sort((a, b) => a.kid.localeCompare(b.kid))).toEqual([...created].sort((a, b) => a.kid.localeCompare(b.kid)));
    const generated = model.kms.commandCalls(GenerateDataKeyCommand);
    expect(generated).toHaveLength(1);
    expect(generated[0].args[0].input).toEqual({ KeyId: KMS_KEY_ID, KeySpec: 'AES_256', EncryptionContext: { purpose: CONTENT_KEY_PURPOSE, titleId } });
    // One Decrypt for the title's one data key, whatever the number of keys under it.
    expect(model.kms.commandCalls(DecryptCommand)).toHaveLength(1);
    expect(model.kms.commandCalls(DecryptCommand)[0].args[0].input).toMatchObject({ KeyId: KMS_KEY_ID, EncryptionContext: { purpose: CONTENT_KEY_PURPOSE, titleId } });
  });

  it('stores each key sealed: the wrapped data key, IV, tag and ciphertext, and no plaintext key in any form', async () => {
    const titleId = newTitle();
    const keys = await store.getOrCreate(titleId, ALL);

    const items = await rawItems(titleId);

    expect(items).toHaveLength(5);
    expect(items.map((item) => [item.pk, item.sk])).toEqual(
      expect.arrayContaining(ALL.map(({ kid }) => [contentKeyItemKeys.contentKey(titleId, kid).pk, `kid#${kid}`])),
    );
    for (const item of items) {
      expect(Object.keys(item).sort()).toEqual(
        ['algorithm', 'ciphertext', 'createdAt', 'group', 'iv', 'keyWrapper', 'kid', 'pk', 'sk', 'tag', 'titleId', 'wrappedDataKey'].sort(),
      );
      expect(item).toMatchObject({ algorithm: 'AES-256-GCM', keyWrapper: 'kms', createdAt: NOW.toISOString() });
      expect([item.iv.length, item.tag.length, item.ciphertext.length]).toEqual([12, 16, 16]);
    }
    expect(new Set(items.map((item) => Buffer.from(item.wrappedDataKey).toString('base64'))).size).toBe(1);
    expect(leaks(items, keys)).toBe(false);
  });

  it('zeroes every plaintext data key it was given once done', async () => {
    const titleId = newTitle();

    await store.getOrCreate(titleId, ALL);
    await store.keysForTitle(titleId);

    expect(model.issued.length).toBeGreaterThanOrEqual(2);
    expect(model.issued.every((plaintext) => plaintext.every((byte) => byte === 0))).toBe(true);
  });

  it('zeroes the data key copies it holds too, when KMS answers and when a write fails', async () => {
    const seen: Buffer[] = [];
    const inner = new KmsKeyWrapper(new KMSClient({ region: 'us-east-1' }), KMS_KEY_ID);
    const spy: KeyWrapper = {
      name: inner.name,
      generate: async (context: EncryptionContext): Promise<DataKey> => {
        const dataKey = await inner.generate(context);
        seen.push(dataKey.plaintext);
        return dataKey;
      },
      unwrap: async (wrapped, context) => {
        const plaintext = await inner.unwrap(wrapped, context);
        seen.push(plaintext);
        return plaintext;
      },
    };
    const titleId = newTitle();
    const spied = new ContentKeyStore(client, TABLE, spy);
    await spied.getOrCreate(titleId, ALL);
    await spied.getOrCreate(titleId, ALL);
    // Reads work, writes fail: the data key was generated and must still be zeroed.
    const writesFail = {
      send: (command: unknown) => (command instanceof PutCommand ? Promise.reject(new Error('throttled')) : client.send(command as GetCommand)),
    } as unknown as DynamoDBDocumentClient;
    await expect(new ContentKeyStore(writesFail, TABLE, spy).getOrCreate(newTitle(), ALL)).rejects.toThrow('throttled');

    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.every((plaintext) => plaintext.every((byte) => byte === 0))).toBe(true);
  });

  it('returns the same key for the same (title, kid) asked again, without a new data key', async () => {
    const titleId = newTitle();
    const first = await store.getOrCreate(titleId, ALL);

    const again = await store.getOrCreate(titleId, [ALL[2], ALL[0]]);

    expect(again).toEqual([first[2], first[0]]);
    expect(model.kms.commandCalls(GenerateDataKeyCommand)).toHaveLength(1);
  });

  it('adds a key for a new kid next to the stored ones, under a data key of its own', async () => {
    const titleId = newTitle();
    const [sd] = await store.getOrCreate(titleId, [{ kid: KIDS.SD, group: 'SD' }]);

    const both = await store.getOrCreate(titleId, [{ kid: KIDS.SD, group: 'SD' }, { kid: KIDS.HD2, group: 'HD2' }]);

    expect(both[0]).toEqual(sd);
    expect((await store.keysForTitle(titleId)).map((key) => key.group).sort()).toEqual(['HD2', 'SD']);
    expect(model.kms.commandCalls(GenerateDataKeyCommand)).toHaveLength(2);
  });

  it('opens only the kids asked for: a license for SD and HD1 decrypts neither HD2 nor UHD', async () => {
    const titleId = newTitle();
    const created = await store.getOrCreate(titleId, ALL);
    const byKid = new Map(created.map((key) => [key.kid, key]));
    // HD2's and UHD's sealed keys no longer open: had either been opened, the read would throw.
    for (const kid of [KIDS.HD2, KIDS.UHD]) {
      const { Item } = await client.send(new GetCommand({ TableName: TABLE, Key: contentKeyItemKeys.contentKey(titleId, kid) }));
      const ciphertext = Buffer.from(Item!.ciphertext);
      ciphertext[0] ^= 0x01;
      await client.send(new UpdateCommand({ TableName: TABLE, Key: contentKeyItemKeys.contentKey(titleId, kid), UpdateExpression: 'SET ciphertext = :c', ExpressionAttributeValues: { ':c': ciphertext } }));
    }
    model.reset();

    const opened = await store.keysForTitle(titleId, new Set([KIDS.SD, KIDS.HD1, 'ffffffffffffffffffffffffffffffff']));

    expect(opened.map((key) => key.kid).sort()).toEqual([KIDS.SD, KIDS.HD1].sort());
    expect(opened.map((key) => key.group).sort()).toEqual(['HD1', 'SD']);
    expect(opened.every((key) => key.key.equals(byKid.get(key.kid)!.key))).toBe(true);
    expect(model.kms.commandCalls(DecryptCommand)).toHaveLength(1);
    expect(await store.keysForTitle(titleId, new Set())).toEqual([]);
    expect(model.kms.commandCalls(DecryptCommand)).toHaveLength(1);
    await expect(store.keysForTitle(titleId, new Set([KIDS.SD, KIDS.UHD]))).rejects.toThrow(`content key ${KIDS.UHD} of title ${titleId} cannot be read`);
    await expect(store.keysForTitle(titleId)).rejects.toThrow(ContentKeyUnreadableError);
  });

  it('gives every one of many concurrent requests for a new kid the same key, and stores it once', async () => {
    const titleId = newTitle();

    const answers = await Promise.all(Array.from({ length: 8 }, () => store.getOrCreate(titleId, ALL)));

    for (const answer of answers) {
      expect(answer).toEqual(answers[0]);
    }
    expect(await rawItems(titleId)).toHaveLength(5);
    expect(await store.keysForTitle(titleId)).toHaveLength(5);
  });

  it('keeps titles apart: the same kid in two titles is two keys', async () => {
    const [a] = await store.getOrCreate(newTitle(), [ALL[0]]);
    const [b] = await store.getOrCreate(newTitle(), [ALL[0]]);

    expect(a.key.equals(b.key)).toBe(false);
  });

  it('refuses a kid asked for under another group than it is stored under, and writes nothing', async () => {
    const titleId = newTitle();
    await store.getOrCreate(titleId, [{ kid: KIDS.SD, group: 'SD' }]);

    const refused = store.getOrCreate(titleId, [{ kid: KIDS.UHD, group: 'UHD' }, { kid: KIDS.SD, group: 'UHD' }]);

    await expect(refused).rejects.toThrow(ContentKeyConflictError);
    await expect(refused).rejects.toThrow(`content key ${KIDS.SD} of title ${titleId} is its SD key; it cannot serve as its UHD key`);
    expect(await rawItems(titleId)).toHaveLength(1);
  });

  describe('never hands out a key it cannot open', () => {
    async function tamper(titleId: string, kid: string, update: Omit<ConstructorParameters<typeof UpdateCommand>[0], 'TableName' | 'Key'>) {
      await client.send(new UpdateCommand({ TableName: TABLE, Key: contentKeyItemKeys.contentKey(titleId, kid), ...update }));
    }

    async function expectUnreadable(titleId: string, kid: string, keys: readonly ContentKey[], reason: RegExp) {
      for (const read of [() => store.keysForTitle(titleId), () => store.getOrCreate(titleId, ALL)]) {
        const error = await read().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(ContentKeyUnreadableError);
        const unreadable = error as ContentKeyUnreadableError;
        expect([unreadable.titleId, unreadable.kid]).toEqual([titleId, kid]);
        expect(unreadable.message).toContain(`content key ${kid} of title ${titleId} cannot be read`);
        expect(unreadable.message).toMatch(reason);
        expect(leaks(unreadable.message, keys)).toBe(false);
      }
    }

    it('a tampered ciphertext', async () => {
      const titleId = newTitle();
      const keys = await store.getOrCreate(titleId, ALL);
      const { Item } = await client.send(new GetCommand({ TableName: TABLE, Key: contentKeyItemKeys.contentKey(titleId, KIDS.HD2) }));
      const ciphertext = Buffer.from(Item!.ciphertext);
      ciphertext[3] ^= 0x01;

      await tamper(titleId, KIDS.HD2, { UpdateExpression: 'SET ciphertext = :c', ExpressionAttributeValues: { ':c': ciphertext } });

      await expectUnreadable(titleId, KIDS.HD2, keys, /does not authenticate/);
    });

    it('a key relabelled to another group (an SD key passed off as UHD)', async () => {
      const titleId = newTitle();
      const keys = await store.getOrCreate(titleId, [{ kid: KIDS.SD, group: 'SD' }]);

      await tamper(titleId, KIDS.SD, { UpdateExpression: 'SET #g = :g', ExpressionAttributeNames: { '#g': 'group' }, ExpressionAttributeValues: { ':g': 'UHD' } });

      const error = await store.keysForTitle(titleId).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ContentKeyUnreadableError);
      expect((error as Error).message).toMatch(/does not authenticate/);
      expect(leaks((error as Error).message, keys)).toBe(false);
    });

    it("an item copied into another title's partition (KMS refuses the other title's context)", async () => {
      const source = newTitle();
      const target = newTitle();
      const keys = await store.getOrCreate(source, [{ kid: KIDS.AUDIO, group: 'AUDIO' }]);
      const { Item } = await client.send(new GetCommand({ TableName: TABLE, Key: contentKeyItemKeys.contentKey(source, KIDS.AUDIO) }));
      await client.send(new PutCommand({ TableName: TABLE, Item: { ...Item, ...contentKeyItemKeys.contentKey(target, KIDS.AUDIO), titleId: target } }));

      const error = await store.keysForTitle(target).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ContentKeyUnreadableError);
      expect((error as Error).message).toBe(`content key ${KIDS.AUDIO} of title ${target} cannot be read: its data key could not be unwrapped (InvalidCiphertextException)`);
      expect(leaks((error as Error).message, keys)).toBe(false);
    });

    it('a key wrapped by the local stand-in, read by a KMS store', async () => {
      const titleId = newTitle();
      const local = new ContentKeyStore(client, TABLE, new LocalKeyWrapper(randomBytes(32)));
      const keys = await local.getOrCreate(titleId, [{ kid: KIDS.SD, group: 'SD' }]);
      expect(await local.keysForTitle(titleId)).toEqual(keys);

      const error = await store.keysForTitle(titleId).catch((e: unknown) => e);

      expect((error as Error).message).toBe(
        `content key ${KIDS.SD} of title ${titleId} cannot be read: its data key is wrapped by 'local-stand-in', and this store unwraps with 'kms'`,
      );
      expect(model.kms.commandCalls(DecryptCommand)).toHaveLength(0);
      expect(leaks((error as Error).message, keys)).toBe(false);
    });

    it('a missing attribute', async () => {
      const titleId = newTitle();
      await store.getOrCreate(titleId, [{ kid: KIDS.UHD, group: 'UHD' }]);

      await tamper(titleId, KIDS.UHD, { UpdateExpression: 'REMOVE tag' });

      await expect(store.keysForTitle(titleId)).rejects.toThrow(`content key ${KIDS.UHD} of title ${titleId} cannot be read: its item has no valid tag`);
    });

    it('KMS failing to decrypt, named with the title and kid', async () => {
      const titleId = newTitle();
      await store.getOrCreate(titleId, [{ kid: KIDS.UHD, group: 'UHD' }]);
      model.kms.on(DecryptCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));

      await expect(store.keysForTitle(titleId)).rejects.toThrow(
        `content key ${KIDS.UHD} of title ${titleId} cannot be read: its data key could not be unwrapped (ThrottlingException)`,
      );
    });
  });

  it('refuses ids that could not be keys before touching the table', async () => {
    await expect(store.getOrCreate('../other', ALL)).rejects.toThrow('is not a title id');
    await expect(store.getOrCreate(newTitle(), [{ kid: 'ABC', group: 'SD' }])).rejects.toThrow('is not a 32-hex-digit kid');
    await expect(store.keysForTitle('a#b')).rejects.toThrow('is not a title id');
  });
});

describe('the local stand-in key wrapper', () => {
  const context = { purpose: CONTENT_KEY_PURPOSE, titleId: 't1' };
  let dir: string;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-local-wrapper-'));
  });

  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('wraps a random data key and unwraps it only under the same context and master key', async () => {
    const wrapper = new LocalKeyWrapper(randomBytes(32));
    const { plaintext, wrapped } = await wrapper.generate(context);

    expect((await wrapper.unwrap(wrapped, context)).equals(plaintext)).toBe(true);
    expect(wrapped.includes(plaintext)).toBe(false);
    await expect(wrapper.unwrap(wrapped, { ...context, titleId: 't2' })).rejects.toThrow();
    await expect(new LocalKeyWrapper(randomBytes(32)).unwrap(wrapped, context)).rejects.toThrow();
  });

  it('reads a master key file as raw bytes, hex or base64, and makes one (0600) when asked', async () => {
    const master = randomBytes(32);
    const forms = { raw: master, hex: `${master.toString('hex')}\n`, base64: ` ${master.toString('base64')}\n` };
    const wrapped = (await new LocalKeyWrapper(master).generate(context)).wrapped;
    for (const [name, contents] of Object.entries(forms)) {
      fs.writeFileSync(path.join(dir, name), contents);
      await expect(LocalKeyWrapper.fromFile(path.join(dir, name)).unwrap(wrapped, context)).resolves.toHaveLength(32);
    }
    fs.writeFileSync(path.join(dir, 'short'), 'abc');
    expect(() => LocalKeyWrapper.fromFile(path.join(dir, 'short'))).toThrow('not a 32-byte master key');

    const made = path.join(dir, 'made.key');
    const first = LocalKeyWrapper.loadOrCreate(made);
    const again = LocalKeyWrapper.loadOrCreate(made);
    const sealed = await first.generate(context);
    expect((await again.unwrap(sealed.wrapped, context)).equals(sealed.plaintext)).toBe(true);
    expect(fs.statSync(made).mode & 0o777).toBe(0o600);
  });
});
