import {
  AdminCreateUserCommand,
  AdminGetUserCommand,
  AdminInitiateAuthCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
  UsernameExistsException,
  UserNotFoundException,
} from '@aws-sdk/client-cognito-identity-provider';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { ensureTestViewer, meetsPasswordPolicy, randomPassword, subjectOf, testViewerEmail } from '../../../ops/smoke/test-viewer';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const SUB = '8c1d5f3a-0000-4000-8000-000000000001';
const SETTINGS = { env: 'pr-7', userPoolId: 'us-east-1_AbCdEf123', playerClientId: 'player-client-id', controlTableName: 'nearstream-pr-7-control' };

/** A token shaped as Cognito's access tokens are: the test viewer's sub in the payload. */
function accessToken(sub = SUB): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256', kid: 'k' })}.${part({ sub, token_use: 'access', client_id: SETTINGS.playerClientId })}.signature`;
}

describe('ensureTestViewer', () => {
  const cognitoClient = new CognitoIdentityProviderClient({ region: 'us-east-1' });
  const documentClient = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  const cognito = mockClient(cognitoClient);
  const documents = mockClient(documentClient);
  const clients = { cognito: cognitoClient, documents: documentClient };

  beforeEach(() => {
    cognito.reset();
    documents.reset();
    cognito.on(AdminSetUserPasswordCommand).resolves({});
    cognito.on(AdminInitiateAuthCommand).resolves({ AuthenticationResult: { AccessToken: accessToken() } });
    documents.on(PutCommand).resolves({});
  });

  afterAll(() => {
    cognitoClient.destroy();
    documentClient.destroy();
  });

  it('creates the user when absent, without an invitation mail and with its address verified', async () => {
    cognito.on(AdminGetUserCommand).rejects(new UserNotFoundException({ message: 'User does not exist.', $metadata: {} }));
    cognito.on(AdminCreateUserCommand).resolves({});

    const viewer = await ensureTestViewer(clients, SETTINGS);

    expect(viewer).toMatchObject({ email: 'smoke-test@pr-7.nearstream.invalid', sub: SUB, created: true, plan: 'premium', accessToken: accessToken() });
    expect(cognito.commandCalls(AdminCreateUserCommand).map((call) => call.args[0].input)).toEqual([
      {
        UserPoolId: SETTINGS.userPoolId,
        Username: 'smoke-test@pr-7.nearstream.invalid',
        MessageAction: 'SUPPRESS',
        UserAttributes: [
          { Name: 'email', Value: 'smoke-test@pr-7.nearstream.invalid' },
          { Name: 'email_verified', Value: 'true' },
        ],
      },
    ]);
  });

  it('does not create the user again when it exists', async () => {
    cognito.on(AdminGetUserCommand).resolves({ Username: SUB });

    const viewer = await ensureTestViewer(clients, SETTINGS);

    expect(viewer.created).toBe(false);
    expect(cognito.commandCalls(AdminCreateUserCommand)).toHaveLength(0);
  });

  it('takes a user a concurrent run created between the look-up and the create', async () => {
    cognito.on(AdminGetUserCommand).rejects(new UserNotFoundException({ message: 'User does not exist.', $metadata: {} }));
    cognito.on(AdminCreateUserCommand).rejects(new UsernameExistsException({ message: 'An account with the given email already exists.', $metadata: {} }));

    const viewer = await ensureTestViewer(clients, SETTINGS);

    expect(viewer.created).toBe(false);
    expect(cognito.commandCalls(AdminInitiateAuthCommand)).toHaveLength(1);
  });

  it('sets a fresh permanent password meeting the pool policy on every run, and signs in with it through the player client', async () => {
    cognito.on(AdminGetUserCommand).resolves({ Username: SUB });

    await ensureTestViewer(clients, SETTINGS);
    await ensureTestViewer(clients, SETTINGS);

    const passwords = cognito.commandCalls(AdminSetUserPasswordCommand).map((call) => call.args[0].input);
    expect(passwords).toHaveLength(2);
    expect(passwords.every((input) => input.Permanent === true && input.Username === testViewerEmail('pr-7'))).toBe(true);
    expect(passwords.every((input) => meetsPasswordPolicy(input.Password!))).toBe(true);
    expect(passwords[0].Password).not.toBe(passwords[1].Password);
    const signIns = cognito.commandCalls(AdminInitiateAuthCommand).map((call) => call.args[0].input);
    expect(signIns.map((input) => [input.AuthFlow, input.ClientId, input.AuthParameters?.PASSWORD])).toEqual(
      passwords.map((input) => ['ADMIN_USER_PASSWORD_AUTH', SETTINGS.playerClientId, input.Password]),
    );
  });

  it('writes the premium plan of the token\'s subject into the control table, as the local platform does', async () => {
    cognito.on(AdminGetUserCommand).resolves({ Username: SUB });

    await ensureTestViewer(clients, SETTINGS);

    expect(documents.commandCalls(PutCommand).map((call) => call.args[0].input)).toEqual([
      { TableName: SETTINGS.controlTableName, Item: { pk: `account#${SUB}`, sk: 'plan', plan: 'premium' } },
    ]);
  });

  it('refuses a sign-in that asks for a challenge, naming it, and writes no plan', async () => {
    cognito.on(AdminGetUserCommand).resolves({ Username: SUB });
    cognito.on(AdminInitiateAuthCommand).resolves({ ChallengeName: 'SOFTWARE_TOKEN_MFA', Session: 's' });

    await expect(ensureTestViewer(clients, SETTINGS)).rejects.toThrow(/asked for the SOFTWARE_TOKEN_MFA challenge/);
    expect(documents.commandCalls(PutCommand)).toHaveLength(0);
  });
});

describe('the test viewer\'s password and token', () => {
  it('makes passwords that meet the policy, and tells those that do not', () => {
    for (let i = 0; i < 200; i++) {
      expect(meetsPasswordPolicy(randomPassword())).toBe(true);
    }
    expect(meetsPasswordPolicy('Short1!')).toBe(false);
    expect(meetsPasswordPolicy('nouppercase1!x')).toBe(false);
    expect(meetsPasswordPolicy('NoSymbolsHere12')).toBe(false);
    expect(meetsPasswordPolicy('No-Digits-Here!')).toBe(false);
  });

  it('reads the subject of a JWT and names what is wrong with one that has none', () => {
    expect(subjectOf(accessToken('viewer-1'))).toBe('viewer-1');
    expect(() => subjectOf('not-a-token', 'NEARSTREAM_SMOKE_TOKEN')).toThrow(/^NEARSTREAM_SMOKE_TOKEN is not a JWT/);
    const noSub = `e30.${Buffer.from('{"aud":"x"}').toString('base64url')}.s`;
    expect(() => subjectOf(noSub, 'NEARSTREAM_SMOKE_TOKEN')).toThrow(/^NEARSTREAM_SMOKE_TOKEN has no 'sub' claim/);
  });
});
