import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { findCredentials, noCredentialsLine } from '../../../ops/aws/credentials';

const CREDENTIAL_VARIABLES = [
  'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_DEFAULT_PROFILE', 'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE', 'AWS_EC2_METADATA_DISABLED', 'AWS_ENDPOINT_URL_STS', 'AWS_REGION',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED',
];
const saved = Object.fromEntries(CREDENTIAL_VARIABLES.map((name) => [name, process.env[name]]));

/** No credentials anywhere the default chain looks, whatever the machine running the tests has. */
function closeEveryCredentialSource(): void {
  for (const name of CREDENTIAL_VARIABLES) {
    delete process.env[name];
  }
  const nowhere = path.join(os.tmpdir(), 'no-such-aws-dir');
  process.env.AWS_CONFIG_FILE = path.join(nowhere, 'config');
  process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(nowhere, 'credentials');
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
}

/** A local STS answering GetCallerIdentity the way the service does (awsQuery XML), or never. */
async function fakeSts(answer: boolean): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((request, response) => {
    request.resume();
    if (!answer) {
      return;
    }
    response.writeHead(200, { 'content-type': 'text/xml' });
    response.end(
      '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>' +
        '<Arn>arn:aws:sts::123456789012:assumed-role/Deployer/alice</Arn><UserId>AROAEXAMPLE:alice</UserId><Account>123456789012</Account>' +
        '</GetCallerIdentityResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></GetCallerIdentityResponse>',
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

beforeEach(closeEveryCredentialSource);
afterAll(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) {
      delete process.env[name];
    } else {
      process.env[name] = value;
    }
  }
});

describe('findCredentials', () => {
  it('says there are no credentials, quickly, when no source has any', async () => {
    const started = Date.now();
    await expect(findCredentials()).resolves.toEqual({ ok: false, reason: 'no AWS credentials' });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('proves found credentials with STS and returns whose they are', async () => {
    const sts = await fakeSts(true);
    process.env.AWS_ACCESS_KEY_ID = 'AKIAEXAMPLE';
    process.env.AWS_SECRET_ACCESS_KEY = 'secret';
    process.env.AWS_ENDPOINT_URL_STS = sts.url;
    try {
      await expect(findCredentials()).resolves.toEqual({
        ok: true,
        identity: { account: '123456789012', arn: 'arn:aws:sts::123456789012:assumed-role/Deployer/alice', userId: 'AROAEXAMPLE:alice' },
      });
    } finally {
      await sts.close();
    }
  });

  it('gives up within its timeout when STS does not answer, saying the credentials could not be checked', async () => {
    const sts = await fakeSts(false);
    process.env.AWS_ACCESS_KEY_ID = 'AKIAEXAMPLE';
    process.env.AWS_SECRET_ACCESS_KEY = 'secret';
    process.env.AWS_ENDPOINT_URL_STS = sts.url;
    const started = Date.now();
    try {
      const check = await findCredentials(1_000);
      expect(check).toEqual({ ok: false, reason: expect.stringMatching(/^AWS credentials were found but STS GetCallerIdentity (did not answer within 1000 ms|failed with them)/) });
      expect(Date.now() - started).toBeLessThan(2_500);
    } finally {
      await sts.close();
    }
  });
});

describe('noCredentialsLine', () => {
  it('names the command, what to set and the bootstrap each region needs, on one line', () => {
    const line = noCredentialsLine('npm run smoke -- --env pr-7', ['eu-west-1', 'eu-central-1'], '123456789012');
    expect(line).toBe(
      'npm run smoke -- --env pr-7: no AWS credentials (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY); ' +
        'the account must be bootstrapped in eu-west-1 and eu-central-1 (npx cdk bootstrap aws://123456789012/eu-west-1 aws://123456789012/eu-central-1)',
    );
    expect(line).not.toContain('\n');
  });
});
