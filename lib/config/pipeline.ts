import { ConfigError, ConfigProblem } from './config-error';

/** What a user may say about the delivery pipeline (`-c pipelineConnectionArn=… -c pipelineRepository=…`). */
export interface PipelineInput {
  readonly pipelineConnectionArn?: string;
  /** `owner/name` of the repository the connection reads. */
  readonly pipelineRepository?: string;
  /** @default 'main' */
  readonly pipelineBranch?: string;
  /** `on` or `off`. @default 'on' */
  readonly pipelinePullRequests?: string;
}

/** The pipeline's source, resolved and validated. */
export interface PipelineSettings {
  /** A CodeConnections (or older CodeStar Connections) connection ARN. */
  readonly connectionArn: string;
  /** `owner/name`. */
  readonly repository: string;
  /** The branch whose pushes release to staging and then prod. */
  readonly branch: string;
  /** The account the pipeline, staging and prod live in. */
  readonly account: string;
  /** The pipeline's own region: the environments' primary region. */
  readonly region: string;
  /**
   * An environment per pull request into `branch`. Its build runs the pull request's code with the
   * account's CDK deploy role: only for repositories where whoever can open a pull request is
   * trusted with the account.
   */
  readonly pullRequestEnvironments: boolean;
}

export const DEFAULT_PIPELINE_BRANCH = 'main';

const CONNECTION_ARN = /^arn:aws(?:-[a-z]+)*:(?:codeconnections|codestar-connections):[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d:\d{12}:connection\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** GitHub, GitLab and Bitbucket owners and names: letters, digits, `-`, `_`, `.`; no `..`. */
const REPOSITORY = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,99})\/[A-Za-z0-9_.-]{1,100}$/;
/** A git branch name (git check-ref-format), kept to what is also safe in a shell argument. */
const BRANCH = /^(?!\/|.*\/\/|.*\/$|.*\.\.|.*\.lock$|.*@\{|.*\/\.)[A-Za-z0-9._/-]{1,200}$/;

/**
 * The pipeline's settings when both the connection and the repository are given, `undefined` when
 * neither is (the app then has no pipeline stack); otherwise one `ConfigError` naming every problem.
 */
export function resolvePipeline(input: PipelineInput, account: string | undefined, region: string): PipelineSettings | undefined {
  const given = [input.pipelineConnectionArn, input.pipelineRepository, input.pipelineBranch, input.pipelinePullRequests].some((value) => value !== undefined);
  if (!given) {
    return undefined;
  }
  const problems: ConfigProblem[] = [];
  const { pipelineConnectionArn: connectionArn, pipelineRepository: repository } = input;
  const branch = input.pipelineBranch ?? DEFAULT_PIPELINE_BRANCH;
  if (connectionArn === undefined) {
    problems.push({ field: 'pipelineConnectionArn', rule: 'is required for a pipeline: the ARN of a CodeConnections connection to your repository host' });
  } else if (!CONNECTION_ARN.test(connectionArn)) {
    problems.push({
      field: 'pipelineConnectionArn',
      rule: `'${connectionArn}' must be a connection ARN like arn:aws:codeconnections:us-east-1:123456789012:connection/<uuid>`,
    });
  }
  if (repository === undefined) {
    problems.push({ field: 'pipelineRepository', rule: 'is required for a pipeline: owner/name of the repository' });
  } else if (!REPOSITORY.test(repository) || repository.includes('..')) {
    problems.push({ field: 'pipelineRepository', rule: `'${repository}' must be owner/name, like example-org/nearstream` });
  }
  if (!BRANCH.test(branch)) {
    problems.push({ field: 'pipelineBranch', rule: `'${branch}' must be a branch name of letters, digits, '.', '_', '-' and '/'` });
  }
  const pullRequests = input.pipelinePullRequests ?? 'on';
  if (pullRequests !== 'on' && pullRequests !== 'off') {
    problems.push({ field: 'pipelinePullRequests', rule: `'${pullRequests}' must be on or off` });
  }
  if (account === undefined) {
    problems.push({ field: 'account', rule: 'is required for a pipeline: its stages deploy to an explicit account in both regions' });
  }
  if (problems.length > 0) {
    throw new ConfigError('pipeline', problems);
  }
  return { connectionArn: connectionArn!, repository: repository!, branch, account: account!, region, pullRequestEnvironments: pullRequests === 'on' };
}
