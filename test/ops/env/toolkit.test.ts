import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EnvIo } from '../../../ops/env/commands';
import { runEnv } from '../../../ops/env/main';
import { ProcessResult, runProcess } from '../../support/run-process';

const ROOT = path.join(__dirname, '..', '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

/** This process's environment with every way to AWS credentials closed, as in a sandbox without an account. */
function withoutCredentials(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, AWS_EC2_METADATA_DISABLED: 'true', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_DEFAULT_PROFILE', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_WEB_IDENTITY_TOKEN_FILE']) {
    delete env[name];
  }
  const nowhere = path.join(os.tmpdir(), 'no-such-aws-dir');
  return { ...env, AWS_CONFIG_FILE: path.join(nowhere, 'config'), AWS_SHARED_CREDENTIALS_FILE: path.join(nowhere, 'credentials') };
}

/** The real entry point, as `npm run env -- …` runs it. */
function envCommand(...args: string[]): Promise<ProcessResult> {
  return runProcess(TSX, [path.join(ROOT, 'bin', 'env.ts'), ...args], withoutCredentials());
}

interface ManifestArtifact {
  readonly type: string;
  readonly properties?: { readonly stackName?: string; readonly tags?: Record<string, string> };
}

// Started together: the two commands and the in-process synth overlap (synthesis is most of each).
let diffRun: Promise<ProcessResult>;
let createRun: Promise<ProcessResult>;
beforeAll(() => {
  diffRun = envCommand('diff', 'pr-7', '--no-bundling');
  createRun = envCommand('create', 'pr-7');
});

describe('npm run env offline, through toolkit-lib', () => {
  it('synthesizes every stack of the environment with its name, kind, creator and expiry as stack tags', async () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'env-synth-'));
    const out: string[] = [];
    const io: EnvIo = {
      out: (text) => out.push(text),
      err: () => undefined,
      stdinIsTTY: false,
      ask: async () => '',
      now: () => new Date('2026-12-01T12:00:00Z'),
      osUser: () => 'carol',
      findCredentials: async () => ({ ok: false, reason: 'no AWS credentials' }),
      signInTestViewer: async () => {
        throw new Error('offline');
      },
      describeStacks: async () => [],
      listLogGroups: async () => [],
      deleteLogGroup: async () => false,
    };

    const code = await runEnv(['synth', 'pr-7', '--no-bundling', '--json', '--out', outdir, '--ttl', '12h', '--creator', 'alice'], io);

    expect(code).toBe(0);
    const result = JSON.parse(out.join(''));
    const expectedTags = {
      'nearstream:environment': 'pr-7',
      'nearstream:kind': 'ephemeral',
      'nearstream:creator': 'alice',
      'nearstream:expires-at': '2026-12-02T00:00:00Z',
    };
    expect(result.stacks.map((stack: { stackName: string }) => stack.stackName).sort()).toEqual([
      'nearstream-pr-7-appliance-image',
      'nearstream-pr-7-control-plane-us-east-1',
      'nearstream-pr-7-control-plane-us-west-2',
      'nearstream-pr-7-data',
      'nearstream-pr-7-encoding',
      'nearstream-pr-7-origin-replica-us-west-2',
    ]);
    for (const stack of result.stacks) {
      expect(stack.templateBytes).toBe(fs.statSync(stack.templateFile).size);
    }
    // The tags CloudFormation receives are the stack artifacts' in the assembly manifest.
    const manifest = JSON.parse(fs.readFileSync(path.join(outdir, 'manifest.json'), 'utf8'));
    const stacks = Object.values(manifest.artifacts as Record<string, ManifestArtifact>).filter((artifact) => artifact.type === 'aws:cloudformation:stack');
    expect(stacks).toHaveLength(6);
    for (const stack of stacks) {
      expect({ stack: stack.properties?.stackName, tags: stack.properties?.tags }).toEqual({ stack: stack.properties?.stackName, tags: expectedTags });
    }
  }, 120_000);

  it('diffs pr-7 with no credentials against nothing deployed, naming the resources it would create', async () => {
    const result = await diffRun;

    expect(result.status).toBe(0);
    expect(result.stderr).toContain('npm run env -- diff pr-7: no AWS credentials, so comparing with nothing deployed: every resource below would be created');
    expect(result.stdout).toContain('Stack Nearstream-pr-7/Data (nearstream-pr-7-data)');
    expect(result.stdout).toMatch(/\[\+\] AWS::DynamoDB::GlobalTable \S+/);
    expect(result.stdout).toMatch(/\[\+\] AWS::ApiGatewayV2::Api \S+/);
    expect(result.stdout).toContain('6 of 6 stacks of pr-7 differ from nothing deployed');
  }, 120_000);

  it('without credentials, create prints one line naming what it needs and exits 3', async () => {
    const result = await createRun;

    expect(result.status).toBe(3);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n')).toEqual([
      'npm run env -- create pr-7: no AWS credentials (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY); ' +
        'the account must be bootstrapped in us-east-1 and us-west-2 (npx cdk bootstrap aws://<account>/us-east-1 aws://<account>/us-west-2)',
    ]);
  }, 120_000);
});
