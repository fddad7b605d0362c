import { ConfigError } from '../../lib/config/config-error';
import { PipelineInput, resolvePipeline } from '../../lib/config/pipeline';

const ARN = 'arn:aws:codeconnections:us-east-1:123456789012:connection/0f3c2a8e-1b2c-4d5e-8f90-123456789abc';

function problemsOf(input: PipelineInput, { account }: { account?: string } = { account: '123456789012' }): { field: string; rule: string }[] {
  try {
    resolvePipeline(input, account, 'us-east-1');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
}

describe('resolvePipeline', () => {
  it('is undefined when no pipeline setting is given: the app then has no pipeline stack', () => {
    expect(resolvePipeline({}, '123456789012', 'us-east-1')).toBeUndefined();
  });

  it('resolves a connection and a repository, on main unless a branch is named, in the primary region', () => {
    expect(resolvePipeline({ pipelineConnectionArn: ARN, pipelineRepository: 'example-org/nearstream' }, '123456789012', 'us-east-1')).toEqual({
      connectionArn: ARN,
      repository: 'example-org/nearstream',
      branch: 'main',
      account: '123456789012',
      region: 'us-east-1',
      pullRequestEnvironments: true,
    });
    expect(resolvePipeline({ pipelineConnectionArn: ARN, pipelineRepository: 'o/n', pipelinePullRequests: 'off' }, '123456789012', 'us-east-1')?.pullRequestEnvironments).toBe(false);
    const older = ARN.replace('codeconnections', 'codestar-connections');
    expect(resolvePipeline({ pipelineConnectionArn: older, pipelineRepository: 'a/b.c', pipelineBranch: 'release/2026' }, '123456789012', 'eu-west-1')?.branch).toBe('release/2026');
  });

  it('names every problem at once', () => {
    const problems = problemsOf({ pipelineConnectionArn: 'arn:aws:iam::123456789012:role/x', pipelineRepository: 'nearstream', pipelineBranch: 'a..b' }, {});

    expect(problems.map((problem) => problem.field)).toEqual(['pipelineConnectionArn', 'pipelineRepository', 'pipelineBranch', 'account']);
    expect(problems[0].rule).toContain('must be a connection ARN');
    expect(problems[3].rule).toContain('explicit account');
  });

  it.each([
    [{ pipelineRepository: 'example-org/nearstream' }, 'pipelineConnectionArn', 'is required'],
    [{ pipelineConnectionArn: ARN }, 'pipelineRepository', 'is required'],
    [{ pipelineBranch: 'main' }, 'pipelineConnectionArn', 'is required'],
    [{ pipelineConnectionArn: `${ARN}x`, pipelineRepository: 'o/n' }, 'pipelineConnectionArn', 'must be a connection ARN'],
    [{ pipelineConnectionArn: ARN, pipelineRepository: 'o/n/extra' }, 'pipelineRepository', 'must be owner/name'],
    [{ pipelineConnectionArn: ARN, pipelineRepository: 'o/..' }, 'pipelineRepository', 'must be owner/name'],
    [{ pipelineConnectionArn: ARN, pipelineRepository: 'o/n', pipelineBranch: 'x; rm -rf /' }, 'pipelineBranch', 'must be a branch name'],
    [{ pipelineConnectionArn: ARN, pipelineRepository: 'o/n', pipelineBranch: 'feature.lock' }, 'pipelineBranch', 'must be a branch name'],
    [{ pipelineConnectionArn: ARN, pipelineRepository: 'o/n', pipelineBranch: '/main' }, 'pipelineBranch', 'must be a branch name'],
    [{ pipelineConnectionArn: ARN, pipelineRepository: 'o/n', pipelinePullRequests: 'yes' }, 'pipelinePullRequests', 'must be on or off'],
  ])('refuses %p naming %s', (input, field, rule) => {
    expect(problemsOf(input)).toContainEqual({ field, rule: expect.stringContaining(rule) });
  });
});
