import * as fs from 'node:fs';
import * as path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { freePort } from '../ports';
import { LeastPrivilegeCheck } from './least-privilege';

// Secrets Manager cannot run locally.
const secretsMock = mockClient(SecretsManagerClient);
const URL_SIGNING_SECRET = 'nearstream/dev/url-signing-key';
const REPO_ROOT = path.join(__dirname, '..', '..', '..');
/** Everything that is bundled, deployed or run outside the tests. */
const SHIPPED = ['lambda', 'appliance-image', 'lib', 'bin', 'local', 'simulator'];

function filesUnder(relative: string): string[] {
  const full = path.join(REPO_ROOT, relative);
  if (!fs.statSync(full).isDirectory()) {
    return [relative];
  }
  return fs.readdirSync(full).filter((entry) => entry !== 'node_modules').flatMap((entry) => filesUnder(path.join(relative, entry)));
}

describe('the least-privilege check', () => {
  let unreachable: DynamoDBDocumentClient;

  beforeAll(async () => {
    // Nothing listens there: the calls fail, and are still what the role asked to do.
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    unreachable = DynamoDBDocumentClient.from(
      new DynamoDBClient({ region: 'us-east-1', endpoint, maxAttempts: 1, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
    );
  });

  beforeEach(() => {
    secretsMock.reset();
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: '{}' });
  });

  const readSigningKey = (client: SecretsManagerClient) => client.send(new GetSecretValueCommand({ SecretId: URL_SIGNING_SECRET }));
  const putItem = (pk: string) => unreachable.send(new PutCommand({ TableName: 'local-control', Item: { pk, sk: 'x' } })).catch(() => undefined);

  it('denies a call the role was not granted, naming the call, the action, the resource and the role to change', async () => {
    const check = new LeastPrivilegeCheck({ mocks: [secretsMock] });

    await check.actingAs('catalog', readSigningKey)(new SecretsManagerClient({ region: 'us-east-1' }));

    const denials = await check.denials();
    expect(denials).toHaveLength(1);
    expect(denials[0]).toMatchObject({
      role: 'catalog@us-east-1',
      verdict: 'ImplicitlyDenied',
      request: { action: 'secretsmanager:GetSecretValue', resource: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${URL_SIGNING_SECRET}-AbCdEf` },
    });
    expect(denials[0].message).toContain('grant it to Nearstream-dev/ControlPlane-us-east-1/Playback/CatalogFunction/Role');
    await expect(check.denials()).resolves.toEqual([]);
  });

  it('allows the same call to the role it is granted to, in either region', async () => {
    const check = new LeastPrivilegeCheck({ mocks: [secretsMock] });

    await check.actingAs('play', readSigningKey)(new SecretsManagerClient({ region: 'us-east-1' }));
    await check.actingAs('play', readSigningKey)(new SecretsManagerClient({ region: 'us-west-2' }));

    await expect(check.denials()).resolves.toEqual([]);
  });

  it('records each DocumentClient call once, as the DynamoDB operation, and none of the test\'s own calls', async () => {
    const check = new LeastPrivilegeCheck({ controlTables: ['local-control'] });

    await putItem('account#alice');
    await check.actingAs('home', putItem)('account#alice');

    const denials = await check.denials();
    expect(denials.map((denial) => [denial.role, denial.call.operation, denial.request?.action, denial.request?.context])).toEqual([
      ['home@us-east-1', 'Put', 'dynamodb:PutItem', { 'dynamodb:LeadingKeys': ['account#alice'] }],
    ]);
  });

  it('evaluates conditions: the planner may write manifest pointers and no other item', async () => {
    const check = new LeastPrivilegeCheck({ controlTables: ['local-control'] });

    await check.actingAs('fill-planning', putItem)('cluster#isp-a');
    await check.actingAs('fill-planning', putItem)('title#t1');

    const denials = await check.denials();
    expect(denials.map((denial) => denial.request?.context)).toEqual([{ 'dynamodb:LeadingKeys': ['title#t1'] }]);
  });

  it('keeps iam-simulate (AGPL-3.0) a test-only dependency that nothing shipped imports', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(Object.keys(manifest.dependencies).filter((name) => name.startsWith('@cloud-copilot/'))).toEqual([]);
    expect(manifest.devDependencies).toHaveProperty(['@cloud-copilot/iam-simulate']);

    const importers = SHIPPED.flatMap(filesUnder).filter((file) => /@cloud-copilot\/|support\/iam\//.test(fs.readFileSync(path.join(REPO_ROOT, file), 'utf8')));
    expect(importers).toEqual([]);
  });

  it('fails a call it cannot map or place rather than passing it', async () => {
    const check = new LeastPrivilegeCheck({ mocks: [secretsMock] });
    check.observe('fleet', { take: () => [{ service: 'ec2', operation: 'RunInstances', input: {}, region: 'us-east-1' }] });

    await check.actingAs('encoding-ingest', readSigningKey)(new SecretsManagerClient({ region: 'us-west-2' }));

    const messages = (await check.denials()).map((denial) => denial.message);
    expect(messages).toEqual([
      expect.stringContaining('encoding-ingest made secretsmanager GetSecretValue'),
      expect.stringContaining('no IAM mapping for ec2 RunInstances'),
    ]);
    expect(messages[0]).toContain('has a role only in: encoding-ingest@us-east-1');
  });
});
