import * as fs from 'node:fs';
import * as vm from 'node:vm';
import { FunctionValue, FunctionValues } from './request-parts';

/** How long one run may take; CloudFront's own budget is far smaller, this only stops a runaway loop. */
const RUN_TIMEOUT_MS = 1000;
const INVOKE = new vm.Script('handler(globalThis.__viewerRequestEvent)', { filename: 'local-cloudfront-invoke.js' });

/** The event CloudFront passes a viewer-request function (CloudFront Functions, event version 1.0). */
export interface ViewerRequestEvent {
  readonly version: '1.0';
  readonly context: {
    readonly distributionDomainName: string;
    readonly distributionId: string;
    readonly eventType: 'viewer-request';
    readonly requestId: string;
  };
  readonly viewer: { readonly ip: string };
  readonly request: {
    readonly method: string;
    /** The path as the viewer sent it, still percent-encoded. */
    readonly uri: string;
    /** Values as they arrived, still percent-encoded. */
    readonly querystring: FunctionValues;
    /** Lowercase names; the Cookie header is not among them but in `cookies`. */
    readonly headers: FunctionValues;
    readonly cookies: FunctionValues;
  };
}

/** A response the function answered with instead of passing the request on. */
export interface FunctionResponse {
  readonly statusCode: number;
  readonly statusDescription?: string;
  readonly headers: FunctionValues;
  /** One `name=value; attributes` per cookie the function set. */
  readonly setCookies: readonly string[];
  readonly body: Buffer;
}

/** What the function decided: pass the request on, maybe to another uri, or answer it itself. */
export type FunctionOutcome = { readonly kind: 'request'; readonly uri: string } | { readonly kind: 'response'; readonly response: FunctionResponse };

/** CloudFront's codes for a function that failed (503) rather than decided. */
export class ViewerFunctionError extends Error {
  constructor(
    readonly code: 'FunctionExecutionError' | 'FunctionValidationError',
    message: string,
  ) {
    super(message);
  }
}

/**
 * A CloudFront Function's source run as CloudFront runs it: a script that defines `handler(event)`,
 * in its own global scope with `Buffer` and `console` at hand. The scope keeps the function's
 * globals apart from ours; it is not a security boundary.
 */
export class ViewerRequestFunction {
  private constructor(
    private readonly context: vm.Context,
    private readonly file: string,
  ) {}

  static fromFile(file: string): ViewerRequestFunction {
    const context = vm.createContext({ Buffer, console });
    new vm.Script(fs.readFileSync(file, 'utf8'), { filename: file }).runInContext(context, { timeout: RUN_TIMEOUT_MS });
    if (typeof context.handler !== 'function') {
      throw new Error(`${file} defines no handler(event) function`);
    }
    return new ViewerRequestFunction(context, file);
  }

  async run(event: ViewerRequestEvent): Promise<FunctionOutcome> {
    let result: unknown;
    try {
      this.context.__viewerRequestEvent = event;
      result = await INVOKE.runInContext(this.context, { timeout: RUN_TIMEOUT_MS });
    } catch (error) {
      throw new ViewerFunctionError('FunctionExecutionError', `${this.file} failed: ${(error as Error).message}`);
    } finally {
      delete this.context.__viewerRequestEvent;
    }
    return outcomeOf(result, this.file);
  }
}

function outcomeOf(result: unknown, file: string): FunctionOutcome {
  const returned = (result ?? {}) as Record<string, unknown>;
  if (typeof returned.statusCode === 'number') {
    return { kind: 'response', response: responseOf(returned) };
  }
  if (typeof returned.uri === 'string' && returned.uri.startsWith('/')) {
    return { kind: 'request', uri: returned.uri };
  }
  throw new ViewerFunctionError('FunctionValidationError', `${file}: handler returned neither a request (a uri starting with '/') nor a response (a numeric statusCode)`);
}

interface FunctionCookie {
  value: string;
  attributes?: string;
  multiValue?: { value: string; attributes?: string }[];
}

function responseOf(returned: Record<string, unknown>): FunctionResponse {
  const headers: FunctionValues = {};
  for (const [name, header] of Object.entries((returned.headers ?? {}) as Record<string, FunctionValue>)) {
    headers[name.toLowerCase()] = { value: String(header.value), multiValue: header.multiValue?.map((one) => ({ value: String(one.value) })) };
  }
  const setCookies = Object.entries((returned.cookies ?? {}) as Record<string, FunctionCookie>).flatMap(([name, cookie]) =>
    (cookie.multiValue ?? [cookie]).map((one) => `${name}=${one.value}${one.attributes ? `; ${one.attributes}` : ''}`),
  );
  const body = returned.body as string | { data: string; encoding?: string } | undefined;
  return {
    statusCode: returned.statusCode as number,
    statusDescription: typeof returned.statusDescription === 'string' ? returned.statusDescription : undefined,
    headers,
    setCookies,
    body:
      body === undefined
        ? Buffer.alloc(0)
        : typeof body === 'string'
          ? Buffer.from(body, 'utf8')
          : Buffer.from(body.data, body.encoding === 'base64' ? 'base64' : 'utf8'),
  };
}
