import { createHash, createSign, createVerify } from 'node:crypto';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { createOriginKeyHandler } from '../../../lambda/origin-key/handler';
import { newKeyPair } from '../../../lambda/origin-key/key-pair';
import { parseOriginSigningKey } from '../../../lambda/shared/origin-signing-key';
import { leastPrivilege } from '../../support/iam/least-privilege';
import { SecretsManagerModel } from '../../support/secrets-manager-model';

// Secrets Manager cannot run locally: a model of its versions and staging labels stands in behind
// aws-sdk-client-mock. CloudFormation's response URL is a real local HTTP server.
const secretsMock = mockClient(SecretsManagerClient);

const STORE = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:OriginKeyStore-AbCdEf';
const SIGNING = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:nearstream/dev/origin-signing-key-AbCdEf';
/** What CloudFormation's GenerateSecretString: {} leaves in a new secret. */
const GENERATED = 'xM3#kQ9!generated-password-not-json';
const iam = leastPrivilege({ secrets: { [STORE]: 'Data/OriginTier/KeyStore', 'arn:gone': 'Data/OriginTier/KeyStore' }, mocks: [secretsMock] });

type RequestType = 'Create' | 'Update' | 'Delete';
type Properties = Record<string, unknown>;
interface Answer {
  Status: 'SUCCESS' | 'FAILED';
  Reason?: string;
  PhysicalResourceId: string;
  Data?: Record<string, string>;
}

/** The id CloudFront gives a public key; the tests derive it from the key so every key has its own. */
function keyPairIdOf(publicKeyPem: string): string {
  return `K${createHash('sha256').update(publicKeyPem).digest('hex').slice(0, 13).toUpperCase()}`;
}

function signsFor(privateKeyPem: string, publicKeyPem: string): boolean {
  const signature = createSign('RSA-SHA1').update('policy').sign(privateKeyPem);
  return createVerify('RSA-SHA1').update('policy').verify(publicKeyPem, signature);
}

describe('origin key resources', () => {
  let server: http.Server;
  let answers: Answer[];
  let responseUrl: string;
  let secrets: SecretsManagerModel;
  const handler = createOriginKeyHandler({
    secrets: new SecretsManagerClient({ region: 'us-east-1' }),
    respond: async (url, body) => {
      const answer = await fetch(url, { method: 'PUT', body, headers: { 'content-type': '' } });
      expect(answer.status).toBe(200);
    },
  });

  async function send(
    resourceType: string,
    logicalId: string,
    requestType: RequestType,
    properties: Properties,
    oldProperties: Properties = properties,
  ): Promise<Answer> {
    const event = {
      RequestType: requestType,
      ResponseURL: responseUrl,
      StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/nearstream-dev-data/1',
      RequestId: `request-${answers.length + 1}`,
      LogicalResourceId: logicalId,
      ResourceType: resourceType,
      ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:key-pair',
      ResourceProperties: { ServiceToken: 'arn', ...properties },
      ...(requestType === 'Update' ? { OldResourceProperties: { ServiceToken: 'arn', ...oldProperties } } : {}),
      ...(requestType === 'Create' ? {} : { PhysicalResourceId: `${resourceType}:${logicalId}` }),
    } as unknown as CloudFormationCustomResourceEvent;
    await iam.actingAs('origin-key', handler)(event);
    return answers.at(-1)!;
  }

  const keyPair = (requestType: RequestType, generation: number, oldProperties?: Properties) =>
    send('Custom::CloudFrontKeyPair', `KeyPairGen${generation}`, requestType, { KeyStoreId: STORE, Generation: String(generation) }, oldProperties);
  const trustCheck = (requestType: RequestType, trusted: string[], oldTrusted: string[] = trusted) =>
    send('Custom::CloudFrontTrustCheck', 'TrustCheck', requestType, { SigningSecretId: SIGNING, TrustedKeyPairIds: trusted }, {
      SigningSecretId: SIGNING,
      TrustedKeyPairIds: oldTrusted,
    });
  const signingKeyProperties = (generation: number, keyPairId: string) => ({
    KeyStoreId: STORE,
    SigningSecretId: SIGNING,
    Generation: String(generation),
    KeyPairId: keyPairId,
  });
  const signingKey = (requestType: RequestType, generation: number, keyPairId: string, old?: [number, string]) =>
    send('Custom::CloudFrontSigningKey', 'SigningKey', requestType, signingKeyProperties(generation, keyPairId), old && signingKeyProperties(...old));

  const publicKeyIn = (answer: Answer) => {
    expect(answer).toMatchObject({ Status: 'SUCCESS' });
    return answer.Data!.PublicKeyPem;
  };
  const signing = () => parseOriginSigningKey(secrets.valueAt(SIGNING)!);

  /** A new environment: generation 1 created, trusted and active. */
  async function createEnvironment() {
    const publicKeyPem = publicKeyIn(await keyPair('Create', 1));
    const keyPairId = keyPairIdOf(publicKeyPem);
    expect(await trustCheck('Create', [keyPairId])).toMatchObject({ Status: 'SUCCESS' });
    expect(await signingKey('Create', 1, keyPairId)).toMatchObject({ Status: 'SUCCESS', Data: { KeyPairId: keyPairId } });
    return { publicKeyPem, keyPairId };
  }

  beforeAll(async () => {
    server = http.createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        expect([request.method, request.headers['content-type']]).toEqual(['PUT', '']);
        answers.push(JSON.parse(body));
        response.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    responseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/response`;
  });

  beforeEach(() => {
    secretsMock.reset();
    secrets = new SecretsManagerModel(secretsMock);
    secrets.create(STORE, GENERATED);
    secrets.create(SIGNING, GENERATED);
    answers = [];
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  describe('Custom::CloudFrontKeyPair', () => {
    it('creates a generation: the private key stays in the store under its label, only the public key goes to CloudFormation', async () => {
      const answer = await keyPair('Create', 1);

      const publicKeyPem = publicKeyIn(answer);
      expect(publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
      expect(JSON.stringify(answer)).not.toContain('PRIVATE KEY');
      expect(answer.PhysicalResourceId).toBe('Custom::CloudFrontKeyPair:KeyPairGen1');
      expect(signsFor(secrets.valueAt(STORE, 'generation-1')!, publicKeyPem)).toBe(true);
      expect(secrets.valueAt(STORE)).toBe(GENERATED);
      expect(secrets.valueAt(SIGNING)).toBe(GENERATED);
    });

    it('answers the same public key when a Create is retried, keeping one key per generation', async () => {
      const first = publicKeyIn(await keyPair('Create', 2));
      const retried = publicKeyIn(await keyPair('Create', 2));

      expect(retried).toBe(first);
      expect(secrets.stagesOf(STORE)).toEqual(['AWSCURRENT', 'generation-2']);
    });

    it('keeps the key on an Update, so the generation\'s public key never needs replacing', async () => {
      const created = publicKeyIn(await keyPair('Create', 1));
      const writesBefore = secretsMock.commandCalls(PutSecretValueCommand).length;

      const answer = await keyPair('Update', 1);

      expect(publicKeyIn(answer)).toBe(created);
      expect(answer.PhysicalResourceId).toBe('Custom::CloudFrontKeyPair:KeyPairGen1');
      expect(secretsMock.commandCalls(PutSecretValueCommand)).toHaveLength(writesBefore);
    });

    it('refuses to make a new key under an existing generation when its key is nowhere to be found', async () => {
      const answer = await keyPair('Update', 3);

      expect(answer).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining('Trust a new generation instead') });
      expect(secrets.stagesOf(STORE)).toEqual(['AWSCURRENT']);
    });

    it('refuses an Update that changes the generation: a new generation is a new resource with its own public key', async () => {
      await keyPair('Create', 1);

      const answer = await keyPair('Update', 2, { KeyStoreId: STORE, Generation: '1' });

      expect(answer).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining('generation 2 has no private key') });
      expect(secrets.stagesOf(STORE)).toEqual(['AWSCURRENT', 'generation-1']);
    });

    it('forgets the generation\'s key on Delete, and a second Delete (or a gone store) still succeeds', async () => {
      await keyPair('Create', 1);

      expect(await keyPair('Delete', 1)).toMatchObject({ Status: 'SUCCESS' });
      expect(secrets.valueAt(STORE, 'generation-1')).toBeUndefined();
      expect(await keyPair('Delete', 1)).toMatchObject({ Status: 'SUCCESS' });
      expect((await send('Custom::CloudFrontKeyPair', 'KeyPairGen1', 'Delete', { KeyStoreId: 'arn:gone', Generation: '1' })).Status).toBe('SUCCESS');
    });

    it('answers FAILED with the reason, never hanging the stack, when the store cannot be written, and its rollback Delete succeeds', async () => {
      secretsMock.on(PutSecretValueCommand).rejects(new Error('AccessDeniedException: not allowed'));

      expect(await keyPair('Create', 2)).toMatchObject({ Status: 'FAILED', Reason: 'AccessDeniedException: not allowed' });
      expect(await keyPair('Delete', 2)).toMatchObject({ Status: 'SUCCESS' });
    });

    it.each([
      ['a generation that is not a whole number', { KeyStoreId: STORE, Generation: 'two' }, 'ResourceProperties.Generation must be a positive whole number'],
      ['no key store', { Generation: '1' }, 'ResourceProperties.KeyStoreId is required'],
    ])('refuses a Create with %s', async (_label, properties, reason) => {
      const answer = await send('Custom::CloudFrontKeyPair', 'KeyPairGen1', 'Create', properties);
      expect(answer).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining(reason) });
    });
  });

  describe('Custom::CloudFrontSigningKey and Custom::CloudFrontTrustCheck', () => {
    it('writes the active generation\'s key pair id and private key together into the signing secret', async () => {
      const { publicKeyPem, keyPairId } = await createEnvironment();

      expect(signing()).toMatchObject({ keyPairId, generation: 1 });
      expect(signsFor(signing().privateKeyPem, publicKeyPem)).toBe(true);
    });

    it('leaves the secret alone on an Update that changes nothing', async () => {
      const { keyPairId } = await createEnvironment();
      const before = secretsMock.commandCalls(PutSecretValueCommand).length;

      expect(await signingKey('Update', 1, keyPairId)).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'Custom::CloudFrontSigningKey:SigningKey' });
      expect(secretsMock.commandCalls(PutSecretValueCommand)).toHaveLength(before);
    });

    it('refuses to sign with a generation that has no key in the store, leaving the secret as it was', async () => {
      const { keyPairId } = await createEnvironment();

      const answer = await signingKey('Update', 2, 'K0000000000002', [1, keyPairId]);

      expect(answer).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining('generation 2 has no private key in the key store') });
      expect(signing().keyPairId).toBe(keyPairId);
    });

    it('rotates in three deploys (trust, activate, retire) with a trusted key in the secret after every step', async () => {
      const one = await createEnvironment();

      // Deploy 1: trust generation 2. The signing key resource is unchanged, so CloudFormation sends it nothing.
      const twoPublicKey = publicKeyIn(await keyPair('Create', 2));
      const two = keyPairIdOf(twoPublicKey);
      expect(await trustCheck('Update', [one.keyPairId, two], [one.keyPairId])).toMatchObject({ Status: 'SUCCESS' });
      expect(signing().keyPairId).toBe(one.keyPairId);

      // Deploy 2: activate generation 2.
      expect(await signingKey('Update', 2, two, [1, one.keyPairId])).toMatchObject({ Status: 'SUCCESS' });
      expect(signing()).toMatchObject({ keyPairId: two, generation: 2 });
      expect(signsFor(signing().privateKeyPem, twoPublicKey)).toBe(true);

      // Deploy 3, after generation 1's URLs expired: retire it; cleanup deletes its key pair.
      expect(await trustCheck('Update', [two], [one.keyPairId, two])).toMatchObject({ Status: 'SUCCESS' });
      expect(await keyPair('Delete', 1)).toMatchObject({ Status: 'SUCCESS' });
      expect(secrets.stagesOf(STORE)).toEqual(['AWSCURRENT', 'generation-2']);
      expect(signing().keyPairId).toBe(two);
    });

    it('rolls back a deploy that trusted and activated a generation at once to the old key, then forgets the new one', async () => {
      const one = await createEnvironment();
      let keyGroup = [one.keyPairId];
      const signingKeyIsTrusted = () => expect(keyGroup).toContain(signing().keyPairId);

      // Forward: key pair 2, its public key, the trust check, the key group, the signing key; then something else fails.
      const two = keyPairIdOf(publicKeyIn(await keyPair('Create', 2)));
      await trustCheck('Update', [one.keyPairId, two], [one.keyPairId]);
      keyGroup = [one.keyPairId, two];
      expect(await signingKey('Update', 2, two, [1, one.keyPairId])).toMatchObject({ Status: 'SUCCESS' });
      signingKeyIsTrusted();

      // Rollback runs in reverse dependency order: the signing key first, the key group after it.
      expect(await signingKey('Update', 1, one.keyPairId, [2, two])).toMatchObject({ Status: 'SUCCESS' });
      expect(signing().keyPairId).toBe(one.keyPairId);
      signingKeyIsTrusted();
      keyGroup = [one.keyPairId];
      signingKeyIsTrusted();
      expect(await trustCheck('Update', [one.keyPairId], [one.keyPairId, two])).toMatchObject({ Status: 'SUCCESS' });
      expect(await keyPair('Delete', 2)).toMatchObject({ Status: 'SUCCESS' });

      expect(signsFor(signing().privateKeyPem, one.publicKeyPem)).toBe(true);
      expect(secrets.stagesOf(STORE)).toEqual(['AWSCURRENT', 'generation-1']);
    });

    it('rolls back a failed activation: the Update back finds the old generation\'s key still in the store', async () => {
      const one = await createEnvironment();
      const two = keyPairIdOf(publicKeyIn(await keyPair('Create', 2)));
      await signingKey('Update', 2, two, [1, one.keyPairId]);

      expect(await signingKey('Update', 1, one.keyPairId, [2, two])).toMatchObject({ Status: 'SUCCESS' });
      expect(signing()).toMatchObject({ keyPairId: one.keyPairId, generation: 1 });
    });

    it('refuses a key group that would stop trusting the key that signs now, naming its generation', async () => {
      const one = await createEnvironment();
      const two = keyPairIdOf(publicKeyIn(await keyPair('Create', 2)));

      const answer = await trustCheck('Update', [two], [one.keyPairId, two]);

      expect(answer).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining(`stop trusting ${one.keyPairId}, the key pair of generation 1 that signs now`) });
      expect(await trustCheck('Update', [one.keyPairId, two], [two])).toMatchObject({ Status: 'SUCCESS' });
    });

    it('refuses the deploy that forgot the environment\'s generations and fell back to a fresh generation 1', async () => {
      const one = await createEnvironment();
      const two = keyPairIdOf(publicKeyIn(await keyPair('Create', 2)));
      await signingKey('Update', 2, two, [1, one.keyPairId]);
      await keyPair('Delete', 1);

      const fresh = keyPairIdOf(publicKeyIn(await keyPair('Create', 1)));
      expect(await trustCheck('Update', [fresh], [two])).toMatchObject({ Status: 'FAILED' });
      expect(signing().keyPairId).toBe(two);
    });

    it('passes the trust check of a new environment, whose secret holds no key yet', async () => {
      expect(await trustCheck('Create', ['K1234567890ABC'])).toMatchObject({ Status: 'SUCCESS' });
    });

    it('succeeds on Delete without touching the signing secret, which CloudFormation deletes or retains itself', async () => {
      const { keyPairId } = await createEnvironment();
      const before = secretsMock.calls().length;

      expect(await signingKey('Delete', 1, keyPairId)).toMatchObject({ Status: 'SUCCESS' });
      expect(await trustCheck('Delete', [keyPairId])).toMatchObject({ Status: 'SUCCESS' });
      expect(secretsMock.calls()).toHaveLength(before);
      expect(signing().keyPairId).toBe(keyPairId);
    });
  });

  describe('upgrading an environment deployed with the single-secret key pair', () => {
    const legacyProperties = { SecretId: SIGNING, Generation: '1' };
    let legacyPrivateKey: string;
    let legacyPublicKey: string;

    beforeEach(() => {
      // What the single-secret resource left: the private key alone in the signing secret.
      ({ privateKeyPem: legacyPrivateKey, publicKeyPem: legacyPublicKey } = newKeyPair());
      secrets.create(SIGNING, JSON.stringify({ privateKeyPem: legacyPrivateKey }));
    });

    const upgradeKeyPair = () =>
      send('Custom::CloudFrontKeyPair', 'KeyPair', 'Update', { KeyStoreId: STORE, Generation: '1' }, legacyProperties);

    it('keeps the key pair CloudFront already trusts as generation 1 and writes it with its id for the new play functions', async () => {
      const answer = await upgradeKeyPair();
      const keyPairId = keyPairIdOf(legacyPublicKey);

      expect(publicKeyIn(answer)).toBe(legacyPublicKey);
      expect(answer.PhysicalResourceId).toBe('Custom::CloudFrontKeyPair:KeyPair');
      expect(secrets.valueAt(STORE, 'generation-1')).toBe(legacyPrivateKey);
      expect(await trustCheck('Create', [keyPairId])).toMatchObject({ Status: 'SUCCESS' });
      expect(await signingKey('Create', 1, keyPairId)).toMatchObject({ Status: 'SUCCESS' });
      // Play functions not yet redeployed read privateKeyPem and their deploy-time id: still the same pair.
      expect(signing()).toEqual({ keyPairId, generation: 1, privateKeyPem: legacyPrivateKey });
    });

    it('refuses to activate another generation in the upgrade itself, which a rollback could not undo', async () => {
      await upgradeKeyPair();
      const two = keyPairIdOf(publicKeyIn(await keyPair('Create', 2)));

      const answer = await signingKey('Create', 2, two);

      expect(answer).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining('Deploy once with the generation that signs now active') });
      expect(JSON.parse(secrets.valueAt(SIGNING)!)).toEqual({ privateKeyPem: legacyPrivateKey });
    });

    it('rolls the upgrade back to the same public key, and the old resource\'s Delete leaves everything in place', async () => {
      await upgradeKeyPair();
      await signingKey('Create', 1, keyPairIdOf(legacyPublicKey));

      const rolledBack = await send('Custom::CloudFrontKeyPair', 'KeyPair', 'Update', legacyProperties, { KeyStoreId: STORE, Generation: '1' });

      expect(publicKeyIn(rolledBack)).toBe(legacyPublicKey);
      expect(await send('Custom::CloudFrontKeyPair', 'KeyPair', 'Delete', legacyProperties)).toMatchObject({ Status: 'SUCCESS' });
      expect(signing().privateKeyPem).toBe(legacyPrivateKey);
    });
  });

  it('answers FAILED for a resource type it does not serve', async () => {
    const answer = await send('Custom::Something', 'Other', 'Create', {});
    expect(answer).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining('Custom::CloudFrontKeyPair, Custom::CloudFrontTrustCheck, Custom::CloudFrontSigningKey') });
  });
});
