import { AsyncLocalStorage } from 'node:async_hooks';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { Client } from '@smithy/core/client';
import { AwsCall } from './call-permissions';

/** Where calls made inside one `recordingAs` scope go. */
export type CallSink = (call: Promise<AwsCall>) => void;

/** The minimal SDK client the recorder reads: its service and region. */
interface SdkClient {
  readonly config: { readonly serviceId?: string; readonly region?: string | (() => Promise<string>) };
}

/** A command as the SDK sends it; DocumentClient commands carry their unmarshalled input. */
interface SdkCommand {
  readonly input?: Record<string, unknown>;
}

const scope = new AsyncLocalStorage<CallSink>();
let installed = false;

/**
 * Records every AWS SDK v3 call made while `fn` runs, and in everything it starts (async context
 * follows awaits, timers and callbacks), into `sink`; calls made outside, such as a test's own
 * setup through the same client, are not recorded.
 *
 * Every SDK v3 client, the DynamoDB DocumentClient included, sends through `Client#send` of
 * `@smithy/core`: the DocumentClient marshals inside its commands' middleware and never calls the
 * DynamoDB client's `send`, so each call is seen once, with the input the handler wrote. Clients
 * mocked with aws-sdk-client-mock replace `send` on their own class and are not seen here; the
 * check reads those mocks' call history instead.
 */
export function recordingAs<R>(sink: CallSink, fn: () => Promise<R>): Promise<R> {
  installRecorder();
  return scope.run(sink, fn);
}

function installRecorder(): void {
  if (installed) {
    return;
  }
  for (const clientClass of [DynamoDBDocumentClient, S3Client]) {
    if (!(clientClass.prototype instanceof Client)) {
      throw new Error(`${clientClass.name} no longer extends @smithy/core's Client: the IAM check would miss its calls; patch its send instead`);
    }
  }
  const prototype = Client.prototype as unknown as { send: (this: SdkClient, command: SdkCommand, ...rest: unknown[]) => unknown };
  const send = prototype.send;
  prototype.send = function recordedSend(this: SdkClient, command: SdkCommand, ...rest: unknown[]) {
    const result = send.call(this, command, ...rest);
    scope.getStore()?.(describeCall(this, command, result));
    return result;
  };
  installed = true;
}

/** The call as the check needs it, once its outcome (for a failure, its HTTP status) is known. */
export async function describeCall(client: unknown, command: unknown, result?: unknown): Promise<AwsCall> {
  const { config } = client as SdkClient;
  const failedWithStatus = await Promise.resolve(result).then(
    () => undefined,
    (error: { $metadata?: { httpStatusCode?: number } }) => error?.$metadata?.httpStatusCode ?? 0,
  );
  const region = typeof config.region === 'function' ? await config.region().catch(() => undefined) : config.region;
  return {
    service: (config.serviceId ?? 'unknown').toLowerCase().replace(/\s+/g, ''),
    operation: (command as object).constructor.name.replace(/Command$/, ''),
    input: (command as SdkCommand).input ?? {},
    region: region ?? 'unknown',
    failedWithStatus,
  };
}
