import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';

/** The staging label of the key-store version that holds one generation's private key. */
export function generationLabel(generation: number): string {
  return `generation-${generation}`;
}

/**
 * Secrets Manager as the origin key resources use it: the key store keeps each generation's
 * private key in its own version under a `generation-<n>` staging label (never AWSCURRENT), so
 * CloudFormation can create and retire generations in parallel without a read-modify-write of
 * one shared document; the signing secret's current value is what the play functions read.
 */
export class OriginKeySecrets {
  constructor(private readonly client: SecretsManagerClient) {}

  /** The generation's private key, or undefined when the store does not hold it. */
  async generationKey(keyStoreId: string, generation: number): Promise<string | undefined> {
    return (await this.version(keyStoreId, generationLabel(generation)))?.value;
  }

  /** Keeps a private key as the generation's, in a new version that takes the generation's label. */
  async keepGenerationKey(keyStoreId: string, generation: number, privateKeyPem: string): Promise<void> {
    await this.client.send(
      new PutSecretValueCommand({ SecretId: keyStoreId, SecretString: privateKeyPem, VersionStages: [generationLabel(generation)] }),
    );
  }

  /** Takes the generation's label off its version; Secrets Manager later drops unlabelled versions. */
  async forgetGenerationKey(keyStoreId: string, generation: number): Promise<void> {
    const label = generationLabel(generation);
    const version = await this.version(keyStoreId, label);
    if (version) {
      await this.client.send(
        new UpdateSecretVersionStageCommand({ SecretId: keyStoreId, VersionStage: label, RemoveFromVersionId: version.versionId }),
      );
    }
  }

  /** The secret's current value, or undefined when it has none (or the secret is gone). */
  async current(secretId: string): Promise<string | undefined> {
    return (await this.version(secretId, 'AWSCURRENT'))?.value;
  }

  async replaceCurrent(secretId: string, value: string): Promise<void> {
    await this.client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: value }));
  }

  private async version(secretId: string, stage: string): Promise<{ value: string; versionId: string } | undefined> {
    try {
      const { SecretString, VersionId } = await this.client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }));
      return SecretString === undefined || VersionId === undefined ? undefined : { value: SecretString, versionId: VersionId };
    } catch (error) {
      // Secrets Manager answers ResourceNotFoundException both for a missing secret and a missing label.
      if ((error as Error).name === 'ResourceNotFoundException') {
        return undefined;
      }
      throw error;
    }
  }
}
