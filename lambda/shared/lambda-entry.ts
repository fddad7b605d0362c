import type { Context } from 'aws-lambda';
import { logger, metrics, tracer } from './powertools';

/** What the Lambda runtime calls: one event, and the context of its invocation. */
export type LambdaHandler<E, R> = (event: E, context: Context) => Promise<R>;

export interface LambdaEntryOptions {
  /**
   * Whether the handler's response goes into its trace as metadata. Off by default: API responses
   * can be large (a catalog page outgrows X-Ray's 64 KB segment, losing the subsegment), personal
   * (a viewer's home) or credentials (signed URLs), and anyone who can read traces would read them.
   * Turn it on for a function whose small result helps (a scheduled run's summary).
   * @default false
   */
  readonly captureResponse?: boolean;
}

/**
 * The `handler` export of every Nearstream function: Powertools as its handler decorators and
 * middlewares would use it, for the function-style handlers Nearstream writes (the decorators need
 * a class, `logMetrics` warns on every invocation that added no metric, and middy is not a
 * dependency).
 *
 * `build` wires the handler to its dependencies (SDK clients, stores, settings read from the
 * environment) on the first invocation of an execution environment, and that handler serves every
 * later one. A build that throws (a missing variable, a bad setting) is not kept: the next
 * invocation builds again. Each invocation then
 * - adds its context to the shared logger, so every line names the request, function and cold start;
 * - publishes a `ColdStart` metric on the first invocation (of an on-demand environment: Powertools
 *   counts no cold start under provisioned concurrency, nor outside Lambda);
 * - runs the handler in a `## <handler>` X-Ray subsegment annotated with cold start and service and
 *   carrying the response or error (outside Lambda tracing is off and this is a plain call);
 * - publishes the metrics the handler added to the shared `metrics`, whether it returned or threw.
 */
export function lambdaEntry<E, R>(build: () => LambdaHandler<E, R>, options: LambdaEntryOptions = {}): LambdaHandler<E, R> {
  const captureResponse = options.captureResponse ?? false;
  let built: LambdaHandler<E, R> | undefined;
  return async (event, context) => {
    logger.refreshSampleRateCalculation();
    logger.addContext(context);
    metrics.captureColdStartMetric(context.functionName);
    try {
      return await traced(captureResponse, () => {
        built ??= build();
        return built(event, context);
      });
    } finally {
      // Publishing an empty store prints Powertools' "no application metrics" warning, and most
      // functions add no metric of their own.
      if (metrics.hasStoredMetrics()) {
        metrics.publishStoredMetrics();
      }
    }
  };
}

/** Powertools' manual instrumentation of a function-style handler (as in the Tracer's own docs). */
async function traced<R>(captureResponse: boolean, handle: () => Promise<R>): Promise<R> {
  const invocation = tracer.isTracingEnabled() ? tracer.getSegment() : undefined;
  if (!invocation) {
    return handle();
  }
  const handlerName = process.env._HANDLER;
  const subsegment = invocation.addNewSubsegment(`## ${handlerName}`);
  tracer.setSegment(subsegment);
  tracer.annotateColdStart();
  tracer.addServiceNameAnnotation();
  try {
    const result = await handle();
    if (captureResponse) {
      tracer.addResponseAsMetadata(result, handlerName);
    }
    return result;
  } catch (error) {
    tracer.addErrorAsMetadata(error as Error);
    throw error;
  } finally {
    subsegment.close();
    tracer.setSegment(invocation);
  }
}
