import { Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import { PipelineType } from 'aws-cdk-lib/aws-codepipeline';
import { CodeBuildStep, CodePipeline, CodePipelineSource, ManualApprovalStep } from 'aws-cdk-lib/pipelines';
import { Construct } from 'constructs';
import { EnvironmentConfig, regionsOf } from '../config/environment';
import { PipelineSettings } from '../config/pipeline';
import { PRIVILEGED_TEST_BUILD_REASON, shellQuote, TEST_SUITE_BUILD_ENVIRONMENT } from '../constructs/build-environment';
import { EncryptedLogGroup } from '../constructs/encrypted-log-group';
import { EnvironmentCleanup } from '../constructs/environment-cleanup';
import { LogEncryptionKey } from '../constructs/log-encryption-key';
import { acknowledgeDeliveryPipelineFindings } from '../constructs/pipeline-acknowledgements';
import { PullRequestEnvironments } from '../constructs/pull-request-environments';
import { SMOKE_WILDCARD_REASONS, smokeTestStep } from '../constructs/smoke-test-step';
import { NearstreamStage } from '../nearstream-stage';
import packageJson from '../../package.json';

export interface PipelineStackProps extends StackProps {
  readonly pipeline: PipelineSettings;
  /** `resolveEnvironment({ name: 'staging', account, ... })`. */
  readonly staging: EnvironmentConfig;
  readonly prod: EnvironmentConfig;
  /**
   * Context the app was synthesized with (key → raw string value), rendered into the synth step's
   * `cdk synth` so the pipeline (and its self-mutation) rebuilds exactly this app.
   */
  readonly synthContext: Readonly<Record<string, string>>;
}

/**
 * The delivery pipeline: every push to the release branch is tested and synthesized, updates the
 * pipeline itself, then deploys staging (both regions, one Stage), smoke-tests it, waits for a
 * person to approve, and deploys and smoke-tests prod. Beside it, the pull-request environments.
 *
 * Deploy it to the environments' primary region, after `cdk bootstrap` of the account in BOTH
 * regions: the stages deploy into the secondary region through its bootstrap roles, and CDK
 * creates a support stack there (`<stackName>-support-<region>`) holding the KMS-encrypted bucket
 * that CodePipeline replicates artifacts through, which the CLI deploys with the bootstrap roles.
 */
export class PipelineStack extends Stack {
  readonly pipeline: CodePipeline;
  readonly staging: NearstreamStage;
  readonly prod: NearstreamStage;
  /** Absent with `pipelinePullRequests=off`. */
  readonly pullRequestEnvironments?: PullRequestEnvironments;
  /** Destroys expired ephemeral environments of this account (pull requests' and `npm run env`'s). */
  readonly cleanup: EnvironmentCleanup;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { pipeline: settings } = props;
    for (const config of [props.staging, props.prod]) {
      checkPlacement(config, settings);
    }

    // Every build's log, kept a year (releases are audited by them) and encrypted with our own key.
    const logKey = new LogEncryptionKey(this, 'BuildLogKey', { aliasName: 'nearstream/pipeline-build-logs', removalPolicy: RemovalPolicy.RETAIN });
    const buildLogs = new EncryptedLogGroup(this, 'BuildLogs', { retentionDays: 365, encryptionKey: logKey.key, removalPolicy: RemovalPolicy.RETAIN });

    const source = CodePipelineSource.connection(settings.repository, settings.branch, { connectionArn: settings.connectionArn });
    const synth = new CodeBuildStep('Synth', {
      input: source,
      buildEnvironment: TEST_SUITE_BUILD_ENVIRONMENT,
      timeout: Duration.minutes(60),
      commands: ['npm ci', 'npx tsx bin/prerequisites.ts install test', 'npm test', synthCommand(props.synthContext)],
      primaryOutputDirectory: 'cdk.out',
    });
    this.pipeline = new CodePipeline(this, 'Pipeline', {
      pipelineName: 'nearstream',
      pipelineType: PipelineType.V2,
      synth,
      crossAccountKeys: true,
      enableKeyRotation: true,
      selfMutation: true,
      // The CLI the repository pins, not npm's `latest` tag, which has lagged behind the assemblies
      // this aws-cdk-lib writes (and then refuses them).
      cliVersion: PINNED_CDK_CLI_VERSION,
      dockerEnabledForSynth: false,
      dockerEnabledForSelfMutation: false,
      codeBuildDefaults: { logging: { cloudWatch: { logGroup: buildLogs } } },
    });

    // One wave per environment; each holds one Stage with both regions' stacks, because an
    // environment is one active-active unit (a global table and replication tie its regions).
    // CDK Pipelines orders the stacks by their dependencies within the stage.
    this.staging = this.environmentStage('Staging', props.staging);
    const stagingSmoke = smokeTestStep({ input: source, environment: this.staging.environment });
    this.pipeline.addWave('Staging').addStage(this.staging, { post: [stagingSmoke] });
    this.prod = this.environmentStage('Prod', props.prod);
    const prodSmoke = smokeTestStep({ input: source, environment: this.prod.environment });
    this.pipeline
      .addWave('Prod', { pre: [new ManualApprovalStep('PromoteToProd', { comment: 'Staging passed its smoke test. Promote this commit to prod?' })] })
      .addStage(this.prod, { post: [prodSmoke] });

    // Built now rather than at synth, so the generated roles, projects and support stacks exist
    // for their findings to be acknowledged next to them.
    this.pipeline.buildPipeline();
    acknowledgeDeliveryPipelineFindings(this.pipeline, {
      customImageProjects: [this.pipeline.synthProject, stagingSmoke.project, prodSmoke.project],
      privilegedProject: this.pipeline.synthProject,
      privilegedReason: PRIVILEGED_TEST_BUILD_REASON,
      wildcards: SMOKE_WILDCARD_REASONS,
    });

    this.pullRequestEnvironments = settings.pullRequestEnvironments
      ? new PullRequestEnvironments(this, 'PullRequestEnvironments', {
          connectionArn: settings.connectionArn,
          repository: settings.repository,
          branch: settings.branch,
          account: settings.account,
          regions: regionsOf(props.staging),
          buildLogs,
        })
      : undefined;
    this.cleanup = new EnvironmentCleanup(this, 'EnvironmentCleanup', { regions: regionsOf(props.staging), logEncryptionKey: logKey.key });
  }

  private environmentStage(id: string, config: EnvironmentConfig): NearstreamStage {
    return new NearstreamStage(this, id, { config, env: { account: config.account, region: config.primaryRegion } });
  }
}

/** The `aws-cdk` CLI version in package.json, exactly: self-mutation deploys with the CLI the tests ran. */
export const PINNED_CDK_CLI_VERSION: string = packageJson.devDependencies['aws-cdk'];

/** `npx cdk synth -c 'key=value' …`, every value one shell word whatever it contains. */
export function synthCommand(context: Readonly<Record<string, string>>): string {
  const args = Object.entries(context)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `-c ${shellQuote(`${key}=${value}`)}`);
  return ['npx cdk synth', ...args].join(' ');
}

function checkPlacement(config: EnvironmentConfig, settings: PipelineSettings): void {
  if (config.account !== settings.account || config.primaryRegion !== settings.region) {
    throw new Error(
      `environment ${config.name}: the pipeline deploys to account ${settings.account} with primary region ${settings.region}, ` +
        `but ${config.name} is configured for ${config.account ?? 'no account'} in ${config.primaryRegion}; give both the same account and primary region`,
    );
  }
}
