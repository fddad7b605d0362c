import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { API_CORS, ApiAuth } from '../../lambda/shared/api-routes';
import { FaultFile } from './fault-injection';

/** API Gateway HTTP APIs' payload quota. */
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

/** The function construct's default timeout and memory, which the API's functions keep. */
const API_FUNCTION_TIMEOUT_MS = 10_000;
const API_FUNCTION_MEMORY_MB = 512;

export type LocalHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

export interface LocalRoute {
  readonly method: string;
  /** An API Gateway route path, e.g. `/titles/{titleId}`. */
  readonly path: string;
  readonly auth: ApiAuth;
  readonly handler: LocalHandler;
  /**
   * The name of the function behind the route, as its invocations' context gives it.
   * @default 'local-function'
   */
  readonly functionName?: string;
}

/** A function as its invocations' context describes it. */
export interface LocalFunction {
  readonly functionName: string;
  /** The region its ARN names. */
  readonly region: string;
  readonly timeoutMs: number;
  readonly memorySizeMb: number;
}

/**
 * LOCAL STAND-IN for the context Lambda hands one invocation: a request id of its own, and the
 * time left until `timeoutMs` from now. The account is the local platform's `000000000000`.
 */
export function localInvocationContext(fn: LocalFunction): Context {
  const deadlineMs = Date.now() + fn.timeoutMs;
  const gone = () => {
    throw new Error('context.done, fail and succeed are not in the Node.js runtimes Nearstream uses: return or throw');
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: fn.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${fn.region}:000000000000:function:${fn.functionName}`,
    memoryLimitInMB: String(fn.memorySizeMb),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${fn.functionName}`,
    logStreamName: `${new Date().toISOString().slice(0, 10).replace(/-/g, '/')}/[$LATEST]${randomUUID().replace(/-/g, '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
    done: gone,
    fail: gone,
    succeed: gone,
  };
}

/** Checks a viewer's bearer token as the API's JWT authorizer does and returns its claims; throws when it is not valid. */
export type ViewerTokenVerifier = (token: string) => Promise<Record<string, unknown>>;

export interface LocalGatewayOptions {
  /** @default - a free port */
  readonly port?: number;
  /** Required when a route is for viewers. */
  readonly viewerTokens?: ViewerTokenVerifier;
  /**
   * Origins browsers may call from, answered as the deployed API's CORS preflight configuration
   * (`API_CORS`) answers them.
   * @default - no CORS headers
   */
  readonly corsAllowedOrigins?: readonly string[];
  /**
   * The region the functions' context names.
   * @default 'us-east-1'
   */
  readonly region?: string;
  /**
   * A chaos drill's fault file (`FaultSettings` JSON), read per request as the FIS Lambda extension
   * reads its configuration: a delayed invocation waits before its handler, a failed one is a 502.
   * @default - no faults
   */
  readonly faultFile?: string;
}

/**
 * LOCAL STAND-IN for API Gateway, for the local platform and tests: turns HTTP requests on a
 * loopback port into API Gateway v2 events for the real handlers, each invoked with a context of
 * its own (`localInvocationContext`), authorized as the real API is configured. A viewer route
 * needs a Bearer JWT that `viewerTokens` accepts (signature, issuer, audience, expiry: see
 * `jwtAuthorizer`); an appliance route needs a SigV4 Authorization header, whose signature it
 * does NOT check: its caller is `arn:aws:iam::000000000000:user/<access key id>`. A handler that
 * throws is a 500, as a Lambda error is behind API Gateway. Never expose it beyond loopback.
 */
export class LocalGateway {
  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(routes: readonly LocalRoute[], options: LocalGatewayOptions = {}): Promise<LocalGateway> {
    if (routes.some((route) => route.auth === 'viewer') && !options.viewerTokens) {
      throw new Error('LocalGateway: viewer routes need a viewerTokens verifier');
    }
    const compiled = routes.map((route) => ({
      route,
      pattern: new RegExp(`^${route.path.replace(/\{(\w+)\}/g, (_, name: string) => `(?<${name}>[^/]+)`)}$`),
    }));
    const faults = options.faultFile === undefined ? undefined : new FaultFile(options.faultFile);
    const server = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      let received = 0;
      request.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > MAX_PAYLOAD_BYTES) {
          // API Gateway refuses a payload over its quota before any authorizer or integration runs.
          request.pause();
          response.writeHead(413, { 'content-type': 'application/json', connection: 'close' }).end(JSON.stringify({ message: 'Request Entity Too Large' }));
          return;
        }
        chunks.push(chunk);
      });
      request.on('end', () => {
        if (received > MAX_PAYLOAD_BYTES) {
          return;
        }
        const cors = corsHeaders(request, options.corsAllowedOrigins ?? []);
        void dispatch(compiled, request, Buffer.concat(chunks), options, cors, faults)
          .catch(() => reply(500, 'Internal Server Error'))
          .then((result) => {
            response.writeHead(result.statusCode ?? 200, { ...(result.headers as http.OutgoingHttpHeaders), ...cors.headers });
            response.end(result.body ?? '');
          });
      });
    });
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', resolve);
    });
    return new LocalGateway(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}

interface Cors {
  readonly preflight: boolean;
  readonly headers: Record<string, string>;
}

/** API Gateway's CORS: a preflight from an allowed origin is answered before any authorizer; other answers carry the origin. */
function corsHeaders(request: http.IncomingMessage, allowed: readonly string[]): Cors {
  const origin = request.headers.origin;
  const preflight = request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined;
  if (!origin || !(allowed.includes('*') || allowed.includes(origin))) {
    return { preflight, headers: {} };
  }
  const allowOrigin = allowed.includes('*') ? '*' : origin;
  if (!preflight) {
    return { preflight, headers: { 'access-control-allow-origin': allowOrigin } };
  }
  return {
    preflight,
    headers: {
      'access-control-allow-origin': allowOrigin,
      'access-control-allow-methods': API_CORS.allowMethods.join(','),
      'access-control-allow-headers': API_CORS.allowHeaders.join(','),
      'access-control-max-age': String(API_CORS.maxAgeSeconds),
    },
  };
}

function reply(statusCode: number, message: string): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message }) };
}

async function dispatch(
  routes: readonly { route: LocalRoute; pattern: RegExp }[],
  request: http.IncomingMessage,
  body: Buffer,
  options: LocalGatewayOptions,
  cors: Cors,
  faults: FaultFile | undefined,
): Promise<APIGatewayProxyStructuredResultV2> {
  if (!(request.url ?? '/').startsWith('/') || (request.url ?? '/').startsWith('//')) {
    return reply(400, 'Bad Request');
  }
  const url = new URL(request.url ?? '/', 'http://local');
  const method = request.method ?? 'GET';
  if (cors.preflight) {
    return { statusCode: 204 };
  }
  const match = routes.map(({ route, pattern }) => ({ route, found: pattern.exec(url.pathname) })).find((m) => m.found && m.route.method === method);
  if (!match?.found) {
    return reply(404, 'Not Found');
  }
  const authorization = request.headers.authorization ?? '';
  let authorizer: unknown;
  if (match.route.auth === 'appliance') {
    const credential = /Credential=([^/]+)\//.exec(authorization);
    if (!authorization.startsWith('AWS4-HMAC-SHA256') || !credential) {
      return reply(403, 'Missing Authentication Token');
    }
    authorizer = { iam: { userArn: `arn:aws:iam::000000000000:user/${credential[1]}`, accountId: '000000000000' } };
  } else if (match.route.auth === 'viewer') {
    const token = /^Bearer (.+)$/.exec(authorization)?.[1];
    const claims = token ? await options.viewerTokens!(token).catch(() => undefined) : undefined;
    if (!claims) {
      return reply(401, 'Unauthorized');
    }
    authorizer = { jwt: { claims, scopes: [] } };
  }
  const event = {
    version: '2.0',
    routeKey: `${method} ${match.route.path}`,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')])),
    queryStringParameters: url.search ? Object.fromEntries(url.searchParams.entries()) : undefined,
    pathParameters: match.found.groups ? { ...match.found.groups } : undefined,
    body: body.length > 0 ? body.toString('utf8') : undefined,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: url.host,
      domainPrefix: 'local',
      requestId: randomUUID(),
      routeKey: `${method} ${match.route.path}`,
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
      http: { method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: request.socket.remoteAddress ?? '127.0.0.1', userAgent: request.headers['user-agent'] ?? '' },
      authorizer,
    },
  } as unknown as APIGatewayProxyEventV2;
  const context = localInvocationContext({
    functionName: match.route.functionName ?? 'local-function',
    region: options.region ?? 'us-east-1',
    timeoutMs: API_FUNCTION_TIMEOUT_MS,
    memorySizeMb: API_FUNCTION_MEMORY_MB,
  });
  const fault = faults?.next(match.route.functionName ?? 'local-function') ?? { kind: 'none' };
  if (fault.kind === 'error') {
    // 502 is API Gateway's answer when the function behind a route fails; another status is the
    // answer an injected HTTP integration response makes the function give.
    return reply(fault.status, fault.status === 502 ? 'Internal Server Error' : (http.STATUS_CODES[fault.status] ?? 'Error'));
  }
  if (fault.kind === 'delay') {
    await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
  }
  return match.route.handler(event, context);
}
