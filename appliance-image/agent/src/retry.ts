/** A failure that is worth trying again: the same request may well succeed in a moment. */
export class TransientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransientError';
  }
}

/** Connection-level failures of Node's sockets and of fetch (undici): the network, not the request. */
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** S3 and API Gateway error codes that mean "slow down" or "took too long", whatever their status. */
const TRANSIENT_SERVICE_CODES = new Set(['RequestTimeout', 'SlowDown', 'Throttling', 'ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded', 'InternalError', 'ServiceUnavailable']);

/**
 * Whether a failed remote call is worth retrying: 5xx, throttling (429, S3's SlowDown), request
 * timeouts, and connection resets, refusals and timeouts. A 4xx such as 403 or 404 is an answer,
 * not an accident: retrying it only delays the failure.
 */
export function isRetryable(error: unknown): boolean {
  for (let cause = error, depth = 0; cause && depth < 4; cause = (cause as { cause?: unknown }).cause, depth++) {
    if (cause instanceof TransientError || (cause as Error).name === 'TimeoutError') {
      return true;
    }
    const { status, code, serviceCode } = cause as { status?: unknown; code?: unknown; serviceCode?: unknown };
    if (typeof status === 'number' && status > 0) {
      return status >= 500 || status === 429 || status === 408 || (typeof serviceCode === 'string' && TRANSIENT_SERVICE_CODES.has(serviceCode));
    }
    if (typeof code === 'string' && TRANSIENT_CODES.has(code)) {
      return true;
    }
  }
  return false;
}

export interface RetryPolicy {
  /** The first retry waits up to this long; each later one up to twice as long as the one before. */
  readonly baseDelayMs: number;
  /** No wait is longer than this. */
  readonly maxDelayMs: number;
  /** @default - no limit but the deadline */
  readonly maxAttempts?: number;
}

export interface RetryOptions {
  readonly policy: RetryPolicy;
  /** No retry is started that would wait past this instant (on `nowMs`'s clock). */
  readonly deadlineMs: number;
  readonly nowMs: () => number;
  /** Stops waiting (and retrying) when it aborts. */
  readonly signal?: AbortSignal;
  /** Which failures to try again. @default isRetryable */
  readonly retryable?: (error: unknown) => boolean;
  /** Told of each failure that will be retried, and after how long. */
  readonly onRetry?: (error: Error, attempt: number, delayMs: number) => void;
  /** @default Math.random */
  readonly random?: () => number;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs `attempt` until it succeeds, retrying what is retryable with exponential backoff and full
 * jitter (each wait drawn uniformly from zero to the backoff, so a fleet that failed together does
 * not retry together) while the wait ends before the deadline and attempts remain. Throws the
 * last failure otherwise.
 */
export async function withRetries<T>(attempt: (number: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const retryable = options.retryable ?? isRetryable;
  const random = options.random ?? Math.random;
  for (let number = 1; ; number++) {
    try {
      return await attempt(number);
    } catch (error) {
      if (options.signal?.aborted || !retryable(error) || number === options.policy.maxAttempts) {
        throw error;
      }
      const backoff = Math.min(options.policy.maxDelayMs, options.policy.baseDelayMs * 2 ** (number - 1));
      const delayMs = Math.round(random() * backoff);
      if (options.nowMs() + delayMs >= options.deadlineMs) {
        throw error;
      }
      options.onRetry?.(error as Error, number, delayMs);
      await sleep(delayMs, options.signal);
      if (options.signal?.aborted) {
        throw error;
      }
    }
  }
}
