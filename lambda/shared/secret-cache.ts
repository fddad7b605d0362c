import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * Secret values kept in memory for a few minutes: rotation reaches every function within
 * `maxAgeMs`, and a play does not pay a Secrets Manager round trip.
 */
export class SecretCache {
  private readonly entries = new Map<string, { value: string; fetchedAtMs: number }>();
  private readonly fetching = new Map<string, Promise<string>>();

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
    // Every call that finds the value expired shares one read, instead of each paying for its own.
    let fetching = this.fetching.get(secretId);
    if (!fetching) {
      fetching = this.fetch(secretId).finally(() => this.fetching.delete(secretId));
      this.fetching.set(secretId, fetching);
    }
    return fetching;
  }

  private async fetch(secretId: string): Promise<string> {
    const { SecretString } = await this.client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (SecretString === undefined) {
      throw new Error(`secret ${secretId} has no string value`);
    }
    this.entries.set(secretId, { value: SecretString, fetchedAtMs: this.nowMs() });
    return SecretString;
  }
}
