import { resolveEnvironment } from '../../../lib/config/environment';
import { EnvIo, withTestViewer } from '../../../ops/env/commands';
import { createdEnvironment, formatCreated } from '../../../ops/env/outputs';
import type { TestViewerSettings } from '../../../ops/smoke/test-viewer';

const config = resolveEnvironment({ name: 'pr-7', account: '123456789012', creator: 'alice', expiresAt: '2026-12-04T12:00:00Z' });

const deployed = {
  'nearstream-pr-7-control-plane-us-east-1': { ApiUrl: 'https://east.execute-api.us-east-1.amazonaws.com/', AlarmTopicArn: 'arn:topic' },
  'nearstream-pr-7-control-plane-us-west-2': { ApiUrl: 'https://west.execute-api.us-west-2.amazonaws.com/' },
  'nearstream-pr-7-data': { ViewerUserPoolId: 'us-east-1_abc', PlayerClientId: 'client123', SourceBucketName: 'nearstream-pr-7-source', ControlTableName: 't' },
  'nearstream-pr-7-encoding': {},
};

describe('createdEnvironment', () => {
  it("picks each region's API URL, the viewer pool, player client and source bucket by stack name", () => {
    expect(createdEnvironment(config, deployed)).toEqual({
      environment: 'pr-7',
      account: '123456789012',
      creator: 'alice',
      expiresAt: '2026-12-04T12:00:00Z',
      regions: [
        { region: 'us-east-1', apiUrl: 'https://east.execute-api.us-east-1.amazonaws.com/' },
        { region: 'us-west-2', apiUrl: 'https://west.execute-api.us-west-2.amazonaws.com/' },
      ],
      viewerUserPoolId: 'us-east-1_abc',
      playerClientId: 'client123',
      sourceBucket: 'nearstream-pr-7-source',
      controlTableName: 't',
      testViewer: { refresh: 'npm run smoke -- --env pr-7' },
      stacks: ['nearstream-pr-7-control-plane-us-east-1', 'nearstream-pr-7-control-plane-us-west-2', 'nearstream-pr-7-data', 'nearstream-pr-7-encoding'],
    });
  });

  it('prints one fact a line, saying how to get a test viewer and when the environment expires', () => {
    const lines = formatCreated(createdEnvironment(config, deployed));
    expect(lines).toContain('API us-west-2     https://west.execute-api.us-west-2.amazonaws.com/');
    expect(lines).toContain('expires           2026-12-04T12:00:00Z (the scheduled cleanup destroys it after that)');
    expect(lines).toContain('again             npm run smoke -- --env pr-7  (signs the test viewer in and plays a title)');
  });
});

describe('the test viewer create prints', () => {
  function ioSigningIn(signIn: EnvIo['signInTestViewer']): { io: EnvIo; errors: string[] } {
    const errors: string[] = [];
    const io = { err: (line: string) => errors.push(line), signInTestViewer: signIn } as unknown as EnvIo;
    return { io, errors };
  }

  it('signs in the environment\'s own test viewer in the primary region, with the pool, client and table the stacks output', async () => {
    const calls: [TestViewerSettings, string][] = [];
    const { io } = ioSigningIn(async (settings, region) => {
      calls.push([settings, region]);
      return { email: 'smoke-test@pr-7.nearstream.invalid', accessToken: 'eyJ.token.sig' };
    });

    const created = await withTestViewer(createdEnvironment(config, deployed), config, io);

    expect(calls).toEqual([[{ env: 'pr-7', userPoolId: 'us-east-1_abc', playerClientId: 'client123', controlTableName: 't' }, 'us-east-1']]);
    expect(created.testViewer).toEqual({ email: 'smoke-test@pr-7.nearstream.invalid', accessToken: 'eyJ.token.sig', refresh: 'npm run smoke -- --env pr-7' });
    expect(formatCreated(created)).toContain('test viewer       smoke-test@pr-7.nearstream.invalid (premium plan)');
  });

  it('says why there is none when viewers sign in with an external issuer', async () => {
    const { io } = ioSigningIn(async () => {
      throw new Error('must not be called');
    });
    const withoutPool = { ...deployed, 'nearstream-pr-7-data': { SourceBucketName: 'b', ControlTableName: 't' } };

    const created = await withTestViewer(createdEnvironment(config, withoutPool), config, io);

    expect(created.testViewer.missing).toBe('viewers sign in with an external issuer');
    expect(formatCreated(created)).toContain('test viewer       none: viewers sign in with an external issuer');
  });

  it('reports a test viewer that cannot sign in without failing the environment it created', async () => {
    const { io, errors } = ioSigningIn(async () => {
      throw new Error('AccessDeniedException: cognito-idp:AdminCreateUser');
    });

    const created = await withTestViewer(createdEnvironment(config, deployed), config, io);

    expect(created.testViewer.missing).toContain('AdminCreateUser');
    expect(errors).toEqual(['the test viewer could not sign in: AccessDeniedException: cognito-idp:AdminCreateUser']);
  });
});
