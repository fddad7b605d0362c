import { performance } from 'node:perf_hooks';

/**
 * What a media or control-plane request to a source or region failed with: an HTTP error status,
 * a connection error, or a timeout. The message names the URL (without its query, which may carry
 * a signature) and what happened.
 */
export class FetchError extends Error {
  constructor(
    message: string,
    /** The HTTP status, when the server answered. */
    readonly status?: number,
    /** The answer's body, when the server answered with an error. */
    readonly body?: string,
  ) {
    super(message);
    this.name = 'FetchError';
  }
}

export interface FetchedBody {
  readonly body: Buffer;
  /** Wall time from sending the request to the last byte of the answer. */
  readonly ms: number;
}

export interface FetchOptions {
  /** Covers the whole exchange, body included. */
  readonly timeoutMs: number;
  /** @default - none */
  readonly headers?: Readonly<Record<string, string>>;
  /** @default 'GET' */
  readonly method?: 'GET' | 'POST';
  /** @default - none */
  readonly body?: string;
}

/**
 * A URL as it may be printed: without the origin tier's signed query string, and with an
 * appliance's URL token (`/t/<token>/...`) elided.
 */
export function printableUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname.replace(/^\/t\/[^/]+\//, '/t/<token>/')}`;
}

function describeFailure(error: unknown, signal: AbortSignal, timeoutMs: number): string {
  if (signal.aborted) {
    return `timed out after ${timeoutMs} ms`;
  }
  // Duck-typed: fetch's errors may come from another realm (a test VM), where `instanceof Error` fails.
  const failure = error as { message?: string; cause?: { code?: string; message?: string } } | undefined;
  const detail = failure?.cause?.message || failure?.cause?.code || failure?.message || String(error);
  return `connection failed (${detail})`;
}

/**
 * One request through Node's fetch (undici keeps connections alive between requests), read to
 * its last byte within `timeoutMs`. Anything but a 2xx answer, completely received, is a
 * `FetchError`.
 */
export async function fetchBody(url: string, options: FetchOptions): Promise<FetchedBody> {
  const startedMs = performance.now();
  const signal = AbortSignal.timeout(options.timeoutMs);
  let body: Buffer;
  let status: number;
  try {
    const response = await fetch(url, { method: options.method ?? 'GET', headers: options.headers, body: options.body, signal });
    status = response.status;
    body = Buffer.from(await response.arrayBuffer());
  } catch (error) {
    throw new FetchError(`${options.method ?? 'GET'} ${printableUrl(url)}: ${describeFailure(error, signal, options.timeoutMs)}`);
  }
  if (status < 200 || status > 299) {
    const text = body.toString('utf8');
    throw new FetchError(`${options.method ?? 'GET'} ${printableUrl(url)}: HTTP ${status}${text ? ` ${text.slice(0, 200).trim()}` : ''}`, status, text);
  }
  return { body, ms: performance.now() - startedMs };
}
