import { DecryptCommand, EncryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { CatalogStore } from '../../../lambda/catalog/catalog-store';
import { contentKeyEncryptionContext, contentKeyIdsForTitle, ContentKeyStore } from '../../../lambda/keys/content-key-store';
import { createKeyProviderHandler } from '../../../lambda/keys/handler';
import { KeyProvider } from '../../../lambda/keys/key-provider';
import { RegionalKmsKeyWrapper } from '../../../lambda/keys/regional-key-wrapper';
import { CommercialLicenseProxy } from '../../../lambda/license/commercial-license-proxy';
import { createLicenseHandler } from '../../../lambda/license/handler';
import { ViewerStore } from '../../../lambda/playback/viewer-store';
import { ContentKey, KEY_GROUPS, kidToBase64Url } from '../../../lambda/shared/content-protection';
import { resolveEnvironment } from '../../../lib/config/environment';
import { EnvironmentNaming } from '../../../lib/config/naming';
import { LocalKms } from '../../../local/services/kms-server';
import { DynamoDbLocal, LOCAL_AWS_ENV } from '../../support/dynamodb-local';
import { bodyOf, viewerEvent } from '../../support/events';
import { catalogTitle } from '../../support/fixtures';
import { Denial, leastPrivilege, LeastPrivilegeCheck } from '../../support/iam/least-privilege';
import { CHECKED_ENVIRONMENT, policyModel } from '../../support/iam/policy-model';
import { MetricRecorder } from '../../support/metric-recorder';
import { clearKeyRequest, playerOf } from '../license/license-fixtures';
import { hex, KIDS, mediaConvertRequest, spekeEvent } from './speke-requests';

/**
 * Least privilege of content protection, proven on real calls: the key provider, the license
 * function and the encoding completion step run against DynamoDB Local and a KMS stand-in per
 * region (`LocalKms`, holding the keys the environment deploys, under their deployed ids and
 * aliases), and every call they make is simulated against their synthesized roles. The check
 * supplies `kms:ResourceAliases` from the key the call reached and the encryption context the call
 * sent, so the alias and purpose conditions are evaluated as KMS would.
 */

const TABLE = 'nearstream-content-protection-iam';
const [PRIMARY, SECONDARY] = ['us-east-1', 'us-west-2'] as const;
type Region = typeof PRIMARY | typeof SECONDARY;
const ACCOUNT = CHECKED_ENVIRONMENT.account!;
const CONTENT_KEY_ALIAS = new EnvironmentNaming(resolveEnvironment(CHECKED_ENVIRONMENT)).contentKeyAlias;
/** A key of the environment that is not the content key: the control planes' log key. */
const LOG_KEY_ALIAS = 'alias/nearstream-dev/logs';
const TITLE = 'title-42';
const LOCAL_CREDENTIALS = { accessKeyId: LOCAL_AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: LOCAL_AWS_ENV.AWS_SECRET_ACCESS_KEY };
const aliasArn = (region: Region, alias = CONTENT_KEY_ALIAS) => `arn:aws:kms:${region}:${ACCOUNT}:${alias}`;

const iam = leastPrivilege({ controlTables: [TABLE] });

/** The key ARN the environment deploys under `alias` in `region`. */
function deployedKey(region: Region, alias: string): string {
  const { keyAliases } = policyModel();
  const keyArn = Object.keys(keyAliases).find((arn) => arn.startsWith(`arn:aws:kms:${region}:`) && keyAliases[arn].includes(alias));
  if (!keyArn) {
    throw new Error(`the synthesized environment has no key aliased ${alias} in ${region}`);
  }
  return keyArn;
}


/** MediaConvert's request for a ClearKey-protected title (commercial systems need their provider's signalling). */
const spekeRequest = (contentId: string) => mediaConvertRequest({ contentId, systems: ['clearkey'] });

/** What a denial is about, for exact comparison. */
const summary = (denials: readonly Denial[]) =>
  denials.map((denial) => ({ role: denial.role, action: denial.request?.action, resource: denial.request?.resource, verdict: denial.verdict }));

describe('least privilege of content protection, on real calls', () => {
  let dynamo: DynamoDbLocal;
  const kms = {} as Record<Region, LocalKms>;
  const kmsClients = {} as Record<Region, KMSClient>;
  const documentClients = {} as Record<Region, DynamoDBDocumentClient>;
  const contentKeyArn = {} as Record<Region, string>;
  const clockMs = Date.parse('2026-11-21T20:00:00Z');

  /** The key provider as deployed in the primary region: this region's key, and the secondary's for every data key. */
  const keyProviderHandler = () =>
    createKeyProviderHandler({
      provider: new KeyProvider({
        store: new ContentKeyStore(
          documentClients[PRIMARY],
          TABLE,
          new RegionalKmsKeyWrapper({
            region: PRIMARY,
            client: kmsClients[PRIMARY],
            keyId: aliasArn(PRIMARY),
            replicas: [{ region: SECONDARY, client: kmsClients[SECONDARY], keyId: aliasArn(SECONDARY) }],
          }),
        ),
        licenseBaseUrl: 'https://api.nearstream.example',
      }),
    });

  /** A region's key store as its license function builds it: its own key only. */
  const regionalStore = (region: Region) =>
    new ContentKeyStore(documentClients[region], TABLE, new RegionalKmsKeyWrapper({ region, client: kmsClients[region], keyId: aliasArn(region), replicas: [] }));

  beforeAll(async () => {
    dynamo = await DynamoDbLocal.start();
    await dynamo.createControlTable(TABLE);
    for (const region of [PRIMARY, SECONDARY]) {
      contentKeyArn[region] = deployedKey(region, CONTENT_KEY_ALIAS);
      const logKeyId = deployedKey(region, LOG_KEY_ALIAS).split('/').pop()!;
      kms[region] = await LocalKms.start({
        region,
        accountId: ACCOUNT,
        keys: [
          { keyId: contentKeyArn[region].split('/').pop()!, aliases: [CONTENT_KEY_ALIAS] },
          { keyId: logKeyId, aliases: [LOG_KEY_ALIAS] },
        ],
      });
      kmsClients[region] = new KMSClient({ region, endpoint: kms[region].endpoint, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
      // One DynamoDB Local stands for the global table: each region's client reads the same items.
      documentClients[region] = DynamoDBDocumentClient.from(
        new DynamoDBClient({ region, endpoint: dynamo.endpoint, credentials: LOCAL_CREDENTIALS }),
        { marshallOptions: { removeUndefinedValues: true } },
      );
    }
  });

  afterAll(async () => {
    for (const region of [PRIMARY, SECONDARY]) {
      kmsClients[region]?.destroy();
      documentClients[region]?.destroy();
      await kms[region]?.stop();
    }
    await dynamo?.stop();
  });

  describe('the key provider', () => {
    const keyProvider = () => iam.actingAs({ role: 'key-provider', region: PRIMARY }, keyProviderHandler());

    it('creates a title\'s keys for MediaConvert\'s CPIX request, and hands the same keys back to a retry, with nothing IAM would refuse', async () => {
      const first = await keyProvider()(spekeEvent(spekeRequest(TITLE)));
      const retry = await keyProvider()(spekeEvent(spekeRequest(TITLE)));

      expect(first.statusCode).toBe(200);
      expect(retry.statusCode).toBe(200);
      expect(retry.body).toBe(first.body);
      for (const kid of Object.values(KIDS)) {
        const { Item } = await documentClients[PRIMARY].send(new GetCommand({ TableName: TABLE, Key: { pk: `contentkeys#${TITLE}`, sk: `kid#${hex(kid)}` } }));
        // Wrapped for both regions: the secondary's licenses open it with their own key.
        expect(Object.keys(JSON.parse(Buffer.from(Item!.wrappedDataKey).toString('utf8')).keys)).toEqual([PRIMARY, SECONDARY]);
      }
    });

    it('makes calls the license role is refused: it may not make data keys, wrap them for the other region, or store keys', async () => {
      const check = new LeastPrivilegeCheck({ controlTables: [TABLE] });

      const response = await check.actingAs({ role: 'license', region: PRIMARY }, keyProviderHandler())(spekeEvent(spekeRequest('title-43')));

      expect(response.statusCode).toBe(200);
      const denied = summary(await check.denials());
      // One PutItem per key; reading the title's keys (GetItem on contentkeys#) the license role may do.
      expect([...new Map(denied.map((denial) => [denial.action, denial])).values()]).toEqual([
        { role: 'license@us-east-1', action: 'kms:GenerateDataKey', resource: contentKeyArn[PRIMARY], verdict: 'ImplicitlyDenied' },
        { role: 'license@us-east-1', action: 'kms:Encrypt', resource: contentKeyArn[SECONDARY], verdict: 'ImplicitlyDenied' },
        { role: 'license@us-east-1', action: 'dynamodb:PutItem', resource: `arn:aws:dynamodb:${PRIMARY}:${ACCOUNT}:table/nearstream-dev-control`, verdict: 'ImplicitlyDenied' },
      ]);
      expect(denied.filter((denial) => denial.action === 'dynamodb:PutItem')).toHaveLength(KEY_GROUPS.length);
    });

    it('may not use another key, another purpose, or GenerateDataKey in the other region', async () => {
      const context = contentKeyEncryptionContext(TITLE);
      const calls = async () => {
        await kmsClients[PRIMARY].send(new GenerateDataKeyCommand({ KeyId: aliasArn(PRIMARY, LOG_KEY_ALIAS), KeySpec: 'AES_256', EncryptionContext: { ...context } }));
        await kmsClients[PRIMARY].send(new GenerateDataKeyCommand({ KeyId: aliasArn(PRIMARY), KeySpec: 'AES_256', EncryptionContext: { ...context, purpose: 'nearstream-session' } }));
        await kmsClients[SECONDARY].send(new GenerateDataKeyCommand({ KeyId: aliasArn(SECONDARY), KeySpec: 'AES_256', EncryptionContext: { ...context } }));
        await kmsClients[SECONDARY].send(new EncryptCommand({ KeyId: aliasArn(SECONDARY), Plaintext: Buffer.alloc(32, 7), EncryptionContext: { ...context, purpose: 'nearstream-session' } }));
        // The alias condition follows the key, not the name: its key ARN is as good as its alias.
        await kmsClients[PRIMARY].send(new GenerateDataKeyCommand({ KeyId: contentKeyArn[PRIMARY], KeySpec: 'AES_256', EncryptionContext: { ...context } }));
      };

      // Every call succeeds at the stand-in, which checks no permissions: IAM is what refuses them.
      await iam.actingAs({ role: 'key-provider', region: PRIMARY }, calls)();

      expect(summary(await iam.denials())).toEqual([
        { role: 'key-provider@us-east-1', action: 'kms:GenerateDataKey', resource: deployedKey(PRIMARY, LOG_KEY_ALIAS), verdict: 'ImplicitlyDenied' },
        { role: 'key-provider@us-east-1', action: 'kms:GenerateDataKey', resource: contentKeyArn[PRIMARY], verdict: 'ImplicitlyDenied' },
        { role: 'key-provider@us-east-1', action: 'kms:GenerateDataKey', resource: contentKeyArn[SECONDARY], verdict: 'ImplicitlyDenied' },
        { role: 'key-provider@us-east-1', action: 'kms:Encrypt', resource: contentKeyArn[SECONDARY], verdict: 'ImplicitlyDenied' },
      ]);
    });
  });

  describe('the license function', () => {
    let keys: ContentKey[];
    let sessionId: string;

    beforeAll(async () => {
      // Setup outside the check: the key provider makes the title's keys, a viewer starts a play.
      const made = await keyProviderHandler()(spekeEvent(spekeRequest(TITLE)));
      expect(made.statusCode).toBe(200);
      keys = await regionalStore(PRIMARY).keysForTitle(TITLE);
      const client = documentClients[PRIMARY];
      await new CatalogStore(client, TABLE).put(catalogTitle(TITLE, { protection: { scheme: 'cbcs', keys: keys.map(({ group, kid }) => ({ group, kid })) } }));
      await new ViewerStore(client, TABLE).putPlan('alice', 'premium');
      sessionId = await playerOf(client, TABLE, () => clockMs)('alice', TITLE, 1080);
    });

    const licenseHandler = (region: Region) =>
      createLicenseHandler({
        sessions: new ViewerStore(documentClients[region], TABLE),
        catalog: new CatalogStore(documentClients[region], TABLE),
        titleKeys: regionalStore(region),
        nowMs: () => clockMs + 60_000,
        commercial: new CommercialLicenseProxy({}, { get: async () => '{"headers":{}}' }),
        metrics: new MetricRecorder(),
      });

    it.each([PRIMARY, SECONDARY])('issues a ClearKey license in %s from the keys the key provider made, with nothing IAM would refuse', async (region) => {
      const granted = keys.filter((key) => key.group !== 'UHD');

      const response = await iam.actingAs('license', licenseHandler(region))(
        viewerEvent('POST /license/{system}', 'alice', { pathParameters: { system: 'clearkey' }, query: { session: sessionId }, body: clearKeyRequest(...granted) }),
      );

      expect(response.statusCode).toBe(200);
      expect(bodyOf(response).keys).toEqual(
        granted.map((key) => ({ kty: 'oct', kid: kidToBase64Url(key.kid), k: key.key.toString('base64url') })),
      );
    });

    it('may neither make nor wrap data keys, nor open another key or another purpose\'s data', async () => {
      const context = contentKeyEncryptionContext(TITLE);
      const sealedForSessions = await kmsClients[PRIMARY].send(
        new GenerateDataKeyCommand({ KeyId: aliasArn(PRIMARY), KeySpec: 'AES_256', EncryptionContext: { ...context, purpose: 'nearstream-session' } }),
      );
      const sealedUnderLogKey = await kmsClients[PRIMARY].send(
        new GenerateDataKeyCommand({ KeyId: aliasArn(PRIMARY, LOG_KEY_ALIAS), KeySpec: 'AES_256', EncryptionContext: { ...context } }),
      );
      const calls = async () => {
        await kmsClients[PRIMARY].send(new GenerateDataKeyCommand({ KeyId: aliasArn(PRIMARY), KeySpec: 'AES_256', EncryptionContext: { ...context } }));
        await kmsClients[PRIMARY].send(new EncryptCommand({ KeyId: aliasArn(PRIMARY), Plaintext: Buffer.alloc(32, 7), EncryptionContext: { ...context } }));
        await kmsClients[PRIMARY].send(new DecryptCommand({ KeyId: aliasArn(PRIMARY), CiphertextBlob: sealedForSessions.CiphertextBlob, EncryptionContext: { ...context, purpose: 'nearstream-session' } }));
        await kmsClients[PRIMARY].send(new DecryptCommand({ KeyId: aliasArn(PRIMARY, LOG_KEY_ALIAS), CiphertextBlob: sealedUnderLogKey.CiphertextBlob, EncryptionContext: { ...context } }));
      };

      await iam.actingAs('license', calls)();

      expect(summary(await iam.denials())).toEqual([
        { role: 'license@us-east-1', action: 'kms:GenerateDataKey', resource: contentKeyArn[PRIMARY], verdict: 'ImplicitlyDenied' },
        { role: 'license@us-east-1', action: 'kms:Encrypt', resource: contentKeyArn[PRIMARY], verdict: 'ImplicitlyDenied' },
        { role: 'license@us-east-1', action: 'kms:Decrypt', resource: contentKeyArn[PRIMARY], verdict: 'ImplicitlyDenied' },
        { role: 'license@us-east-1', action: 'kms:Decrypt', resource: deployedKey(PRIMARY, LOG_KEY_ALIAS), verdict: 'ImplicitlyDenied' },
      ]);
    });
  });

  describe('the encoding completion step', () => {

    beforeAll(async () => {
      const made = await keyProviderHandler()(spekeEvent(spekeRequest(TITLE)));
      expect(made.statusCode).toBe(200);
    });

    it('lists a title\'s key ids and groups by a Query on its contentkeys# partition, and opens no key (its role could not)', async () => {
      // As `lambda/encoding/complete.ts` lists them: no key wrapper.
      const listed = await iam.actingAs('encoding-complete', () => contentKeyIdsForTitle(documentClients[PRIMARY], TABLE, TITLE))();

      expect([...listed].sort((a, b) => a.kid.localeCompare(b.kid))).toEqual(
        KEY_GROUPS.map((group) => ({ group, kid: hex(KIDS[group]) })).sort((a, b) => a.kid.localeCompare(b.kid)),
      );
    });

    it('may not open the keys it lists, even with a store that could: kms:Decrypt is denied to its role', async () => {
      await iam.actingAs('encoding-complete', () => regionalStore(PRIMARY).keysForTitle(TITLE))();

      const denied = summary(await iam.denials());
      expect(denied).toEqual([{ role: 'encoding-complete@us-east-1', action: 'kms:Decrypt', resource: contentKeyArn[PRIMARY], verdict: 'ImplicitlyDenied' }]);
    });
  });
});
