import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { AwsCall } from './call-permissions';

/**
 * A loopback reverse proxy in front of a local stand-in for an AWS endpoint (the S3 server, the
 * local API gateway) that records each request as the AWS call it would be: the service and
 * region from its SigV4 credential scope, the operation from its method and path. For a process
 * the test cannot reach into, such as the bundled appliance agent, which signs its own requests
 * without the SDK. Requests pass through unchanged, Host header included, so signatures still hold.
 */
export class SigV4RecordingProxy {
  private constructor(
    private readonly server: http.Server,
    private readonly calls: AwsCall[],
    readonly url: string,
  ) {}

  static async start(target: string): Promise<SigV4RecordingProxy> {
    const upstream = new URL(target);
    const calls: AwsCall[] = [];
    const server = http.createServer((request, response) => {
      const forwarded = http.request(
        { host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, headers: request.headers, agent: false },
        (answer) => {
          const status = answer.statusCode ?? 502;
          calls.push(awsCallOf(request, status));
          response.writeHead(status, answer.headers);
          answer.pipe(response);
        },
      );
      forwarded.on('error', () => response.destroy());
      response.on('close', () => {
        if (!response.writableFinished) {
          forwarded.destroy();
        }
      });
      request.pipe(forwarded);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new SigV4RecordingProxy(server, calls, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }

  /** The calls recorded since the last `take`. */
  take(): AwsCall[] {
    return this.calls.splice(0);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The AWS call a path-style S3 request or an execute-api request stands for. */
function awsCallOf(request: http.IncomingMessage, status: number): AwsCall {
  const scope = /Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(request.headers.authorization ?? '');
  const url = new URL(request.url ?? '/', 'http://local');
  const method = request.method ?? 'GET';
  const [region, service] = scope ? [scope[1], scope[2]] : ['unknown', 'unsigned'];
  const failedWithStatus = status >= 400 ? status : undefined;
  if (service !== 's3') {
    return { service, operation: 'Invoke', input: { method, path: url.pathname }, region, failedWithStatus };
  }
  const [, bucket, ...keySegments] = url.pathname.split('/');
  const key = keySegments.map(decodeURIComponent).join('/');
  const query = url.searchParams;
  const operation = !key && query.get('list-type') === '2' ? 'ListObjectsV2' : ({ GET: 'GetObject', HEAD: 'HeadObject', PUT: 'PutObject' } as Record<string, string>)[method] ?? method;
  const input = {
    Bucket: decodeURIComponent(bucket),
    ...(key ? { Key: key } : {}),
    ...(query.has('versionId') ? { VersionId: query.get('versionId') } : {}),
    ...(query.has('prefix') ? { Prefix: query.get('prefix') } : {}),
  };
  return { service, operation, input, region, failedWithStatus };
}
