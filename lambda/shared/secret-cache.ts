import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * Secret values kept in memory for a few minutes: rotation reaches every function within
 * `maxAgeMs`, and a play does not pay a Secrets Manager round trip.
 */
export class SecretCache {
  private readonly entries = new Map<string, { value: string; fetchedAtMs: number }>();

  constructor(
    private readonly client: SecretsManagerClient,
    private readonly maxAgeMs = 5 * 60_000,
    private readonly nowMs: () => number = Date.now,
  ) {}

  async get(secretId: string): Promise<string> {
    const cached = this.entries.get(secretId);
    if (cached && this.nowMs() - cached.fetchedAtMs < this.maxAgeMs) {
      return cached.value;
    }
    const { SecretString } = await this.client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (SecretString === undefined) {
      throw new Error(`secret ${secretId} has no string value`);
    }
    this.entries.set(secretId, { value: SecretString, fetchedAtMs: this.nowMs() });
    return SecretString;
  }
}
