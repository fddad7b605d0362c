import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';

/** Who the credentials belong to, as STS GetCallerIdentity reports it. */
export interface CallerIdentity {
  readonly account: string;
  /** `arn:aws:iam::123456789012:user/alice`, `arn:aws:sts::123456789012:assumed-role/Deployer/alice`. */
  readonly arn: string;
  readonly userId: string;
}

export type CredentialCheck =
  | { readonly ok: true; readonly identity: CallerIdentity }
  | { readonly ok: false; readonly reason: string };

/** Long enough for an SSO or credential_process provider, short enough that nobody waits on a dead metadata service. */
export const DEFAULT_CREDENTIAL_TIMEOUT_MS = 5_000;

/**
 * Looks for AWS credentials on the SDK's default provider chain (environment, SSO, web identity,
 * shared files, credential_process, container and instance metadata) and proves they work with STS
 * GetCallerIdentity. Never throws and never waits longer than `timeoutMs`: a laptop or sandbox
 * without credentials would otherwise wait on the EC2 metadata service, which does not answer there.
 */
export async function findCredentials(timeoutMs: number = DEFAULT_CREDENTIAL_TIMEOUT_MS): Promise<CredentialCheck> {
  const deadline = AbortSignal.timeout(timeoutMs);
  const stepTimeoutMs = Math.max(200, Math.floor(timeoutMs / 2));
  const progress = { found: false };
  const timedOut = new Promise<CredentialCheck>((resolve) =>
    deadline.addEventListener(
      'abort',
      () =>
        resolve({
          ok: false,
          reason: progress.found
            ? `AWS credentials were found but STS GetCallerIdentity did not answer within ${timeoutMs} ms`
            : `no AWS credentials found within ${timeoutMs} ms`,
        }),
      { once: true },
    ),
  );
  return Promise.race([timedOut, check(stepTimeoutMs, deadline, progress)]);
}

async function check(stepTimeoutMs: number, deadline: AbortSignal, progress: { found: boolean }): Promise<CredentialCheck> {
  // The metadata providers retry by default; one short attempt is enough to tell "no instance role".
  const provider = defaultProvider({ timeout: Math.min(1_000, stepTimeoutMs), maxRetries: 0 });
  try {
    await provider();
  } catch (error) {
    return { ok: false, reason: 'no AWS credentials' + detailOf(error) };
  }
  progress.found = true;
  const sts = new STSClient({
    region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    credentials: provider,
    maxAttempts: 2,
    requestHandler: { connectionTimeout: stepTimeoutMs, requestTimeout: stepTimeoutMs, throwOnRequestTimeout: true },
  });
  try {
    const identity = await sts.send(new GetCallerIdentityCommand({}), { abortSignal: deadline });
    if (!identity.Account || !identity.Arn || !identity.UserId) {
      return { ok: false, reason: 'STS GetCallerIdentity answered without an account or ARN' };
    }
    return { ok: true, identity: { account: identity.Account, arn: identity.Arn, userId: identity.UserId } };
  } catch (error) {
    return { ok: false, reason: 'AWS credentials were found but STS GetCallerIdentity failed with them' + detailOf(error) };
  } finally {
    sts.destroy();
  }
}

function detailOf(error: unknown): string {
  const message = error instanceof Error ? error.message.split('\n')[0].trim() : '';
  // The chain's own "Could not load credentials from any providers" adds nothing to "no AWS credentials".
  return message && !/could not load credentials from any providers/i.test(message) ? ` (${message})` : '';
}

/**
 * The one line a command prints when it cannot reach AWS: what failed and everything the user needs
 * to fix it, including the bootstrap the CDK deploys need in each region.
 *
 * @param command what the user ran, e.g. `npm run env -- create pr-7`
 * @param regions the regions the command works in, primary first
 * @param account the account, when known; `<account>` otherwise
 * @param reason what `findCredentials` said; @default 'no AWS credentials'
 */
export function noCredentialsLine(command: string, regions: readonly string[], account?: string, reason = 'no AWS credentials'): string {
  const target = account ?? '<account>';
  const bootstrap = regions.map((region) => `aws://${target}/${region}`).join(' ');
  return (
    `${command}: ${reason} (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY); ` +
    `the account must be bootstrapped in ${regions.join(' and ')} (npx cdk bootstrap ${bootstrap})`
  );
}
