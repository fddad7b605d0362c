import { randomInt } from 'node:crypto';
import {
  AdminCreateUserCommand,
  AdminGetUserCommand,
  AdminInitiateAuthCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
  UsernameExistsException,
  UserNotFoundException,
} from '@aws-sdk/client-cognito-identity-provider';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { PlanName } from '../../lambda/playback/entitlements';
import { ViewerStore } from '../../lambda/playback/viewer-store';

/** The Cognito and DynamoDB clients the test viewer needs, in the environment's primary region. */
export interface TestViewerClients {
  readonly cognito: Pick<CognitoIdentityProviderClient, 'send'>;
  readonly documents: DynamoDBDocumentClient;
}

export interface TestViewerSettings {
  /** The environment's name: part of the test viewer's address. */
  readonly env: string;
  readonly userPoolId: string;
  /** The player app client, which allows ADMIN_USER_PASSWORD_AUTH. */
  readonly playerClientId: string;
  readonly controlTableName: string;
  /** @default 'premium' */
  readonly plan?: PlanName;
}

/** A signed-in test viewer. */
export interface TestViewer {
  readonly email: string;
  /** The token's subject: the account id the API and the control table know the viewer by. */
  readonly sub: string;
  readonly accessToken: string;
  /** Whether this run created the user (else it existed from an earlier run). */
  readonly created: boolean;
  readonly plan: PlanName;
}

/** The pool's policy (lib/constructs/viewer-identity.ts): 12 or more, upper, lower, digit, symbol. */
export const PASSWORD_POLICY = { minLength: 12, classes: [/[A-Z]/, /[a-z]/, /[0-9]/, /[^A-Za-z0-9]/] } as const;

const PASSWORD_ALPHABETS = ['ABCDEFGHJKLMNPQRSTUVWXYZ', 'abcdefghijkmnopqrstuvwxyz', '23456789', '!#%*+-.:=?@^_~'];
const PASSWORD_LENGTH = 32;

/** `smoke-test@<env>.nearstream.invalid`: `.invalid` never resolves, so no mail can go anywhere. */
export function testViewerEmail(env: string): string {
  return `smoke-test@${env}.nearstream.invalid`;
}

export function meetsPasswordPolicy(password: string): boolean {
  return password.length >= PASSWORD_POLICY.minLength && PASSWORD_POLICY.classes.every((pattern) => pattern.test(password));
}

/** A fresh password with every character class of the policy, from a cryptographic source. */
export function randomPassword(): string {
  const characters = PASSWORD_ALPHABETS.map((alphabet) => alphabet[randomInt(alphabet.length)]);
  const all = PASSWORD_ALPHABETS.join('');
  while (characters.length < PASSWORD_LENGTH) {
    characters.push(all[randomInt(all.length)]);
  }
  for (let i = characters.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [characters[i], characters[j]] = [characters[j], characters[i]];
  }
  return characters.join('');
}

/** The `sub` claim of a JWT, read without verifying it (the API verifies it); throws naming what is wrong. */
export function subjectOf(token: string, what = 'the token'): string {
  const payload = token.split('.')[1];
  let claims: { sub?: unknown };
  try {
    claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8'));
  } catch {
    throw new Error(`${what} is not a JWT (header.payload.signature with a JSON payload)`);
  }
  if (typeof claims?.sub !== 'string' || claims.sub === '') {
    throw new Error(`${what} has no 'sub' claim: the API knows viewers by it`);
  }
  return claims.sub;
}

/** Makes sure the account has a plan, written as the local platform writes its dev viewer's. */
export async function ensurePlan(documents: DynamoDBDocumentClient, controlTableName: string, sub: string, plan: PlanName = 'premium'): Promise<void> {
  await new ViewerStore(documents, controlTableName).putPlan(sub, plan);
}

/**
 * The smoke test's own viewer in the environment's Cognito pool, signed in: created once (no
 * invitation mail, address verified), given a fresh random password on every run (nobody needs to
 * know it, and none lingers in a log or a parameter), signed in through the player client, and
 * given a plan so `/play` grants it.
 */
export async function ensureTestViewer(clients: TestViewerClients, settings: TestViewerSettings): Promise<TestViewer> {
  const { cognito } = clients;
  const email = testViewerEmail(settings.env);
  const pool = { UserPoolId: settings.userPoolId };
  const created = !(await userExists(cognito, settings.userPoolId, email)) && (await createUser(cognito, settings.userPoolId, email));
  const password = randomPassword();
  await cognito.send(new AdminSetUserPasswordCommand({ ...pool, Username: email, Password: password, Permanent: true }));
  const auth = await cognito.send(
    new AdminInitiateAuthCommand({
      ...pool,
      ClientId: settings.playerClientId,
      AuthFlow: 'ADMIN_USER_PASSWORD_AUTH',
      AuthParameters: { USERNAME: email, PASSWORD: password },
    }),
  );
  if (auth.ChallengeName) {
    throw new Error(`signing in ${email} asked for the ${auth.ChallengeName} challenge: the test viewer must sign in with its password alone (no MFA)`);
  }
  const accessToken = auth.AuthenticationResult?.AccessToken;
  if (!accessToken) {
    throw new Error(`signing in ${email} through client ${settings.playerClientId} gave no access token`);
  }
  const sub = subjectOf(accessToken, `${email}'s access token`);
  const plan = settings.plan ?? 'premium';
  await ensurePlan(clients.documents, settings.controlTableName, sub, plan);
  return { email, sub, accessToken, created, plan };
}

async function userExists(cognito: TestViewerClients['cognito'], userPoolId: string, email: string): Promise<boolean> {
  try {
    await cognito.send(new AdminGetUserCommand({ UserPoolId: userPoolId, Username: email }));
    return true;
  } catch (error) {
    if (error instanceof UserNotFoundException) {
      return false;
    }
    throw error;
  }
}

/** True when this call created the user; false when a concurrent run got there first. */
async function createUser(cognito: TestViewerClients['cognito'], userPoolId: string, email: string): Promise<boolean> {
  try {
    await cognito.send(
      new AdminCreateUserCommand({
        UserPoolId: userPoolId,
        Username: email,
        MessageAction: 'SUPPRESS',
        UserAttributes: [
          { Name: 'email', Value: email },
          { Name: 'email_verified', Value: 'true' },
        ],
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof UsernameExistsException) {
      return false;
    }
    throw error;
  }
}
