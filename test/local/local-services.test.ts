import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GetSecretValueCommand, ListSecretsCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { acquireInstanceLock, AlreadyRunningError } from '../../local/platform/instance-lock';
import { LocalSecretsManager } from '../../local/services/secrets-server';

describe('the Secrets Manager stand-in', () => {
  let secrets: LocalSecretsManager;
  let client: SecretsManagerClient;

  beforeAll(async () => {
    secrets = await LocalSecretsManager.start(new Map([['nearstream/local/url-signing-key', '{"activeKeyId":"k1"}']]));
    client = new SecretsManagerClient({ endpoint: secrets.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
  });

  afterAll(async () => {
    client.destroy();
    await secrets.stop();
  });

  it('answers the SDK\'s GetSecretValue with the secret\'s current value', async () => {
    const answer = await client.send(new GetSecretValueCommand({ SecretId: 'nearstream/local/url-signing-key' }));

    expect(answer).toMatchObject({ Name: 'nearstream/local/url-signing-key', SecretString: '{"activeKeyId":"k1"}', VersionStages: ['AWSCURRENT'] });
  });

  it('answers an unknown secret or stage with the SDK\'s ResourceNotFoundException, and other operations by name', async () => {
    await expect(client.send(new GetSecretValueCommand({ SecretId: 'nearstream/local/nothing' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(client.send(new GetSecretValueCommand({ SecretId: 'nearstream/local/url-signing-key', VersionStage: 'AWSPREVIOUS' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(client.send(new ListSecretsCommand({}))).rejects.toThrow('the local Secrets Manager answers GetSecretValue only, not secretsmanager.ListSecrets');
  });

  it('answers a body that is JSON but not an object with a SerializationException, and keeps serving', async () => {
    for (const body of ['null', '[]', '7']) {
      const response = await fetch(secrets.endpoint, { method: 'POST', headers: { 'x-amz-target': 'secretsmanager.GetSecretValue' }, body });
      expect([body, response.status, ((await response.json()) as { __type: string }).__type]).toEqual([body, 400, 'SerializationException']);
    }
    expect((await client.send(new GetSecretValueCommand({ SecretId: 'nearstream/local/url-signing-key' }))).SecretString).toBe('{"activeKeyId":"k1"}');
  });
});

describe('the local platform\'s instance lock', () => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-lock-'));
  const file = path.join(directory, 'platform.lock');

  afterAll(() => fs.rmSync(directory, { recursive: true, force: true }));

  it('refuses a second holder while the first process lives, with what the first says of itself', async () => {
    const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      fs.writeFileSync(file, String(holder.pid));

      expect(() => acquireInstanceLock(file, (pid) => `held by ${pid}`)).toThrow(new AlreadyRunningError(`held by ${holder.pid}`));
      expect(fs.readFileSync(file, 'utf8')).toBe(String(holder.pid));
    } finally {
      holder.kill();
      await new Promise((resolve) => holder.once('exit', resolve));
    }
  });

  it('takes over a lock whose process is gone, and releases only its own', async () => {
    const gone = spawn('true');
    await new Promise((resolve) => gone.once('exit', resolve));
    fs.writeFileSync(file, String(gone.pid));

    const release = acquireInstanceLock(file, () => 'unused');
    expect(fs.readFileSync(file, 'utf8')).toBe(String(process.pid));
    release();
    expect(fs.existsSync(file)).toBe(false);
  });
});
