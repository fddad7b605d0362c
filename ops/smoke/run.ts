import * as os from 'node:os';
import { CatalogStore } from '../../lambda/catalog/catalog-store';
import { EnvironmentConfig } from '../../lib/config/environment';
import type { PlayReport } from '../../local/player';
import { SmokeAws, NoCredentialsError } from './aws-clients';
import { ClipUploader, s3ClipUploader } from './clip-upload';
import { checkHealth } from './health';
import { SMOKE_TOKEN_VARIABLE } from './outputs';
import { scriptedPlay } from './play-step';
import { cloudFormationOutputs, resolveTarget, SmokeTarget } from './target';
import { ensurePlan, ensureTestViewer, subjectOf } from './test-viewer';
import { chooseTitle } from './title-step';

export interface SmokeRunOptions {
  /** The environment's name and regions. */
  readonly config: EnvironmentConfig;
  /** The pipeline's variables (`SMOKE_OUTPUTS`, `NEARSTREAM_SMOKE_TOKEN`); missing outputs are read from the stacks. */
  readonly variables: Readonly<Partial<Record<string, string>>>;
  readonly titleId?: string;
  readonly titleTimeoutMs: number;
  readonly warmUpMs: number;
}

export interface SmokeDependencies {
  readonly aws: SmokeAws;
  /** Step lines as they happen. */
  readonly log: (line: string) => void;
  /** @default - S3 PutObject into the source bucket */
  readonly uploader?: ClipUploader;
  /** @default os.tmpdir() */
  readonly scratchDir?: string;
}

export const SMOKE_STEPS = ['outputs', 'health', 'viewer', 'title', 'play'] as const;
export type SmokeStep = (typeof SMOKE_STEPS)[number];

const STEP_TITLES: Record<SmokeStep, string> = {
  outputs: "the environment's outputs",
  health: 'GET /health of both regions',
  viewer: 'a signed-in test viewer with a plan',
  title: 'a playable title',
  play: 'the start of a play through the CLI player',
};

export interface StepOutcome {
  readonly step: SmokeStep;
  readonly status: 'passed' | 'failed' | 'skipped';
  readonly ms: number;
  readonly detail?: string;
  readonly error?: string;
}

/** Everything the run found, as plain JSON (`--json`). */
export interface SmokeResult {
  readonly env: string;
  readonly passed: boolean;
  readonly steps: readonly StepOutcome[];
  readonly failedStep?: SmokeStep;
  /** Set when the run stopped because it needed AWS credentials and found none. */
  readonly noCredentials?: string;
  readonly titleId?: string;
  readonly play?: PlayReport;
}

class StepFailure extends Error {}

/**
 * The post-deploy smoke test: each step in turn, printed with its time; the first that fails ends
 * the run (those after it depend on it) and the rest are reported skipped. Never throws for a
 * failed check: the result says which step failed and why.
 */
export async function runSmoke(options: SmokeRunOptions, deps: SmokeDependencies): Promise<SmokeResult> {
  const { config, variables } = options;
  const { aws, log } = deps;
  const outcomes: StepOutcome[] = [];
  let playReport: PlayReport | undefined;

  try {
    // Every run writes the test viewer's plan into the control table, so every run needs
    // credentials: finding out first makes a run without them one line, not a step that half-ran.
    await aws.requireCredentials();
  } catch (error) {
    if (!(error instanceof NoCredentialsError)) {
      throw error;
    }
    return { env: config.name, passed: false, steps: SMOKE_STEPS.map((step) => ({ step, status: 'skipped', ms: 0 })), noCredentials: error.message };
  }

  const step = async <T>(name: SmokeStep, run: (note: (line: string) => void) => Promise<{ value: T; detail: string }>): Promise<T> => {
    const label = `[${outcomes.length + 1}/${SMOKE_STEPS.length}] ${name}`;
    log(`${label}: ${STEP_TITLES[name]}`);
    const startedMs = Date.now();
    const seconds = () => `${((Date.now() - startedMs) / 1000).toFixed(1)} s`;
    try {
      const { value, detail } = await run((line) => log(`      ${line}`));
      outcomes.push({ step: name, status: 'passed', ms: Date.now() - startedMs, detail });
      log(`${label}: passed in ${seconds()}: ${detail}`);
      return value;
    } catch (error) {
      const message = (error as Error).message;
      playReport ??= (error as { report?: PlayReport }).report;
      outcomes.push({ step: name, status: 'failed', ms: Date.now() - startedMs, error: message });
      log(`${label}: FAILED after ${seconds()}: ${message}`);
      throw new StepFailure(message);
    }
  };

  let titleId: string | undefined;
  try {
    const target = await step('outputs', async (note) => {
      const value = await resolveTarget(config, variables, cloudFormationOutputs(aws.cloudFormation));
      if (value.readFromStacks.length > 0) {
        note(`read from the stacks (CloudFormation DescribeStacks): ${value.readFromStacks.join(', ')}`);
      }
      const regions = value.regions.map((region) => `${region.name} ${region.apiUrl}`).join(', ');
      return { value, detail: `${regions}; viewers sign in with ${value.userPool ? `Cognito pool ${value.userPool.userPoolId}` : 'an external issuer'}` };
    });
    await step('health', async () => {
      const health = await checkHealth(target.regions, { warmUpMs: options.warmUpMs });
      return { value: health, detail: health.map((region) => `${region.region} 200 in ${region.ms} ms${region.attempts > 1 ? ` (attempt ${region.attempts})` : ''}`).join(', ') };
    });
    const token = await step('viewer', (note) => signInViewer(target, variables, aws, note));
    titleId = await step('title', async (note) => {
      const chosen = await chooseTitle({
        region: target.regions[0],
        token,
        env: target.env,
        titleId: options.titleId,
        titleTimeoutMs: options.titleTimeoutMs,
        uploader: async () => deps.uploader ?? s3ClipUploader(aws.s3(target.regions[0].name), target.sourceBucketName),
        readRecord: (id) => new CatalogStore(aws.documents(target.regions[0].name), target.controlTableName).get(id),
        scratchDir: deps.scratchDir ?? os.tmpdir(),
        note,
      });
      return { value: chosen.titleId, detail: chosen.detail };
    });
    await step('play', async (note) => {
      const played = await scriptedPlay(target.regions, token, titleId!, note);
      playReport = played.report;
      const { report } = played;
      return {
        value: played,
        detail: `granted by ${report.region}, ${report.segments.length} segment(s), the first from ${played.firstSource}; ${report.mediaSecondsPlayed.toFixed(1)} s of media in ${(report.totalWallMs / 1000).toFixed(1)} s`,
      };
    });
  } catch (error) {
    if (!(error instanceof StepFailure)) {
      throw error;
    }
  }
  for (const name of SMOKE_STEPS.slice(outcomes.length)) {
    outcomes.push({ step: name, status: 'skipped', ms: 0 });
  }
  const failedStep = outcomes.find((outcome) => outcome.status === 'failed')?.step;
  return {
    env: config.name,
    passed: failedStep === undefined,
    steps: outcomes,
    ...(failedStep ? { failedStep } : {}),
    ...(titleId ? { titleId } : {}),
    ...(playReport ? { play: playReport } : {}),
  };
}

/**
 * The viewer token: the environment's Cognito test viewer, or the external issuer's token the
 * pipeline provides (an account kept for the smoke test). Either way the account gets its plan.
 */
async function signInViewer(target: SmokeTarget, variables: SmokeRunOptions['variables'], aws: SmokeAws, note: (line: string) => void): Promise<{ value: string; detail: string }> {
  const primary = target.regions[0].name;
  if (target.userPool) {
    const viewer = await ensureTestViewer(
      { cognito: aws.cognito(primary), documents: aws.documents(primary) },
      { env: target.env, ...target.userPool, controlTableName: target.controlTableName },
    );
    return { value: viewer.accessToken, detail: `${viewer.email} (${viewer.created ? 'created now' : 'existing'}), sub ${viewer.sub}, plan ${viewer.plan}` };
  }
  const token = variables[SMOKE_TOKEN_VARIABLE]?.trim();
  if (!token) {
    throw new Error(
      `no test viewer: USER_POOL_ID is not set (the environment trusts an external issuer, so the smoke test cannot create a user) and ${SMOKE_TOKEN_VARIABLE} is empty; set it to a viewer token of that issuer`,
    );
  }
  note(`external issuer: using the viewer token in ${SMOKE_TOKEN_VARIABLE}`);
  const sub = subjectOf(token, SMOKE_TOKEN_VARIABLE);
  await ensurePlan(aws.documents(primary), target.controlTableName, sub);
  return { value: token, detail: `token of ${sub} from ${SMOKE_TOKEN_VARIABLE}, plan premium` };
}
