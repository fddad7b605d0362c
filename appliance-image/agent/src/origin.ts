import * as http from 'node:http';
import * as https from 'node:https';
import { SignatureV4 } from '@smithy/signature-v4';
import { TransientError } from './retry';
import { nodeSigner } from './sigv4';

export class OriginError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** S3's error code (`NoSuchKey`, `SlowDown`), when it sent one. */
    readonly serviceCode?: string,
  ) {
    super(message);
    this.name = 'OriginError';
  }
}

/** An object's bytes as they arrive, and the offset the origin started them from. */
export interface OriginBody {
  readonly body: http.IncomingMessage;
  /** `fromByte` when the origin honoured the range, 0 when it sent the whole object. */
  readonly startsAt: number;
}

const IDLE_TIMEOUT_MS = 30_000;

/** S3's URI encoding: everything but unreserved characters, `/` kept between segments. */
function encodeKey(key: string): string {
  return key
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}

/**
 * Reads objects from the regional origin bucket with plain signed GETs over kept-alive
 * connections: a fill moves hundreds of gigabytes in objects of a few megabytes, so every
 * per-request and per-byte cost of a general-purpose client is paid a million times a night.
 * Credentials come from the instance profile or IAM Roles Anywhere.
 */
export class Origin {
  private readonly signer: SignatureV4;
  private readonly endpoint?: URL;
  private readonly agent: http.Agent;

  /** @param endpoint an S3-compatible endpoint (local platform, tests), addressed path-style; AWS otherwise. */
  constructor(
    private readonly region: string,
    endpoint?: string,
  ) {
    this.signer = nodeSigner('s3', region);
    this.endpoint = endpoint ? new URL(endpoint) : undefined;
    const options = { keepAlive: true, maxSockets: 64 };
    this.agent = this.endpoint?.protocol === 'http:' ? new http.Agent(options) : new https.Agent(options);
  }

  /** The object's bytes from `fromByte` on (or all of them, if the origin ignores the range). */
  async read(bucket: string, key: string, fromByte = 0, signal?: AbortSignal): Promise<OriginBody> {
    const url = this.endpoint
      ? new URL(`${this.endpoint.pathname.replace(/\/$/, '')}/${bucket}/${encodeKey(key)}`, this.endpoint)
      : new URL(`https://${bucket}.s3.${this.region}.amazonaws.com/${encodeKey(key)}`);
    const headers: Record<string, string> = { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
    if (fromByte > 0) {
      headers.range = `bytes=${fromByte}-`;
    }
    const signed = await this.signer.sign({ method: 'GET', protocol: url.protocol, hostname: url.hostname, port: url.port ? Number(url.port) : undefined, path: url.pathname, headers });
    const transport = url.protocol === 'http:' ? http : https;
    return new Promise((resolve, reject) => {
      const request = transport.request(url, { method: 'GET', headers: signed.headers, agent: this.agent, signal, timeout: IDLE_TIMEOUT_MS }, (response) => {
        const status = response.statusCode ?? 0;
        if (status === 200 || (status === 206 && fromByte > 0)) {
          resolve({ body: response, startsAt: status === 206 ? fromByte : 0 });
          return;
        }
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text = (text + chunk).slice(0, 1000)));
        response.on('error', reject);
        response.on('end', () => {
          const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1];
          reject(new OriginError(status, `GET s3://${bucket}/${key} answered ${status} (${code ?? 'no error code'})`, code));
        });
      });
      request.on('timeout', () => request.destroy(new TransientError(`GET s3://${bucket}/${key}: no data for ${IDLE_TIMEOUT_MS / 1000} s`)));
      request.on('error', reject);
      request.end();
    });
  }

  /** A small object's text; one longer than `maxBytes` is refused without reading the rest. */
  async readText(bucket: string, key: string, maxBytes = Number.MAX_SAFE_INTEGER): Promise<string> {
    const { body } = await this.read(bucket, key);
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of body) {
      bytes += (chunk as Buffer).length;
      if (bytes > maxBytes) {
        body.destroy();
        throw new Error(`s3://${bucket}/${key} is over ${maxBytes} bytes long`);
      }
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}
