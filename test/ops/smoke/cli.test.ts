import * as path from 'node:path';
import { NoCredentialsError, SmokeAws } from '../../../ops/smoke/aws-clients';
import { runSmokeCli } from '../../../ops/smoke/cli';
import { SMOKE_OUTPUTS } from '../../../ops/smoke/outputs';
import { SmokeResult } from '../../../ops/smoke/run';
import { runProcess } from '../../support/run-process';

const ROOT = path.join(__dirname, '..', '..', '..');

/** AWS that must not be reached: a test that gets this far with it fails naming the call. */
function unreachableAws(overrides: Partial<SmokeAws> = {}): SmokeAws & { destroyed: number } {
  const refuse = (what: string) => () => {
    throw new Error(`unexpected call to ${what}`);
  };
  const aws = {
    destroyed: 0,
    requireCredentials: async () => undefined,
    cloudFormation: refuse('CloudFormation'),
    cognito: refuse('Cognito'),
    documents: refuse('DynamoDB'),
    s3: refuse('S3'),
    destroy: () => void aws.destroyed++,
    ...overrides,
  };
  return aws;
}

async function smoke(argv: string[], variables: Record<string, string> = {}, aws: SmokeAws = unreachableAws()) {
  const out = { stdout: '', stderr: '' };
  const io = { stdout: { write: (text: string) => (out.stdout += text) }, stderr: { write: (text: string) => (out.stderr += text) } };
  const code = await runSmokeCli(argv, variables, io, { aws });
  return { code, ...out };
}

describe('npm run smoke: arguments', () => {
  it.each([
    [['--env', 'pr-7', '--bogus'], "Unknown option '--bogus'"],
    [[], '--env is required (or NEARSTREAM_ENV)'],
    [['--env', 'Bad_Name'], "--env: 'Bad_Name' must be 1-16 lower-case letters"],
    [['--env', 'pr-7', '--primary-region', 'moon-1'], "--primary-region: 'moon-1' is not an AWS region name"],
    [['--env', 'pr-7', '--secondary-region', 'us-east-1'], '--secondary-region: must differ from primaryRegion'],
    [['--env', 'pr-7', '--title-timeout', 'soon'], "--title-timeout must be a positive number (got 'soon')"],
    [['--env', 'pr-7', '--warm-up', '0'], "--warm-up must be a positive number (got '0')"],
    [['--env', 'pr-7', '--title', 'a title'], "--title must be a title id (letters, digits, '-' and '_'; got 'a title')"],
    [['--env', 'pr-7', 'extra'], "Unexpected argument 'extra'"],
  ])('refuses %j in one line naming what is wrong, exit 2', async (argv, message) => {
    const run = await smoke(argv);

    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain(message);
  });

  it('prints its help, listing every variable the pipeline sets and the exit statuses', async () => {
    const run = await smoke(['--help']);

    expect(run.code).toBe(0);
    for (const output of SMOKE_OUTPUTS) {
      expect(run.stdout).toMatch(new RegExp(`^  ${output.variable} +${output.stackPart} stack \\(${output.region} region\\), output ${output.outputKey}`, 'm'));
    }
    expect(run.stdout).toMatch(/Exit status: 0 .* 1 .* 2 bad usage, 3 no AWS credentials/);
  });

  it('takes the environment from NEARSTREAM_ENV, and stops in one line, exit 3, without credentials', async () => {
    const aws = unreachableAws({
      requireCredentials: async () => {
        throw new NoCredentialsError('npm run smoke: no AWS credentials (set AWS_PROFILE, …)');
      },
    });

    const run = await smoke([], { NEARSTREAM_ENV: 'staging' }, aws);

    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('npm run smoke: no AWS credentials (set AWS_PROFILE, …)\n');
    expect(aws.destroyed).toBe(1);
  });

  it('reports the missing credentials in the JSON object too', async () => {
    const aws = unreachableAws({ requireCredentials: async () => Promise.reject(new NoCredentialsError('no AWS credentials')) });

    const run = await smoke(['--env', 'pr-7', '--json'], {}, aws);

    const result = JSON.parse(run.stdout) as SmokeResult;
    expect(run.code).toBe(3);
    expect(result).toMatchObject({ env: 'pr-7', passed: false, noCredentials: 'no AWS credentials' });
    expect(result.steps.every((step) => step.status === 'skipped')).toBe(true);
  });

  it('ignores the pipeline\'s variables when --env names another environment, reading that one\'s stacks', async () => {
    const asked: string[] = [];
    const aws = unreachableAws({
      cloudFormation: (region) => ({
        send: async (command: { input: { StackName?: string } }) => {
          asked.push(`${region}/${command.input.StackName}`);
          throw Object.assign(new Error(`Stack with id ${command.input.StackName} does not exist`), { name: 'ValidationError' });
        },
      }) as never,
    });
    const pipeline = { NEARSTREAM_ENV: 'staging', PRIMARY_API_URL: 'https://a/', SECONDARY_API_URL: 'https://b/', CONTROL_TABLE_NAME: 't', SOURCE_BUCKET_NAME: 'b' };

    const run = await smoke(['--env', 'pr-7'], pipeline, aws);

    expect(run.code).toBe(1);
    expect(asked[0]).toBe('us-east-1/nearstream-pr-7-control-plane-us-east-1');
    expect(run.stdout.trim()).toBe(
      "smoke test of pr-7 FAILED at outputs: PRIMARY_API_URL is not set and stack nearstream-pr-7-control-plane-us-east-1 does not exist in us-east-1: is environment 'pr-7' deployed there (npm run env -- list)?",
    );
    expect(run.stderr).toMatch(/^\[1\/5\] outputs: FAILED after \d+\.\d s: PRIMARY_API_URL is not set/m);
  });

  it('is what npm run smoke runs', async () => {
    const run = await runProcess(path.join(ROOT, 'node_modules', '.bin', 'tsx'), [path.join(ROOT, 'bin', 'smoke.ts'), '--env', 'pr-7', '--nope']);

    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe("npm run smoke: Unknown option '--nope' (see --help)");
  });
});
