import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { ZodType } from 'zod';
import { REQUEST_LIMITS } from './control-table';
import { logger } from './powertools';
import { SUBJECT_PATTERN } from './request-fields';

export type HttpResult = APIGatewayProxyStructuredResultV2 & { statusCode: number; body: string };

/** A failure the caller can act on: its status, a stable code, and a message naming what to change. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function invalid(field: string, rule: string): HttpError {
  return new HttpError(400, 'invalid-request', `${field}: ${rule}`, { field });
}

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

/** Default request-body limit; routes with bigger bodies say so. */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024;

/**
 * The request body's bytes (API Gateway hands binary bodies over in base64): 400 with `missing`
 * when there is none, 413 when over `maxBytes`.
 */
export function bodyBytes(event: APIGatewayProxyEventV2, maxBytes: number, missing: string): Buffer {
  if (event.body === undefined || event.body === null || event.body === '') {
    throw invalid('body', missing);
  }
  const raw = event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
  if (raw.byteLength > maxBytes) {
    throw new HttpError(413, 'body-too-large', `body: is ${raw.byteLength} bytes; the limit is ${maxBytes}`, {
      field: 'body',
      limitBytes: maxBytes,
    });
  }
  return raw;
}

/** Parses and validates a JSON body: 413 when too large, 400 naming the first bad field. */
export function parseBody<T>(event: APIGatewayProxyEventV2, schema: ZodType<T>, maxBytes = DEFAULT_MAX_BODY_BYTES): T {
  const raw = bodyBytes(event, maxBytes, 'a JSON body is required');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw invalid('body', 'is not valid JSON');
  }
  return validate(parsed, schema, 'body');
}

/** Validates query-string or path parameters, naming the bad one. */
export function parseParameters<T>(parameters: Record<string, string | undefined> | undefined, schema: ZodType<T>, where: 'query' | 'path'): T {
  return validate(parameters ?? {}, schema, where);
}

function validate<T>(value: unknown, schema: ZodType<T>, root: string): T {
  const result = schema.safeParse(value);
  if (result.success) {
    return result.data;
  }
  const issue = result.error.issues[0];
  // An unknown key is reported on its parent object; name the key itself.
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
  const field = path.reduce<string>(
    (where, segment) => (typeof segment === 'number' ? `${where}[${segment}]` : `${where}.${String(segment)}`),
    root,
  );
  throw invalid(field, issue.message);
}

/**
 * The viewer's account id: the JWT authorizer's verified `sub` claim. The issuer vouches for the
 * token, not for the claim's shape, and the subject becomes a key: one that could not be (too long,
 * control characters) is refused here rather than by the table.
 */
export function viewerAccountId(event: APIGatewayProxyEventV2): string {
  const claims = (event.requestContext as { authorizer?: { jwt?: { claims?: Record<string, unknown> } } } | undefined)?.authorizer
    ?.jwt?.claims;
  const sub = claims?.sub;
  if (typeof sub !== 'string' || sub === '') {
    throw new HttpError(401, 'unauthenticated', 'token.sub: a viewer token with a subject is required', { field: 'token.sub' });
  }
  if (!SUBJECT_PATTERN.test(sub)) {
    throw new HttpError(
      401,
      'unauthenticated',
      `token.sub: must be 1-${REQUEST_LIMITS.subjectChars} printable ASCII characters, as OIDC subjects are`,
      { field: 'token.sub' },
    );
  }
  return sub;
}

const ARN = /^arn:aws[a-z-]*:(?:iam|sts)::\d{12}:\S+$/;

/** The IAM principal that signed an appliance's request (the IAM authorizer's caller ARN). */
export function callerPrincipalArn(event: APIGatewayProxyEventV2): string {
  const iam = (event.requestContext as { authorizer?: { iam?: { userArn?: unknown } } } | undefined)?.authorizer?.iam;
  const arn = iam?.userArn;
  if (typeof arn !== 'string' || arn.length > REQUEST_LIMITS.principalArnChars || !ARN.test(arn)) {
    throw new HttpError(401, 'unauthenticated', 'Authorization: requests must be signed with SigV4 by an appliance role', {
      field: 'Authorization',
    });
  }
  return arn;
}

type Handler = (event: APIGatewayProxyEventV2, context?: Context) => Promise<HttpResult>;

/**
 * Wraps a route handler so that every failure becomes a JSON answer: an `HttpError` as itself,
 * anything else as a 500 carrying the request id and nothing of the stack.
 */
export function httpHandler(handler: Handler): Handler {
  return async (event, context) => {
    try {
      return await handler(event, context);
    } catch (error) {
      if (error instanceof HttpError) {
        return json(error.statusCode, { error: error.code, message: error.message, ...error.details });
      }
      const requestId = event.requestContext?.requestId;
      logger.error('unhandled error', { error: error as Error, requestId, routeKey: event.routeKey });
      return json(500, { error: 'internal', message: 'the request failed; retry, or report the request id', requestId });
    }
  };
}

type RouteHandler = (event: APIGatewayProxyEventV2) => Promise<HttpResult>;

/** One handler serving several routes of the API, chosen by the event's route key. */
export function routedHandler(routes: Record<string, RouteHandler>): Handler {
  return httpHandler(async (event) => {
    const route = routes[event.routeKey];
    if (!route) {
      throw new HttpError(404, 'no-route', `no route ${event.routeKey}`);
    }
    return route(event);
  });
}
