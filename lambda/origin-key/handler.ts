import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { logger } from '../shared/powertools';
import { newKeyPair, publicKeyOf } from './key-pair';

/**
 * `Custom::CloudFrontKeyPair`: creates the origin tier's signing key pair. The private key goes
 * straight into the signing secret (which replicates it to the secondary region); only the public
 * key comes back to CloudFormation, for the distribution's key group. Changing the `Generation`
 * property rotates the pair; any other update keeps it.
 */
export interface OriginKeyDependencies {
  readonly secrets: SecretsManagerClient;
  /** Sends the custom resource's answer to CloudFormation's pre-signed response URL. */
  readonly respond: (url: string, body: string) => Promise<void>;
}

export function createOriginKeyHandler(deps: OriginKeyDependencies) {
  async function publicKeyFor(event: CloudFormationCustomResourceEvent): Promise<string | undefined> {
    const secretId = String(event.ResourceProperties.SecretId ?? '');
    if (!secretId) {
      throw new Error('ResourceProperties.SecretId is required: the secret that keeps the private key');
    }
    const rotate =
      event.RequestType === 'Create' ||
      (event.RequestType === 'Update' && event.OldResourceProperties.Generation !== event.ResourceProperties.Generation);
    if (event.RequestType === 'Delete') {
      return undefined;
    }
    if (rotate) {
      const pair = newKeyPair();
      await deps.secrets.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify({ privateKeyPem: pair.privateKeyPem }) }));
      return pair.publicKeyPem;
    }
    const { SecretString } = await deps.secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
    return publicKeyOf(JSON.parse(SecretString ?? '{}').privateKeyPem);
  }

  return async (event: CloudFormationCustomResourceEvent): Promise<void> => {
    let answer: { Status: 'SUCCESS' | 'FAILED'; Reason?: string; Data?: Record<string, string> };
    try {
      const publicKeyPem = await publicKeyFor(event);
      answer = { Status: 'SUCCESS', Data: publicKeyPem ? { PublicKeyPem: publicKeyPem } : undefined };
    } catch (error) {
      logger.error('origin key request failed', { error: error as Error, requestType: event.RequestType });
      answer = { Status: 'FAILED', Reason: (error as Error).message };
    }
    await deps.respond(
      event.ResponseURL,
      JSON.stringify({
        ...answer,
        PhysicalResourceId: `cloudfront-key-pair:${String(event.ResourceProperties.SecretId)}`,
        StackId: event.StackId,
        RequestId: event.RequestId,
        LogicalResourceId: event.LogicalResourceId,
      }),
    );
  };
}

/** PUT to the pre-signed URL with no content type, as CloudFormation's response URLs require. */
async function respondToCloudFormation(url: string, body: string): Promise<void> {
  const response = await fetch(url, { method: 'PUT', body, headers: { 'content-type': '' } });
  if (!response.ok) {
    throw new Error(`CloudFormation response URL answered ${response.status}`);
  }
}

let fromEnvironment: ReturnType<typeof createOriginKeyHandler> | undefined;

export const handler = (event: CloudFormationCustomResourceEvent) => {
  fromEnvironment ??= createOriginKeyHandler({ secrets: new SecretsManagerClient({}), respond: respondToCloudFormation });
  return fromEnvironment(event);
};
