import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

/**
 * Created once per execution environment and shared by every handler in it. Service name,
 * namespace and log level come from the POWERTOOLS_* variables the function construct sets.
 * `lambdaEntry` gives them each invocation's context and publishes the metrics handlers add.
 */
export const logger = new Logger();
export const metrics = new Metrics();
export const tracer = new Tracer();
