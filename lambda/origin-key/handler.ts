import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { lambdaEntry } from '../shared/lambda-entry';
import { logger } from '../shared/powertools';
import { keyPairRequest, ResourceData, signingKeyRequest, trustCheckRequest } from './key-resources';
import { OriginKeySecrets } from './origin-key-secrets';

export interface OriginKeyDependencies {
  readonly secrets: SecretsManagerClient;
  /** Sends the custom resource's answer to CloudFormation's pre-signed response URL. */
  readonly respond: (url: string, body: string) => Promise<void>;
}

const RESOURCES: Readonly<Record<string, (secrets: OriginKeySecrets, event: CloudFormationCustomResourceEvent) => Promise<ResourceData>>> = {
  'Custom::CloudFrontKeyPair': keyPairRequest,
  'Custom::CloudFrontTrustCheck': trustCheckRequest,
  'Custom::CloudFrontSigningKey': signingKeyRequest,
};

/**
 * The origin tier's signing-key resources: one function for the three custom resource types that
 * rotate the CloudFront key pair without breaking signed URLs (a key pair per generation, the check
 * that keeps the signing key trusted, and the signing secret's active key). Every failure is
 * answered FAILED with its reason, so a stack never waits out CloudFormation's hour-long timeout.
 */
export function createOriginKeyHandler(deps: OriginKeyDependencies) {
  const secrets = new OriginKeySecrets(deps.secrets);

  return async (event: CloudFormationCustomResourceEvent): Promise<void> => {
    let answer: { Status: 'SUCCESS' | 'FAILED'; Reason?: string; Data?: Record<string, string> };
    try {
      const request = RESOURCES[event.ResourceType];
      if (!request) {
        throw new Error(`ResourceType ${event.ResourceType} is not served here; expected one of ${Object.keys(RESOURCES).join(', ')}`);
      }
      answer = { Status: 'SUCCESS', Data: await request(secrets, event) };
    } catch (error) {
      logger.error('origin key request failed', { error: error as Error, requestType: event.RequestType, resourceType: event.ResourceType });
      answer = { Status: 'FAILED', Reason: (error as Error).message };
    }
    await deps.respond(
      event.ResponseURL,
      JSON.stringify({
        ...answer,
        // Updates keep the physical id, so CloudFormation never deletes a key pair it is replacing.
        PhysicalResourceId: event.RequestType === 'Create' ? `${event.ResourceType}:${event.LogicalResourceId}` : event.PhysicalResourceId,
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

// More attempts than the default three (still with backoff and jitter, well inside the minute the
// function has): a throttled write during a rollback would leave the stack UPDATE_ROLLBACK_FAILED.
export const handler = lambdaEntry(() => createOriginKeyHandler({ secrets: new SecretsManagerClient({ maxAttempts: 6 }), respond: respondToCloudFormation }));
