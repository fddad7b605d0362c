import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  Experiment,
  ExperimentTemplateSummary,
  FisClient,
  GetExperimentCommand,
  GetExperimentCommandInput,
  GetExperimentCommandOutput,
  GetExperimentTemplateCommand,
  GetExperimentTemplateCommandInput,
  GetExperimentTemplateCommandOutput,
  ListExperimentTemplatesCommand,
  ListExperimentTemplatesCommandInput,
  ListExperimentTemplatesCommandOutput,
  StartExperimentCommand,
  StartExperimentCommandInput,
  StartExperimentCommandOutput,
  StopExperimentCommand,
  StopExperimentCommandInput,
  StopExperimentCommandOutput,
} from '@aws-sdk/client-fis';
import { AwsCommand, AwsStub, mockClient } from 'aws-sdk-client-mock';
import type { CredentialCheck } from '../../../ops/aws/credentials';
import type { Clock } from '../../../ops/chaos/follow';
import type { ChaosIo } from '../../../ops/chaos/main';

// The SDK's Node-version notice says nothing about these tests.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

export const REGION = 'us-east-1';
export const ALARM_NAME = 'nearstream-pr-7-us-east-1-SteadyState';
export const ALARM_ARN = `arn:aws:cloudwatch:${REGION}:123456789012:alarm:${ALARM_NAME}`;
export const CALLER_ARN = 'arn:aws:sts::123456789012:assumed-role/ChaosEngineer/alice';

/**
 * aws-sdk-client-mock is typed against the current @smithy/types and @aws-sdk/client-fis 3.523.0
 * (the newest the registry has) against older ones: the mock works with its classes but does not
 * type-check with them. These are the same classes, typed as the mock expects.
 */
type Mockable<Input extends object, Output extends object> = new (input: Input) => AwsCommand<Input, Output>;
export const FIS = {
  ListExperimentTemplates: ListExperimentTemplatesCommand as unknown as Mockable<ListExperimentTemplatesCommandInput, ListExperimentTemplatesCommandOutput>,
  StartExperiment: StartExperimentCommand as unknown as Mockable<StartExperimentCommandInput, StartExperimentCommandOutput>,
  GetExperiment: GetExperimentCommand as unknown as Mockable<GetExperimentCommandInput, GetExperimentCommandOutput>,
  GetExperimentTemplate: GetExperimentTemplateCommand as unknown as Mockable<GetExperimentTemplateCommandInput, GetExperimentTemplateCommandOutput>,
  StopExperiment: StopExperimentCommand as unknown as Mockable<StopExperimentCommandInput, StopExperimentCommandOutput>,
};

/** Mocks every FisClient's `send` (see `FIS`). */
export function mockFis(): AwsStub<object, Pick<GetExperimentCommandOutput, '$metadata'>, unknown> {
  return mockClient(FisClient as never);
}

/** A template summary as ListExperimentTemplates gives it, tagged as the stack tags it. */
export function template(id: string, experiment: string, environment?: string, otherTags: Record<string, string> = {}): ExperimentTemplateSummary {
  return { id, tags: { 'nearstream:experiment': experiment, ...(environment ? { 'nearstream:environment': environment } : {}), ...otherTags } };
}

/** An experiment as FIS describes it, with one action per entry of `actions` (name to state). */
export function experiment(status: string, actions: Record<string, string> = {}, overrides: Partial<Experiment> = {}): Experiment {
  return {
    id: 'EXP1',
    experimentTemplateId: 'EXT1',
    state: { status: status as never },
    actions: Object.fromEntries(Object.entries(actions).map(([name, state]) => [name, { actionId: 'aws:ec2:terminate-instances', state: { status: state as never } }])),
    stopConditions: [{ source: 'aws:cloudwatch:alarm', value: ALARM_ARN }],
    ...overrides,
  };
}

/** Time that passes only when the code under test sleeps; `onSleep` runs after each sleep. */
export function fakeClock(onSleep: (sleeps: number) => void = () => undefined): Clock & { readonly sleeps: number[]; elapsedMs(): number } {
  const startMs = Date.parse('2026-12-01T12:00:00Z');
  let nowMs = startMs;
  const sleeps: number[] = [];
  return {
    sleeps,
    nowMs: () => nowMs,
    elapsedMs: () => nowMs - startMs,
    sleep: async (ms) => {
      sleeps.push(ms);
      nowMs += ms;
      onSleep(sleeps.length);
    },
  };
}

/** A terminal that records its lines, with working credentials unless told otherwise. */
export function fakeIo(overrides: Partial<ChaosIo> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const destroyed: string[] = [];
  const io: ChaosIo = {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    findCredentials: async (): Promise<CredentialCheck> => ({ ok: true, identity: { account: '123456789012', arn: CALLER_ARN, userId: 'AROA:alice' } }),
    clients: (region) => ({
      fis: new FisClient({ region }),
      cloudWatch: new CloudWatchClient({ region }),
      destroy: () => destroyed.push(region),
    }),
    clock: fakeClock(),
    interrupted: new AbortController().signal,
    newClientToken: () => '6f1c2a52-3d7e-4b8a-9c1d-2e3f4a5b6c7d',
    ...overrides,
  };
  return { io, out, err, destroyed };
}
