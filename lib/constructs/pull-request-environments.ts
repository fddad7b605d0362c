import { Duration, Stack } from 'aws-cdk-lib';
import { BuildEnvironmentVariableType, BuildSpec, PipelineProject } from 'aws-cdk-lib/aws-codebuild';
import {
  Artifact,
  ExecutionMode,
  GitPullRequestEvent,
  Pipeline,
  PipelineType,
  ProviderType,
  Variable,
} from 'aws-cdk-lib/aws-codepipeline';
import { CodeBuildAction, CodeStarConnectionsSourceAction } from 'aws-cdk-lib/aws-codepipeline-actions';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { ILogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { EnvironmentConfig } from '../config/environment';
import { EnvironmentNaming } from '../config/naming';
import { DEPLOY_BUILD_ENVIRONMENT } from './build-environment';
import { acknowledgeBuildImage, acknowledgeGeneratedWildcards, hardenArtifactBucket } from './pipeline-acknowledgements';
import { SMOKE_WILDCARD_REASONS, smokeTestPolicyStatements } from './smoke-test-step';
import { DEFAULT_BOOTSTRAP_QUALIFIER } from '../../lambda/cleanup/bootstrap-roles';


/**
 * The value `ENVIRONMENT_NAME` has unless a manual start sets it. CodePipeline refuses an empty
 * default (a variable's value is 1-1000 characters), so the build treats this placeholder, which is
 * no valid environment name, as "derive the name from the pull request's source branch".
 */
export const NAME_FROM_BRANCH = '<from-branch>';

/** What happens to a pull request's environment on each event kind. */
export type PullRequestEventKind = 'open' | 'closed';

export interface PullRequestEnvironmentsProps {
  /** A CodeConnections connection to the repository host. */
  readonly connectionArn: string;
  /** `owner/name`. */
  readonly repository: string;
  /** Pull requests into this branch get an environment (a trigger's branches are the destination branch). */
  readonly branch: string;
  /** The account the environments deploy to. */
  readonly account: string;
  /** The environments' regions, primary first; `cdk bootstrap` must have run in each. */
  readonly regions: readonly string[];
  /** Where the builds log (encrypted, retained). */
  readonly buildLogs: ILogGroup;
  /** @default DEFAULT_BOOTSTRAP_QUALIFIER */
  readonly bootstrapQualifier?: string;
  /**
   * How long an opened environment lives unless the pull request closes first (`npm run env` syntax).
   * @default '3d'
   */
  readonly ttl?: string;
}

/**
 * An ephemeral environment per pull request, through two CodePipeline V2 pipelines on PR triggers:
 * `pr-open` creates (or updates) `pr-<branch>` and smoke-tests it when a pull request into `branch`
 * opens or gets new commits; `pr-closed` destroys it when the pull request closes. Both run the same
 * `npm run env` commands a developer runs, in CodeBuild, deploying as the CDK CLI does: the build
 * role may only assume the CDK bootstrap roles, plus what the smoke test needs on `pr-*` resources.
 *
 * A manual start may set the `ENVIRONMENT_NAME` pipeline variable to (re)create or destroy any
 * ephemeral environment by name.
 *
 * Alternative: a CI workflow (GitHub Actions on `pull_request` opened/synchronize/closed) running
 * the same `npm ci && npm run env -- create|destroy <name>` with OIDC-federated credentials that
 * may assume the same bootstrap roles. It reports on the pull request natively, but keeps a second
 * trust relationship to the account; these pipelines keep everything behind the one connection.
 */
export class PullRequestEnvironments extends Construct {
  readonly openPipeline: Pipeline;
  readonly closedPipeline: Pipeline;

  constructor(scope: Construct, id: string, props: PullRequestEnvironmentsProps) {
    super(scope, id);
    const qualifier = props.bootstrapQualifier ?? DEFAULT_BOOTSTRAP_QUALIFIER;
    const ttl = props.ttl ?? '3d';
    // Where the build role may deploy (the bootstrap roles of these regions, this account) is where
    // the commands deploy: never the command's own defaults.
    const [primaryRegion, secondaryRegion] = props.regions;
    const placement = `--account ${props.account} --primary-region ${primaryRegion} --secondary-region ${secondaryRegion}`;
    this.openPipeline = this.environmentPipeline('Open', props, qualifier, {
      events: [GitPullRequestEvent.OPEN, GitPullRequestEvent.UPDATED],
      commands: [
        'npx tsx bin/prerequisites.ts install smoke',
        `npm run env -- create "$ENVIRONMENT_NAME" ${placement} --creator "pull-request/$BRANCH" --ttl ${ttl}`,
        `npm run smoke -- --env "$ENVIRONMENT_NAME" --primary-region ${primaryRegion} --secondary-region ${secondaryRegion}`,
      ],
    });
    this.closedPipeline = this.environmentPipeline('Closed', props, qualifier, {
      events: [GitPullRequestEvent.CLOSED],
      commands: [`npm run env -- destroy "$ENVIRONMENT_NAME" ${placement} --yes`],
    });
    acknowledgeGeneratedWildcards(this, SMOKE_WILDCARD_REASONS);
  }

  private environmentPipeline(
    kind: 'Open' | 'Closed',
    props: PullRequestEnvironmentsProps,
    qualifier: string,
    work: { readonly events: GitPullRequestEvent[]; readonly commands: string[] },
  ): Pipeline {
    const [owner, repo] = props.repository.split('/');
    const checkout = new Artifact('Checkout');
    const source = new CodeStarConnectionsSourceAction({
      actionName: 'Source',
      connectionArn: props.connectionArn,
      owner,
      repo,
      branch: props.branch,
      output: checkout,
      triggerOnPush: false,
      variablesNamespace: 'Source',
    });
    const environmentName = new Variable({
      variableName: 'ENVIRONMENT_NAME',
      defaultValue: NAME_FROM_BRANCH,
      description: `The ephemeral environment to ${kind === 'Open' ? 'create' : 'destroy'}; by default pr-<branch> of the pull request`,
    });
    const project = new PipelineProject(this, `${kind}Project`, {
      description: `Nearstream: ${kind === 'Open' ? 'creates and smoke-tests' : 'destroys'} a pull request's environment`,
      environment: DEPLOY_BUILD_ENVIRONMENT,
      role: this.deployRole(kind, props, qualifier),
      timeout: Duration.minutes(90),
      logging: { cloudWatch: { logGroup: props.buildLogs } },
      buildSpec: BuildSpec.fromObject({
        version: '0.2',
        env: { shell: 'bash' },
        phases: {
          install: { commands: ['npm ci'] },
          build: {
            commands: [
              `if [ "$ENVIRONMENT_NAME" = '${NAME_FROM_BRANCH}' ]; then ENVIRONMENT_NAME="$(npm run --silent env -- name --branch "$BRANCH")"; fi`,
              ...work.commands,
            ],
          },
        },
      }),
    });
    const pipeline = new Pipeline(this, kind, {
      pipelineName: `nearstream-pr-${kind.toLowerCase()}`,
      pipelineType: PipelineType.V2,
      // One environment at a time: a second push while the first deploys would race it in CloudFormation.
      executionMode: ExecutionMode.QUEUED,
      crossAccountKeys: true,
      enableKeyRotation: true,
      restartExecutionOnUpdate: false,
      variables: [environmentName],
      stages: [
        { stageName: 'Source', actions: [source] },
        {
          stageName: 'Environment',
          actions: [
            new CodeBuildAction({
              actionName: kind === 'Open' ? 'CreateAndSmokeTest' : 'Destroy',
              project,
              input: checkout,
              environmentVariables: {
                BRANCH: { type: BuildEnvironmentVariableType.PLAINTEXT, value: source.variables.branchName },
                ENVIRONMENT_NAME: { type: BuildEnvironmentVariableType.PLAINTEXT, value: environmentName.reference() },
              },
            }),
          ],
        },
      ],
      triggers: [
        {
          providerType: ProviderType.CODE_STAR_SOURCE_CONNECTION,
          gitConfiguration: { sourceAction: source, pullRequestFilter: [{ branchesIncludes: [props.branch], events: work.events }] },
        },
      ],
    });
    hardenArtifactBucket(pipeline.artifactBucket);
    acknowledgeBuildImage(project);
    return pipeline;
  }

  /** Deploys as the CDK CLI does, through the bootstrap roles; smoke-tests `pr-*` environments only. */
  private deployRole(kind: string, props: PullRequestEnvironmentsProps, qualifier: string): Role {
    const role = new Role(this, `${kind}DeployRole`, {
      assumedBy: new ServicePrincipal('codebuild.amazonaws.com'),
      description: `Nearstream pull-request ${kind.toLowerCase()} builds: assumes the CDK bootstrap roles only`,
    });
    const { account, regions } = props;
    const partition = Stack.of(this).partition;
    role.addToPolicy(
      new PolicyStatement({
        actions: ['sts:AssumeRole'],
        resources: regions.flatMap((region) =>
          ['deploy', 'file-publishing', 'image-publishing', 'lookup'].map(
            (purpose) => `arn:${partition}:iam::${account}:role/cdk-${qualifier}-${purpose}-role-${account}-${region}`,
          ),
        ),
      }),
    );
    if (kind === 'Open') {
      // EnvironmentNaming derives names from the environment name alone, so a `*` in it yields the
      // pattern of every pull-request environment's names (`nearstream-pr-*-control`).
      const naming = new EnvironmentNaming({ name: 'pr-*' } as EnvironmentConfig);
      for (const statement of smokeTestPolicyStatements({
        environmentName: 'pr-*',
        naming,
        partition,
        account,
        primaryRegion: regions[0],
        stacks: regions.map((region) => ({ stackName: `${naming.prefix}-*`, region })),
      })) {
        role.addToPolicy(statement);
      }
    }
    return role;
  }
}
