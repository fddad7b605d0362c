import { Attempt, describeError, retryWithinDeadline, RetryPolicy } from './retry';

/** A region's control-plane API as the smoke test reaches it. */
export interface RegionTarget {
  /** The AWS region, e.g. `us-east-1`. */
  readonly name: string;
  /** The regional API's base URL (the `ApiUrl` output), with or without a trailing slash. */
  readonly apiUrl: string;
}

/** An HTTP answer, body as text (bodies are small: health, catalog pages). */
export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

export function apiEndpoint(region: RegionTarget, path: string): string {
  return `${region.apiUrl.replace(/\/+$/, '')}${path}`;
}

/** One GET with a timeout; throws only when no answer came (network error, timeout). */
export async function getOnce(url: string, timeoutMs: number, token?: string): Promise<HttpAnswer> {
  const response = await fetch(url, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: response.status, body: await response.text() };
}

/** The body cut to what fits on a line of a report. */
export function bodyExcerpt(body: string): string {
  const line = body.replace(/\s+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line || '(empty body)';
}

/** Retries on a 5xx, a 429 or no answer; the first other answer is final. */
const API_RETRY: RetryPolicy = { deadlineMs: 20_000, initialDelayMs: 500, maxDelayMs: 4_000 };

/**
 * A viewer's GET of the API: resolves to the answer of any status a retry cannot change (2xx,
 * 4xx but 429); a 5xx, 429 or no answer is retried within 20 s, then throws naming the URL.
 */
export async function viewerGet(region: RegionTarget, path: string, token: string, timeoutMs = 10_000): Promise<HttpAnswer> {
  const url = apiEndpoint(region, path);
  const { last } = await retryWithinDeadline(async (): Promise<Attempt<HttpAnswer>> => {
    try {
      const answer = await getOnce(url, timeoutMs, token);
      const transient = answer.status >= 500 || answer.status === 429;
      return transient ? { ok: false, reason: `${answer.status} ${bodyExcerpt(answer.body)}` } : { ok: true, value: answer };
    } catch (error) {
      return { ok: false, reason: describeError(error) };
    }
  }, API_RETRY);
  if (!last.ok) {
    throw new Error(`GET ${url}: ${last.reason}`);
  }
  return last.value;
}
