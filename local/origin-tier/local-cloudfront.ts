import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { byteRangeOf, contentTypeOf, ObjectFetcher, OriginObject, sliceOf } from './origin-objects';
import { cookiePairs, firstValues, functionValues, queryPairs } from './request-parts';
import { denialOf, TrustedKeys, trustedKeys } from './signed-request';
import { FunctionOutcome, FunctionResponse, ViewerFunctionError, ViewerRequestEvent, ViewerRequestFunction } from './viewer-request-function';

export { s3ObjectFetcher } from './origin-objects';
export type { ObjectFetcher, OriginObject } from './origin-objects';
export type { FunctionValue, FunctionValues } from './request-parts';
export { denialOf, trustedKeys } from './signed-request';
export type { Denial, DenialCode, SignedRequest, TrustedKeys } from './signed-request';
export { ViewerFunctionError, ViewerRequestFunction } from './viewer-request-function';
export type { FunctionOutcome, FunctionResponse, ViewerRequestEvent } from './viewer-request-function';

/** The origin tier's viewer-request function, as `OriginRenditionGuard` deploys it. */
export const RENDITION_GUARD_FILE = path.join(__dirname, '..', '..', 'lambda', 'edge', 'rendition-guard.js');

/** `AllowedMethods.ALLOW_GET_HEAD_OPTIONS`, as the origin tier's distribution allows. */
const ALLOWED_METHODS = ['GET', 'HEAD', 'OPTIONS'];
const DISTRIBUTION_ID = 'ELOCALCLOUDFRONT';
const X_CACHE = {
  miss: 'Miss from local-cloudfront',
  error: 'Error from local-cloudfront',
  functionResponse: 'FunctionGeneratedResponse from local-cloudfront',
};

export interface LocalCloudFrontProps {
  /** @default - a free port */
  readonly port?: number;
  /** The trusted key group: a PEM public key by key pair id. */
  readonly publicKeys: Readonly<Record<string, string>>;
  /** Reads the origin bucket; `s3ObjectFetcher` reads it through an S3 client. */
  readonly fetchObject: ObjectFetcher;
}

interface Distribution {
  readonly keys: TrustedKeys;
  readonly viewerRequest: ViewerRequestFunction;
  readonly fetchObject: ObjectFetcher;
}

/**
 * LOCAL STAND-IN for the origin tier's CloudFront distribution (`OriginTier`), for the local
 * platform and tests: on a loopback port, it checks every request's signed URL or signed cookies
 * as CloudFront does for a trusted key group, runs the real viewer-request CloudFront Function
 * (`lambda/edge/rendition-guard.js`) on what passes, then serves the object from the origin bucket
 * with byte ranges. Refusals carry CloudFront's XML error with the reason spelled out. Like the
 * distribution's `CORS_ALLOW_ALL_ORIGINS` (Managed-SimpleCORS) policy, it adds
 * `Access-Control-Allow-Origin: *` to every answer to a request with an Origin, and answers no
 * preflight itself: an OPTIONS request reaches the bucket, which has no CORS configuration. A
 * missing object is a 404 NoSuchKey, where the deployed bucket (GetObject only, no ListBucket)
 * answers 403. It speaks plain HTTP and caches nothing. Never expose it beyond loopback.
 */
export class LocalCloudFront {
  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(props: LocalCloudFrontProps): Promise<LocalCloudFront> {
    const distribution: Distribution = {
      keys: trustedKeys(props.publicKeys),
      viewerRequest: ViewerRequestFunction.fromFile(RENDITION_GUARD_FILE),
      fetchObject: props.fetchObject,
    };
    const server = http.createServer((request, response) => {
      answer(distribution, request, response).catch((error: Error) => {
        if (response.headersSent) {
          response.destroy(error);
        } else {
          sendError(response, 500, 'InternalError', `local-cloudfront failed: ${error.message}`, X_CACHE.error);
        }
      });
    });
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(props.port ?? 0, '127.0.0.1', resolve);
    });
    return new LocalCloudFront(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}

async function answer(distribution: Distribution, request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
  if (request.headers.origin !== undefined) {
    response.setHeader('access-control-allow-origin', '*');
  }
  const method = request.method ?? 'GET';
  if (!ALLOWED_METHODS.includes(method)) {
    response.setHeader('allow', ALLOWED_METHODS.join(', '));
    sendError(response, 405, 'MethodNotAllowed', `${method} is not allowed: the distribution allows ${ALLOWED_METHODS.join(', ')}`, X_CACHE.error);
    return;
  }
  const target = request.url ?? '/';
  const queryStart = target.indexOf('?');
  const uri = queryStart === -1 ? target : target.slice(0, queryStart);
  const rawQuery = queryStart === -1 ? '' : target.slice(queryStart + 1);
  const cookies = cookiePairs(request.headersDistinct.cookie ?? []);
  const host = request.headers.host ?? '';
  const viewerIp = (request.socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');

  const denial = denialOf({ origin: `http://${host}`, path: uri, rawQuery, cookies: firstValues(cookies), viewerIp }, distribution.keys, Math.floor(Date.now() / 1000));
  if (denial) {
    sendError(response, 403, denial.code, denial.message, X_CACHE.error);
    return;
  }

  const event: ViewerRequestEvent = {
    version: '1.0',
    context: { distributionDomainName: host, distributionId: DISTRIBUTION_ID, eventType: 'viewer-request', requestId: randomUUID() },
    viewer: { ip: viewerIp },
    request: {
      method,
      uri,
      querystring: functionValues(queryPairs(rawQuery)),
      headers: functionValues(
        Object.entries(request.headersDistinct)
          .filter(([name]) => name !== 'cookie')
          .flatMap(([name, values]) => (values ?? []).map((value): [string, string] => [name, value])),
      ),
      cookies: functionValues(cookies),
    },
  };
  let outcome: FunctionOutcome;
  try {
    outcome = await distribution.viewerRequest.run(event);
  } catch (error) {
    if (error instanceof ViewerFunctionError) {
      sendError(response, 503, error.code, error.message, X_CACHE.error);
      return;
    }
    throw error;
  }
  if (outcome.kind === 'response') {
    sendFunctionResponse(response, outcome.response);
  } else if (method === 'OPTIONS') {
    // What S3 answers an OPTIONS request on a bucket without CORS rules, which the origin bucket is.
    sendError(response, 403, 'CORSResponse', 'CORS is not enabled for this bucket.', X_CACHE.error);
  } else {
    await serveObject(distribution.fetchObject, request, response, outcome.uri);
  }
}

async function serveObject(fetchObject: ObjectFetcher, request: http.IncomingMessage, response: http.ServerResponse, uri: string): Promise<void> {
  let key: string;
  try {
    key = decodeURIComponent(uri.slice(1));
  } catch {
    sendError(response, 400, 'InvalidURI', `Couldn't parse the specified URI: ${uri}`, X_CACHE.error);
    return;
  }
  // The origin's keys have no empty, '.' or '..' segments, and the local S3 server maps keys onto
  // its directory: such a key could reach another bucket's files through a wildcard policy.
  if (key.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) {
    sendError(response, 400, 'InvalidURI', `the key '${key}' has an empty, '.' or '..' segment`, X_CACHE.error);
    return;
  }
  let object: OriginObject | undefined;
  try {
    object = await fetchObject(key);
  } catch (error) {
    sendError(response, 502, 'OriginError', `the origin bucket could not be read for '${key}': ${(error as Error).message}`, X_CACHE.error);
    return;
  }
  if (!object) {
    sendError(response, 404, 'NoSuchKey', `The specified key does not exist: ${key}`, X_CACHE.error);
    return;
  }
  const range = byteRangeOf(request.headers.range, object.size);
  if (range === 'unsatisfiable' || request.method === 'HEAD') {
    release(object);
  }
  if (range === 'unsatisfiable') {
    response.setHeader('content-range', `bytes */${object.size}`);
    sendError(response, 416, 'InvalidRange', `The requested range '${request.headers.range}' is not satisfiable for ${object.size} bytes`, X_CACHE.error);
    return;
  }
  response.writeHead(range ? 206 : 200, {
    'content-type': contentTypeOf(key, object),
    'content-length': range ? range.end - range.start + 1 : object.size,
    ...(range ? { 'content-range': `bytes ${range.start}-${range.end}/${object.size}` } : {}),
    'accept-ranges': 'bytes',
    'x-cache': X_CACHE.miss,
  });
  if (request.method === 'HEAD') {
    response.end();
    return;
  }
  const body = range ? sliceOf(object.body, range) : object.body;
  if (Buffer.isBuffer(body)) {
    response.end(body);
  } else {
    await pipeline(body, response);
  }
}

function release(object: OriginObject): void {
  if (!Buffer.isBuffer(object.body)) {
    object.body.destroy();
  }
}

function sendFunctionResponse(response: http.ServerResponse, answer: FunctionResponse): void {
  for (const [name, header] of Object.entries(answer.headers)) {
    response.setHeader(name, header.multiValue ? header.multiValue.map((one) => one.value) : header.value);
  }
  if (answer.setCookies.length > 0) {
    response.setHeader('set-cookie', [...answer.setCookies]);
  }
  response.setHeader('content-length', answer.body.length);
  response.setHeader('x-cache', X_CACHE.functionResponse);
  response.writeHead(answer.statusCode, answer.statusDescription);
  response.end(answer.body);
}

/** CloudFront's (and S3's) error document. */
function sendError(response: http.ServerResponse, statusCode: number, code: string, message: string, xCache: string): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error>`;
  response.writeHead(statusCode, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(body), 'x-cache': xCache });
  response.end(body);
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
