import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { localInvocationContext } from '../../../local/api/local-gateway';

type EntryModule = typeof import('../../../lambda/shared/lambda-entry');
type PowertoolsModule = typeof import('../../../lambda/shared/powertools');

/**
 * What the function construct sets, with metrics on (the test setup turns them off elsewhere), and
 * what Lambda sets: Powertools counts a cold start only in an on-demand execution environment.
 */
const FUNCTION_ENVIRONMENT = {
  AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
  POWERTOOLS_SERVICE_NAME: 'entry-test',
  POWERTOOLS_METRICS_NAMESPACE: 'NearstreamTest',
  POWERTOOLS_LOG_LEVEL: 'INFO',
  POWERTOOLS_METRICS_DISABLED: 'false',
  _HANDLER: 'index.handler',
};

function invocation(): Context {
  return localInvocationContext({ functionName: 'nearstream-entry-test', region: 'eu-west-1', timeoutMs: 10_000, memorySizeMb: 512 });
}

describe('lambdaEntry', () => {
  let saved: Record<string, string | undefined>;
  let lambdaEntry: EntryModule['lambdaEntry'];
  let powertools: PowertoolsModule;
  /** Every line the function printed, stdout and stderr together, as CloudWatch Logs gets them. */
  let printed: string[];

  beforeEach(() => {
    saved = Object.fromEntries(Object.keys(FUNCTION_ENVIRONMENT).map((key) => [key, process.env[key]]));
    Object.assign(process.env, FUNCTION_ENVIRONMENT);
    // A fresh execution environment: module-scope logger, metrics and tracer, and their cold start.
    jest.isolateModules(() => {
      ({ lambdaEntry } = require('../../../lambda/shared/lambda-entry') as EntryModule);
      powertools = require('../../../lambda/shared/powertools') as PowertoolsModule;
    });
    printed = [];
    const capture = (chunk: string | Uint8Array) => {
      printed.push(...String(chunk).split('\n').filter((line) => line !== ''));
      return true;
    };
    jest.spyOn(process.stdout, 'write').mockImplementation(capture);
    jest.spyOn(process.stderr, 'write').mockImplementation(capture);
  });

  afterEach(() => {
    jest.restoreAllMocks();
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) {
        delete process.env[key];
      } else {
        process.env[key] = value;
      }
    }
  });

  const jsonLines = () => printed.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
  const emf = () => jsonLines().filter((line) => line._aws !== undefined);
  const logLines = (message: string) => jsonLines().filter((line) => line.message === message);

  it("adds each invocation's context to the handler's log lines: its request id, function and cold start", async () => {
    const handler = lambdaEntry(() => async (event: { readonly n: number }) => powertools.logger.info('handled', { n: event.n }));
    const first = invocation();
    const second = invocation();

    await handler({ n: 1 }, first);
    await handler({ n: 2 }, second);

    expect(logLines('handled')).toEqual([
      expect.objectContaining({ n: 1, function_request_id: first.awsRequestId, function_name: 'nearstream-entry-test', cold_start: true, function_arn: first.invokedFunctionArn }),
      expect.objectContaining({ n: 2, function_request_id: second.awsRequestId, function_name: 'nearstream-entry-test', cold_start: false }),
    ]);
  });

  it('publishes the metrics the handler added as EMF after each invocation, and a ColdStart metric on the first only', async () => {
    const handler = lambdaEntry(() => async () => powertools.metrics.addMetric('Handled', MetricUnit.Count, 1));

    await handler({}, invocation());
    await handler({}, invocation());

    const published = emf();
    expect(published.filter((line) => 'ColdStart' in line)).toEqual([expect.objectContaining({ ColdStart: 1, function_name: 'nearstream-entry-test', service: 'entry-test' })]);
    expect(published.filter((line) => 'Handled' in line)).toEqual([
      expect.objectContaining({ Handled: 1, service: 'entry-test' }),
      expect.objectContaining({ Handled: 1, service: 'entry-test' }),
    ]);
    expect(powertools.metrics.hasStoredMetrics()).toBe(false);
  });

  it('publishes the metrics of a handler that throws, and the error still reaches the runtime', async () => {
    const handler = lambdaEntry(() => async () => {
      powertools.metrics.addMetric('Attempted', MetricUnit.Count, 1);
      throw new Error('the title is gone');
    });

    await expect(handler({}, invocation())).rejects.toThrow('the title is gone');

    expect(emf().filter((line) => 'Attempted' in line)).toEqual([expect.objectContaining({ Attempted: 1 })]);
    expect(powertools.metrics.hasStoredMetrics()).toBe(false);
  });

  it('prints no empty-metrics warning for an invocation that added no metric', async () => {
    const handler = lambdaEntry(() => async () => 'nothing measured');

    await handler({}, invocation());
    await handler({}, invocation());

    expect(printed.filter((line) => line.includes('No application metrics'))).toEqual([]);
    expect(emf().filter((line) => !('ColdStart' in line))).toEqual([]);
  });

  it('builds the dependencies once per execution environment and hands every invocation the same handler', async () => {
    const build = jest.fn(() => {
      const client = { id: Symbol('client') };
      return async (_event: unknown, context: Context) => ({ client, requestId: context.awsRequestId });
    });
    const handler = lambdaEntry(build);
    const contexts = [invocation(), invocation(), invocation()];

    const results = [];
    for (const context of contexts) {
      results.push(await handler({}, context));
    }

    expect(build).toHaveBeenCalledTimes(1);
    expect(new Set(results.map((result) => result.client)).size).toBe(1);
    expect(results.map((result) => result.requestId)).toEqual(contexts.map((context) => context.awsRequestId));
  });

  it('builds again on the next invocation after a build that threw, instead of keeping the failure', async () => {
    let tableName: string | undefined;
    const build = jest.fn(() => {
      if (!tableName) {
        throw new Error('Environment variable CONTROL_TABLE_NAME is not set');
      }
      const table = tableName;
      return async () => table;
    });
    const handler = lambdaEntry(build);

    await expect(handler({}, invocation())).rejects.toThrow('CONTROL_TABLE_NAME is not set');
    tableName = 'nearstream-control';
    const answers = [await handler({}, invocation()), await handler({}, invocation())];

    expect(answers).toEqual(['nearstream-control', 'nearstream-control']);
    expect(build).toHaveBeenCalledTimes(2);
  });

  describe('with tracing on, as in Lambda', () => {
    /** Runs `invoke` as Lambda does, under a segment of the invocation's own; returns that segment. */
    async function underInvocationSegment(invoke: () => Promise<unknown>) {
      const { tracer } = powertools;
      // While tracing is off, the Tracer hands out a detached subsegment: a stand-in for Lambda's facade segment.
      const facade = tracer.getSegment()!;
      const tracing = jest.spyOn(tracer, 'isTracingEnabled').mockReturnValue(true);
      try {
        await tracer.provider.getNamespace().runPromise(async () => {
          tracer.provider.setSegment(facade);
          await invoke().catch(() => undefined);
        });
      } finally {
        tracing.mockRestore();
      }
      return facade;
    }

    it("records the handler in a '## <handler>' subsegment with cold start, service and response", async () => {
      const handler = lambdaEntry(() => async () => ({ planned: 3 }), { captureResponse: true });

      const facade = await underInvocationSegment(() => handler({}, invocation()));

      expect(facade.subsegments).toHaveLength(1);
      const traced = JSON.parse(JSON.stringify(facade.subsegments![0]));
      expect(traced).toMatchObject({
        name: '## index.handler',
        annotations: { ColdStart: true, Service: 'entry-test' },
        metadata: { 'entry-test': { 'index.handler response': { planned: 3 } } },
        end_time: expect.any(Number),
      });
    });

    it('records the error of a handler that throws, and leaves out responses unless asked (they may carry credentials)', async () => {
      const failing = lambdaEntry(() => async () => Promise.reject(new Error('listing failed')));
      const signing = lambdaEntry(() => async () => ({ url: 'https://edge.example/signed?token=secret' }));

      const failed = await underInvocationSegment(() => failing({}, invocation()));
      const signed = await underInvocationSegment(() => signing({}, invocation()));

      expect(JSON.parse(JSON.stringify(failed.subsegments![0]))).toMatchObject({ fault: true, cause: { exceptions: [{ message: 'listing failed' }] } });
      expect(signed.subsegments).toHaveLength(1);
      expect(JSON.stringify(signed.subsegments![0])).not.toContain('secret');
    });
  });
});
