import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { refreshKey as refreshKeyUnchecked } from '../../appliance-image/agent/src/keyring';
import { APPLIANCE_IDENTITY } from '../support/agent-harness';
import { leastPrivilege } from '../support/iam/least-privilege';

// Secrets Manager cannot run locally.
const secrets = mockClient(SecretsManagerClient);
const iam = leastPrivilege({ secrets: { 'nearstream/prod/url-signing-key': 'nearstream/dev/url-signing-key' }, mocks: [secrets] });
const refreshKey = iam.actingAs(APPLIANCE_IDENTITY, refreshKeyUnchecked);

describe('key ring refresh on the node', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-keyring-'));
  const keyringFile = path.join(dir, 'keyring.json');
  const config = { keyringSecretId: 'nearstream/prod/url-signing-key', keyringFile };

  beforeEach(() => secrets.reset());
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes the control plane\'s key ring where nginx reads it, readable by owner and group only', async () => {
    const secret = JSON.stringify({ activeKeyId: 'k2', k1: 'a'.repeat(40), k2: 'b'.repeat(40) });
    secrets.on(GetSecretValueCommand, { SecretId: 'nearstream/prod/url-signing-key' }).resolves({ SecretString: secret });

    const keyring = await refreshKey(config, new SecretsManagerClient({ region: 'us-east-1' }));

    expect(keyring.activeKeyId).toBe('k2');
    expect(fs.readFileSync(keyringFile, 'utf8')).toBe(secret);
    expect(fs.statSync(keyringFile).mode & 0o777).toBe(0o640);
  });

  it('keeps the current key ring when the secret is malformed', async () => {
    const before = fs.readFileSync(keyringFile, 'utf8');
    secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ activeKeyId: 'k9', k1: 'a'.repeat(40) }) });

    await expect(refreshKey(config, new SecretsManagerClient({ region: 'us-east-1' }))).rejects.toThrow("activeKeyId 'k9' must name one of its keys");
    expect(fs.readFileSync(keyringFile, 'utf8')).toBe(before);
  });

  it('says what is missing when no secret is configured', async () => {
    await expect(refreshKey({ keyringFile }, new SecretsManagerClient({ region: 'us-east-1' }))).rejects.toThrow('keyringSecretId is not set');
  });
});
