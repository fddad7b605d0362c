import { randomUUID } from 'node:crypto';
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { AwsClientStub } from 'aws-sdk-client-mock';

interface Version {
  readonly id: string;
  readonly value: string;
  readonly stages: Set<string>;
}

/**
 * Secrets Manager's version and staging-label rules, behind an `aws-sdk-client-mock` stub, for
 * tests that follow a secret through several deploys: GetSecretValue by stage (AWSCURRENT unless
 * named, ResourceNotFoundException for a missing secret or label), PutSecretValue moving the named
 * stages (AWSCURRENT unless named, the old current becoming AWSPREVIOUS), and
 * UpdateSecretVersionStage removing a label from the version that holds it.
 */
export class SecretsManagerModel {
  private readonly secrets = new Map<string, Version[]>();

  constructor(mock: AwsClientStub<SecretsManagerClient>) {
    mock.on(GetSecretValueCommand).callsFake((input) => this.get(input.SecretId, input.VersionStage ?? 'AWSCURRENT'));
    mock.on(PutSecretValueCommand).callsFake((input) => this.put(input.SecretId, input.SecretString, input.VersionStages ?? ['AWSCURRENT']));
    mock.on(UpdateSecretVersionStageCommand).callsFake((input) => this.removeStage(input.SecretId, input.VersionStage, input.RemoveFromVersionId));
  }

  /** Creates a secret as CloudFormation does, with one current value. */
  create(secretId: string, value: string): void {
    this.secrets.set(secretId, [{ id: randomUUID(), value, stages: new Set(['AWSCURRENT']) }]);
  }

  /** The value under a stage, or undefined: what a reader with that stage would see. */
  valueAt(secretId: string, stage = 'AWSCURRENT'): string | undefined {
    return this.secrets.get(secretId)?.find((version) => version.stages.has(stage))?.value;
  }

  /** Every stage label the secret's versions carry. */
  stagesOf(secretId: string): string[] {
    return (this.secrets.get(secretId) ?? []).flatMap((version) => [...version.stages]).sort();
  }

  private versions(secretId: string): Version[] {
    const versions = this.secrets.get(secretId);
    if (!versions) {
      throw new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: {} });
    }
    return versions;
  }

  private get(secretId: string, stage: string) {
    const version = this.versions(secretId).find((candidate) => candidate.stages.has(stage));
    if (!version) {
      throw new ResourceNotFoundException({ message: `Secrets Manager can't find the specified secret value for staging label: ${stage}`, $metadata: {} });
    }
    return { ARN: secretId, SecretString: version.value, VersionId: version.id, VersionStages: [...version.stages] };
  }

  private put(secretId: string, value: string, stages: string[]) {
    const versions = this.versions(secretId);
    for (const version of versions) {
      if (stages.includes('AWSCURRENT')) {
        version.stages.delete('AWSPREVIOUS');
        if (version.stages.delete('AWSCURRENT')) {
          version.stages.add('AWSPREVIOUS');
        }
      }
      for (const stage of stages) {
        if (stage !== 'AWSCURRENT') {
          version.stages.delete(stage);
        }
      }
    }
    const id = randomUUID();
    versions.push({ id, value, stages: new Set(stages) });
    return { ARN: secretId, VersionId: id, VersionStages: stages };
  }

  private removeStage(secretId: string, stage: string, fromVersionId: string | undefined) {
    const version = this.versions(secretId).find((candidate) => candidate.id === fromVersionId);
    if (!version?.stages.has(stage)) {
      throw Object.assign(new Error(`The staging label ${stage} is not attached to version ${fromVersionId}`), { name: 'InvalidParameterException' });
    }
    version.stages.delete(stage);
    return { ARN: secretId, Name: secretId };
  }
}
