import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Keyring, parseKeyring } from '../../../lambda/shared/url-token';
import { AgentConfig } from './config';
import { log } from './log';
import { writeFileAtomically } from './store';

/** A Secrets Manager client, loaded only by the commands that need one: `fill` starts faster without it. */
export async function secretsClient(region: string): Promise<SecretsManagerClient> {
  const { SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
  return new SecretsManagerClient({ region });
}

/**
 * Fetches the control plane's signing key ring into the file nginx checks tokens with. The secret
 * is validated first: a malformed one leaves the key ring in place and fails loudly.
 */
export async function refreshKey(config: Pick<AgentConfig, 'keyringSecretId' | 'keyringFile'>, client: SecretsManagerClient): Promise<Keyring> {
  if (!config.keyringSecretId) {
    throw new Error('keyringSecretId is not set in the agent config');
  }
  const { GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
  const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: config.keyringSecretId }));
  const keyring = parseKeyring(SecretString ?? '');
  writeFileAtomically(config.keyringFile, SecretString!, 0o640);
  log('info', 'key ring refreshed', { activeKeyId: keyring.activeKeyId, keys: [...keyring.keys.keys()] });
  return keyring;
}
