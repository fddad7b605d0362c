import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/** How a route is authorized, as API Gateway would: none, a viewer JWT, or SigV4 (IAM). */
export type LocalAuth = 'none' | 'viewer' | 'appliance';

export interface LocalRoute {
  readonly method: string;
  /** An API Gateway route path, e.g. `/titles/{titleId}`. */
  readonly path: string;
  readonly auth: LocalAuth;
  readonly handler: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;
}

/**
 * LOCAL STAND-IN for API Gateway, for the local platform and tests: turns HTTP requests on a
 * loopback port into API Gateway v2 events for the real handlers. It authorizes the way the real
 * API is configured but does not verify credentials: an appliance route needs a SigV4
 * Authorization header and its caller is `arn:aws:iam::000000000000:user/<access key id>`; a
 * viewer route needs a Bearer JWT whose `sub` it reads without checking the signature. Never expose
 * it beyond loopback.
 */
export class LocalGateway {
  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(routes: readonly LocalRoute[], port = 0): Promise<LocalGateway> {
    const compiled = routes.map((route) => ({
      route,
      pattern: new RegExp(`^${route.path.replace(/\{(\w+)\}/g, (_, name: string) => `(?<${name}>[^/]+)`)}$`),
    }));
    const server = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        void dispatch(compiled, request, Buffer.concat(chunks)).then((result) => {
          response.writeHead(result.statusCode ?? 200, result.headers as http.OutgoingHttpHeaders);
          response.end(result.body ?? '');
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return new LocalGateway(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function reply(statusCode: number, message: string): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message }) };
}

async function dispatch(
  routes: readonly { route: LocalRoute; pattern: RegExp }[],
  request: http.IncomingMessage,
  body: Buffer,
): Promise<APIGatewayProxyStructuredResultV2> {
  const url = new URL(request.url ?? '/', 'http://local');
  const method = request.method ?? 'GET';
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
    const claims = token ? decodeJwtClaims(token) : undefined;
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
      requestId: `local-${Date.now()}`,
      routeKey: `${method} ${match.route.path}`,
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
      http: { method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: request.socket.remoteAddress ?? '127.0.0.1', userAgent: request.headers['user-agent'] ?? '' },
      authorizer,
    },
  } as unknown as APIGatewayProxyEventV2;
  return match.route.handler(event);
}

function decodeJwtClaims(token: string): Record<string, unknown> | undefined {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
    return typeof claims === 'object' && claims !== null && typeof claims.sub === 'string' ? claims : undefined;
  } catch {
    return undefined;
  }
}
