import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { SecretCache } from '../../../lambda/shared/secret-cache';

describe('SecretCache', () => {
  const secrets = mockClient(SecretsManagerClient);

  beforeEach(() => secrets.reset());

  it('serves a value from memory until it is older than its age, then reads it again', async () => {
    let now = 0;
    secrets.on(GetSecretValueCommand).resolvesOnce({ SecretString: 'one' }).resolvesOnce({ SecretString: 'two' });
    const cache = new SecretCache(new SecretsManagerClient({}), 1_000, () => now);

    expect(await cache.get('key')).toBe('one');
    now = 999;
    expect(await cache.get('key')).toBe('one');
    now = 1_000;
    expect(await cache.get('key')).toBe('two');
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('shares one read among the calls that find the value missing at the same time', async () => {
    secrets.on(GetSecretValueCommand).callsFake(() => new Promise((resolve) => setTimeout(() => resolve({ SecretString: 'shared' }), 20)));
    const cache = new SecretCache(new SecretsManagerClient({}));

    const values = await Promise.all(Array.from({ length: 50 }, () => cache.get('key')));

    expect(new Set(values)).toEqual(new Set(['shared']));
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('lets the next call read again after a failed read, and keeps no value from it', async () => {
    secrets.on(GetSecretValueCommand).rejectsOnce(new Error('throttled')).resolves({ SecretString: 'later' });
    const cache = new SecretCache(new SecretsManagerClient({}));

    await expect(cache.get('key')).rejects.toThrow('throttled');
    expect(await cache.get('key')).toBe('later');
  });
});
