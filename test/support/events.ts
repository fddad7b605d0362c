import type { APIGatewayProxyEventV2 } from 'aws-lambda';

interface EventOptions {
  readonly body?: unknown;
  readonly rawBody?: string;
  readonly query?: Record<string, string>;
  readonly pathParameters?: Record<string, string>;
  readonly sourceIp?: string;
}

function baseEvent(routeKey: string, options: EventOptions, authorizer: unknown): APIGatewayProxyEventV2 {
  const [method, path] = routeKey.split(' ');
  return {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString: new URLSearchParams(options.query ?? {}).toString(),
    headers: { 'content-type': 'application/json' },
    queryStringParameters: options.query,
    pathParameters: options.pathParameters,
    body: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
    isBase64Encoded: false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      requestId: 'request-1',
      routeKey,
      stage: '$default',
      time: '',
      timeEpoch: 0,
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: options.sourceIp ?? '192.0.2.1', userAgent: 'test' },
      authorizer,
    },
  } as unknown as APIGatewayProxyEventV2;
}

/** An API Gateway event as the JWT authorizer passes it on for viewer `sub`. */
export function viewerEvent(routeKey: string, sub: string | undefined, options: EventOptions = {}): APIGatewayProxyEventV2 {
  return baseEvent(routeKey, options, sub === undefined ? undefined : { jwt: { claims: { sub }, scopes: [] } });
}

/** An API Gateway event as the IAM authorizer passes it on for a SigV4-signed appliance request. */
export function applianceEvent(routeKey: string, principalArn: string, options: EventOptions = {}): APIGatewayProxyEventV2 {
  return baseEvent(routeKey, options, { iam: { userArn: principalArn, accountId: '123456789012' } });
}

export function bodyOf(result: { body?: string }): Record<string, unknown> {
  return JSON.parse(result.body ?? '{}');
}
