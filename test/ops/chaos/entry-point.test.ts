import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runProcess } from '../../support/run-process';

const ROOT = path.join(__dirname, '..', '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

/** This process's environment with every way to AWS credentials closed, as in a sandbox without an account. */
function withoutCredentials(): NodeJS.ProcessEnv {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'chaos-home-'));
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, AWS_EC2_METADATA_DISABLED: 'true', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_DEFAULT_PROFILE', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_WEB_IDENTITY_TOKEN_FILE']) {
    delete env[name];
  }
  return { ...env, AWS_CONFIG_FILE: path.join(home, 'config'), AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'credentials') };
}

describe('bin/chaos.ts, as `npm run chaos` runs it', () => {
  it('without credentials, prints one line and exits 3, quickly', async () => {
    const startedMs = Date.now();

    const result = await runProcess(TSX, [path.join(ROOT, 'bin', 'chaos.ts'), 'run', 'chaos-monkey', '--env', 'pr-7', '--region', 'us-east-1', '--dry-run'], withoutCredentials());

    expect(result.status).toBe(3);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n')).toEqual([
      'npm run chaos -- run chaos-monkey --env pr-7 --region us-east-1 --dry-run: no AWS credentials ' +
        '(set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, for the account of pr-7)',
    ]);
    expect(Date.now() - startedMs).toBeLessThan(15_000);
  });

  it('lists the catalog offline and exits 0', async () => {
    const result = await runProcess(TSX, [path.join(ROOT, 'bin', 'chaos.ts'), 'list'], withoutCredentials());

    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^EXPERIMENT +FAULT/);
    expect(result.stderr).toBe('');
  });
});
