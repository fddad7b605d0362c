import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { findCredentials } from '../aws/credentials';

/** Everything the smoke test asks of AWS, so a test can put the local platform (or mocks) behind it. */
export interface SmokeAws {
  /** Resolves once credentials are known to work; throws `NoCredentialsError` otherwise. */
  requireCredentials(): Promise<void>;
  cloudFormation(region: string): Pick<CloudFormationClient, 'send'>;
  cognito(region: string): Pick<CognitoIdentityProviderClient, 'send'>;
  documents(region: string): DynamoDBDocumentClient;
  s3(region: string): Pick<S3Client, 'send'>;
  /** Closes the clients made. */
  destroy(): void;
}

/** The run needs AWS and there are no working credentials: exit 3 with this one line. */
export class NoCredentialsError extends Error {}

/** Retries of throttling and 5xx with the SDK's own backoff; short timeouts so a dead network fails the step, not the build's hour. */
const CLIENT_SETTINGS = { maxAttempts: 4, requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000 } } as const;

/** The SDK's default credential chain, checked once (STS GetCallerIdentity) before the run starts. */
export function defaultSmokeAws(log: (line: string) => void): SmokeAws {
  const clients = new Map<string, { destroy(): void }>();
  const cached = <T extends { destroy(): void }>(key: string, make: () => T): T => {
    if (!clients.has(key)) {
      clients.set(key, make());
    }
    return clients.get(key) as T;
  };
  let checked: Promise<void> | undefined;
  return {
    requireCredentials() {
      checked ??= findCredentials().then((found) => {
        if (!found.ok) {
          throw new NoCredentialsError(`npm run smoke: ${found.reason} (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, for the environment's account)`);
        }
        log(`AWS credentials: ${found.identity.arn}`);
      });
      return checked;
    },
    cloudFormation: (region) => cached(`cloudformation/${region}`, () => new CloudFormationClient({ region, ...CLIENT_SETTINGS })),
    cognito: (region) => cached(`cognito/${region}`, () => new CognitoIdentityProviderClient({ region, ...CLIENT_SETTINGS })),
    documents: (region) =>
      cached(`dynamodb/${region}`, () => DynamoDBDocumentClient.from(new DynamoDBClient({ region, ...CLIENT_SETTINGS }), { marshallOptions: { removeUndefinedValues: true } })),
    s3: (region) => cached(`s3/${region}`, () => new S3Client({ region, ...CLIENT_SETTINGS })),
    destroy() {
      for (const client of clients.values()) {
        client.destroy();
      }
      clients.clear();
    },
  };
}
