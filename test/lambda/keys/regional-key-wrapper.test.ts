import { randomBytes } from 'node:crypto';
import { DecryptCommand, InvalidCiphertextException, KMSClient } from '@aws-sdk/client-kms';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ContentKeyStore, ContentKeyUnreadableError, contentKeyEncryptionContext, KmsKeyWrapper } from '../../../lambda/keys/content-key-store';
import {
  DataKeyNotWrappedForRegionError,
  MalformedWrappedDataKeyError,
  RegionalKms,
  RegionalKmsKeyWrapper,
} from '../../../lambda/keys/regional-key-wrapper';
import { KeyGroup } from '../../../lambda/shared/content-protection';
import { LocalKms } from '../../../local/services/kms-server';
import { DynamoDbLocal } from '../../support/dynamodb-local';

const TABLE = 'nearstream-regional-content-keys';
const PRIMARY = 'us-east-1';
const SECONDARY = 'us-west-2';
// Each region has its own key under the same alias, as the deployed stacks make them.
const ALIAS = 'alias/nearstream/content-keys';
const KIDS: Record<KeyGroup, string> = {
  AUDIO: '0c54f2b0b43345a4ae73664438bb0b4e',
  SD: '93f5fb581df74752acb26cf1e75b4910',
  HD1: 'e1f85ce65c99442c8cdf5063550ca1a1',
  HD2: 'e1f85ce65c99442c8cdf5063550ca95b',
  UHD: '03341606452b46dd89347e0720ba4f21',
};
const ALL = (Object.keys(KIDS) as KeyGroup[]).map((group) => ({ kid: KIDS[group], group }));

let titles = 0;
const newTitle = () => `title-${++titles}-${randomBytes(3).toString('hex')}`;

/** One region's KMS stand-in, under the shared alias. */
async function startRegion(region: string): Promise<LocalKms> {
  return LocalKms.start({ region, accountId: '111122223333', keys: [{ keyId: `${region}-content-keys`, aliases: [ALIAS] }] });
}

function regionalKms(kms: LocalKms): RegionalKms {
  const client = new KMSClient({ endpoint: kms.endpoint, region: kms.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
  return { region: kms.region, client, keyId: ALIAS };
}

describe('regional data keys: stored in one region, read in the other, on DynamoDB Local and two KMS stand-ins', () => {
  let dynamo: DynamoDbLocal;
  let client: DynamoDBDocumentClient;
  let primaryKms: LocalKms;
  let secondaryKms: LocalKms;
  let primary: RegionalKms;
  let secondary: RegionalKms;
  let primaryWrapper: RegionalKmsKeyWrapper;
  let secondaryWrapper: RegionalKmsKeyWrapper;

  beforeAll(async () => {
    [dynamo, primaryKms, secondaryKms] = await Promise.all([DynamoDbLocal.start(), startRegion(PRIMARY), startRegion(SECONDARY)]);
    await dynamo.createControlTable(TABLE);
    client = dynamo.documentClient();
    primary = regionalKms(primaryKms);
    secondary = regionalKms(secondaryKms);
    primaryWrapper = new RegionalKmsKeyWrapper({ ...primary, replicas: [secondary] });
    secondaryWrapper = new RegionalKmsKeyWrapper({ ...secondary, replicas: [primary] });
  });

  afterAll(async () => {
    primary?.client.destroy();
    secondary?.client.destroy();
    await Promise.all([dynamo?.stop(), primaryKms?.stop(), secondaryKms?.stop()]);
  });

  it('reads in the secondary region, with its own key only, the keys the primary region stored', async () => {
    const titleId = newTitle();
    const created = await new ContentKeyStore(client, TABLE, primaryWrapper).getOrCreate(titleId, ALL);

    const read = await new ContentKeyStore(client, TABLE, secondaryWrapper).keysForTitle(titleId);

    const byKid = (keys: typeof created) => [...keys].sort((a, b) => a.kid.localeCompare(b.kid));
    expect(byKid(read)).toEqual(byKid(created));
  });

  it('reads in the secondary region while the primary region’s KMS is down', async () => {
    const downKms = await startRegion(PRIMARY);
    const down = regionalKms(downKms);
    const titleId = newTitle();
    const created = await new ContentKeyStore(client, TABLE, new RegionalKmsKeyWrapper({ ...down, replicas: [secondary] })).getOrCreate(titleId, ALL);
    down.client.destroy();
    await downKms.stop();

    const read = await new ContentKeyStore(client, TABLE, new RegionalKmsKeyWrapper({ ...secondary, replicas: [down] })).keysForTitle(titleId);

    expect(read.map((key) => key.key.toString('hex')).sort()).toEqual(created.map((key) => key.key.toString('hex')).sort());
  });

  it('wraps one data key per region, each opening in its own region only under the same title context', async () => {
    const context = contentKeyEncryptionContext(newTitle());
    const { plaintext, wrapped } = await primaryWrapper.generate(context);
    const document = JSON.parse(wrapped.toString('utf8'));

    expect(Object.keys(document)).toEqual(['v', 'keys']);
    expect(document.v).toBe(1);
    expect(Object.keys(document.keys)).toEqual([PRIMARY, SECONDARY]);
    expect((await primaryWrapper.unwrap(wrapped, context)).equals(plaintext)).toBe(true);
    expect((await secondaryWrapper.unwrap(wrapped, context)).equals(plaintext)).toBe(true);
    expect(wrapped.includes(plaintext) || wrapped.includes(plaintext.toString('base64'))).toBe(false);
    // Each blob is its region's: the other region's KMS cannot open it, and another title's context opens neither.
    const wrongRegion = secondary.client.send(new DecryptCommand({ CiphertextBlob: Buffer.from(document.keys[PRIMARY], 'base64'), EncryptionContext: { ...context } }));
    await expect(wrongRegion).rejects.toBeInstanceOf(InvalidCiphertextException);
    await expect(secondaryWrapper.unwrap(wrapped, contentKeyEncryptionContext(newTitle()))).rejects.toBeInstanceOf(InvalidCiphertextException);
    plaintext.fill(0);
  });

  it('refuses a data key wrapped without this region, naming the regions present and the one missing', async () => {
    const titleId = newTitle();
    const primaryOnly = new RegionalKmsKeyWrapper({ ...primary, replicas: [] });
    await new ContentKeyStore(client, TABLE, primaryOnly).getOrCreate(titleId, ALL);
    const { wrapped } = await primaryOnly.generate(contentKeyEncryptionContext(titleId));

    const read = await new ContentKeyStore(client, TABLE, secondaryWrapper).keysForTitle(titleId).catch((error: unknown) => error);
    const unwrapped = await secondaryWrapper.unwrap(wrapped, contentKeyEncryptionContext(titleId)).catch((error: unknown) => error);

    expect(read).toBeInstanceOf(ContentKeyUnreadableError);
    expect((read as Error).message).toContain('its data key could not be unwrapped (DataKeyNotWrappedForRegionError)');
    expect(unwrapped).toBeInstanceOf(DataKeyNotWrappedForRegionError);
    expect(unwrapped).toMatchObject({ region: SECONDARY, regionsPresent: [PRIMARY] });
    expect((unwrapped as Error).message).toContain(`the data key is wrapped for ${PRIMARY} but not for ${SECONDARY}`);
  });

  it('refuses malformed wrapped values before calling KMS, saying what it expected', async () => {
    const context = contentKeyEncryptionContext(newTitle());
    const bareKmsBlob = (await new KmsKeyWrapper(primary.client, ALIAS).generate(context)).wrapped;
    const malformed: [Buffer, string][] = [
      [bareKmsBlob, 'bytes that are not JSON'],
      [Buffer.from('[]'), 'not a JSON object'],
      [Buffer.from(JSON.stringify({ v: 2, keys: { [SECONDARY]: 'AAAA' } })), 'its version is 2, and this code reads version 1'],
      [Buffer.from(JSON.stringify({ v: 1, keys: {} })), 'its keys are not a non-empty object'],
      [Buffer.from(JSON.stringify({ v: 1, keys: { [SECONDARY]: 'not base64!' } })), `its entry for '${SECONDARY}' is not a region name with a base64 blob`],
    ];

    for (const [wrapped, reason] of malformed) {
      const unwrapped = await secondaryWrapper.unwrap(wrapped, context).catch((error: unknown) => error);
      expect(unwrapped).toBeInstanceOf(MalformedWrappedDataKeyError);
      expect((unwrapped as Error).message).toContain(reason);
    }
  });

  it('stores items under one wrapper name in every region, which a single-region KMS store refuses', async () => {
    const titleId = newTitle();
    await new ContentKeyStore(client, TABLE, primaryWrapper).getOrCreate(titleId, ALL.slice(0, 1));
    const items = (await client.send(new QueryCommand({ TableName: TABLE, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `contentkeys#${titleId}` } })))
      .Items!;

    expect(items.map((item) => item.keyWrapper)).toEqual(['kms-regional']);
    expect(secondaryWrapper.name).toBe(primaryWrapper.name);
    await expect(new ContentKeyStore(client, TABLE, new KmsKeyWrapper(secondary.client, ALIAS)).keysForTitle(titleId)).rejects.toThrow(
      "wrapped by 'kms-regional', and this store unwraps with 'kms'",
    );
  });

  it('makes no data key when a replica region cannot wrap it, naming the region', async () => {
    const unreachable = { ...secondary, keyId: 'alias/nearstream/missing' };
    const wrapper = new RegionalKmsKeyWrapper({ ...primary, replicas: [unreachable] });

    await expect(wrapper.generate(contentKeyEncryptionContext(newTitle()))).rejects.toThrow(
      `KMS Encrypt in replica region ${SECONDARY} under alias/nearstream/missing failed (NotFoundException`,
    );
  });

  it('refuses a configuration that names a region twice', () => {
    expect(() => new RegionalKmsKeyWrapper({ ...primary, replicas: [secondary, { ...secondary }] })).toThrow(`region ${SECONDARY} is given twice`);
    expect(() => new RegionalKmsKeyWrapper({ ...primary, replicas: [primary] })).toThrow(`region ${PRIMARY} is given twice`);
  });
});
