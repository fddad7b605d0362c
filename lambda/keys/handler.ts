import { KMSClient } from '@aws-sdk/client-kms';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { sharedDocumentClient } from '../shared/dynamodb';
import { requireEnv } from '../shared/env';
import { lambdaEntry } from '../shared/lambda-entry';
import { logger, tracer } from '../shared/powertools';
import { MAX_CPIX_REQUEST_BYTES, parseSpekeRequest, SPEKE_VERSION, SpekeRequest, SpekeRequestError } from './cpix';
import { ContentKeyStore } from './content-key-store';
import { RegionalKmsKeyWrapper } from './regional-key-wrapper';
import { KeyProvider } from './key-provider';

/**
 * The SPEKE v2.0 endpoint MediaConvert calls: `POST` with a CPIX 2.3 document, through a REST API
 * (v1 proxy events: IAM authorization and a resource policy admit MediaConvert's role only).
 *
 * - 200 `application/xml`: the CPIX response, with `X-Speke-Version: 2.0` and
 *   `X-Speke-User-Agent` (and the SPEKE v1 name `Speke-User-Agent`, same value);
 * - 400 `text/plain`: the caller's mistake, in one line naming the header, element or attribute
 *   (`X-Speke-Version: Unsupported SPEKE version ...`, `ContentKeyList/ContentKey[2]@kid: ...`);
 * - 405 for a method other than POST;
 * - 500 `text/plain`: our fault (the table, KMS, a stored key that cannot be opened), with the
 *   request id and nothing else.
 *
 * Never logged: the request body, the response body, any key. Logged: title, kids and groups,
 * DRM systems, and why a request was refused.
 */

export const KEY_PROVIDER_USER_AGENT = 'Nearstream key provider (SPEKE v2.0)';

export type KeyProviderHandler = (event: APIGatewayProxyEvent, context?: Context) => Promise<APIGatewayProxyResult>;

export interface KeyProviderHandlerDependencies {
  readonly provider: Pick<KeyProvider, 'provideKeys'>;
}

const SPEKE_HEADERS = {
  'X-Speke-Version': SPEKE_VERSION,
  'X-Speke-User-Agent': KEY_PROVIDER_USER_AGENT,
  'Speke-User-Agent': KEY_PROVIDER_USER_AGENT,
  'Cache-Control': 'no-store',
} as const;

/** The longest base64 text that can decode to `MAX_CPIX_REQUEST_BYTES`. */
const MAX_BASE64_CHARS = Math.ceil(MAX_CPIX_REQUEST_BYTES / 3) * 4;

export function createKeyProviderHandler(deps: KeyProviderHandlerDependencies): KeyProviderHandler {
  return async (event) => {
    const requestId = event.requestContext?.requestId;
    try {
      if (event.httpMethod !== 'POST') {
        return answer(405, `method: ${String(event.httpMethod).slice(0, 16)} is not allowed; SPEKE requests are POSTs`, { Allow: 'POST' });
      }
      checkSpekeVersion(event);
      checkContentType(event);
      const request = parseSpekeRequest(requestBody(event));
      const document = await deps.provider.provideKeys(request);
      logger.info('content keys provided', describe(request));
      return {
        statusCode: 200,
        headers: { ...SPEKE_HEADERS, 'Content-Type': 'application/xml' },
        body: document,
        isBase64Encoded: false,
      };
    } catch (error) {
      if (error instanceof SpekeRequestError) {
        logger.warn('SPEKE request refused', { reason: error.message, requestId });
        return answer(400, error.message);
      }
      logger.error('key provider failure', { error: error as Error, requestId });
      return answer(500, `the key provider failed; retry, or report request id ${requestId ?? 'unknown'}`);
    }
  };
}

function answer(statusCode: number, message: string, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { ...SPEKE_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', ...headers },
    body: `${message}\n`,
    isBase64Encoded: false,
  };
}

/** Every value of a header, whatever its case: REST APIs pass header names as the caller wrote them. */
function headerValues(event: APIGatewayProxyEvent, name: string): string[] {
  const wanted = name.toLowerCase();
  const values: string[] = [];
  for (const [key, list] of Object.entries(event.multiValueHeaders ?? {})) {
    if (key.toLowerCase() === wanted) {
      values.push(...(list ?? []));
    }
  }
  if (values.length === 0) {
    for (const [key, value] of Object.entries(event.headers ?? {})) {
      if (key.toLowerCase() === wanted && value !== undefined) {
        values.push(value);
      }
    }
  }
  return values;
}

function checkSpekeVersion(event: APIGatewayProxyEvent): void {
  const values = headerValues(event, 'X-Speke-Version');
  if (values.length !== 1 || values[0].trim() !== SPEKE_VERSION) {
    const sent = values.length === 0 ? 'the header is missing' : values.length > 1 ? 'the header is repeated' : 'another version was sent';
    throw new SpekeRequestError('X-Speke-Version', `Unsupported SPEKE version (${sent}); this key provider serves SPEKE ${SPEKE_VERSION}`);
  }
}

function checkContentType(event: APIGatewayProxyEvent): void {
  const values = headerValues(event, 'Content-Type');
  if (values.length === 0) {
    return;
  }
  const mediaType = values[0].split(';')[0].trim().toLowerCase();
  if (values.length > 1 || (mediaType !== 'application/xml' && mediaType !== 'text/xml')) {
    throw new SpekeRequestError('Content-Type', 'must be application/xml');
  }
}

/** The body's bytes, its size checked before a base64 body is decoded. */
function requestBody(event: APIGatewayProxyEvent): Buffer {
  const body = event.body;
  if (body === null || body === undefined || body === '') {
    throw new SpekeRequestError('body', 'a CPIX document is required');
  }
  if (!event.isBase64Encoded) {
    const size = Buffer.byteLength(body, 'utf8');
    if (size > MAX_CPIX_REQUEST_BYTES) {
      throw new SpekeRequestError('body', `is ${size} bytes; a CPIX request may be at most ${MAX_CPIX_REQUEST_BYTES}`);
    }
    return Buffer.from(body, 'utf8');
  }
  if (body.length > MAX_BASE64_CHARS) {
    throw new SpekeRequestError('body', `is about ${Math.floor((body.length * 3) / 4)} bytes; a CPIX request may be at most ${MAX_CPIX_REQUEST_BYTES}`);
  }
  if (body.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(body)) {
    throw new SpekeRequestError('body', 'is marked base64-encoded but is not base64');
  }
  return Buffer.from(body, 'base64');
}

function describe(request: SpekeRequest): Record<string, unknown> {
  return {
    titleId: request.contentId,
    scheme: request.commonEncryptionScheme,
    keys: request.contentKeys.map((key) => `${key.group}:${key.kid}`),
    drmSystems: [...new Set(request.drmSystems.map((drm) => drm.system))],
  };
}

/** `CONTENT_KEY_REPLICAS`: `<region>=<key id or alias ARN>`, comma-separated; none when unset. */
export function replicaKeysFromEnvironment(raw: string | undefined): { region: string; keyId: string }[] {
  return (raw ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const match = /^([a-z]{2}(?:-[a-z]+)+-\d)=(\S+)$/.exec(entry);
      if (!match) {
        throw new Error(`CONTENT_KEY_REPLICAS: '${entry}' is not <region>=<key id>`);
      }
      return { region: match[1], keyId: match[2] };
    });
}

export const handler = lambdaEntry(() =>
  createKeyProviderHandler({
    provider: new KeyProvider({
      store: new ContentKeyStore(
        sharedDocumentClient(),
        requireEnv('CONTROL_TABLE_NAME'),
        new RegionalKmsKeyWrapper({
          region: requireEnv('AWS_REGION'),
          client: tracer.captureAWSv3Client(new KMSClient({ maxAttempts: 3 })),
          keyId: requireEnv('CONTENT_KEY_KMS_KEY_ID'),
          // Every key is wrapped for the other region too, whose licenses open it with their own key.
          replicas: replicaKeysFromEnvironment(process.env.CONTENT_KEY_REPLICAS).map(({ region, keyId }) => ({
            region,
            keyId,
            client: tracer.captureAWSv3Client(new KMSClient({ region, maxAttempts: 3 })),
          })),
        }),
      ),
      licenseBaseUrl: process.env.LICENSE_BASE_URL || undefined,
    }),
  }),
);
