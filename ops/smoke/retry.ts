import { withRetries } from '../../appliance-image/agent/src/retry';

/** One try of a remote call: its value, or why it did not give one. */
export type Attempt<T> =
  | { readonly ok: true; readonly value: T }
  /** `final`: retrying cannot help (a 4xx, a refusal), so stop at once. */
  | { readonly ok: false; readonly reason: string; readonly final?: boolean };

export interface RetryPolicy {
  /** No attempt starts after this long from the first. */
  readonly deadlineMs: number;
  /** The wait after the first failure; it doubles after each, up to `maxDelayMs`. */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

export interface RetryOutcome<T> {
  readonly last: Attempt<T>;
  readonly attempts: number;
  readonly elapsedMs: number;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** An attempt that did not succeed, carried through the agent's retry loop. */
class FailedAttempt extends Error {
  constructor(readonly attempt: Extract<Attempt<unknown>, { ok: false }>) {
    super(attempt.reason);
  }
}

/**
 * Tries `attempt` until it succeeds, fails finally, or the deadline leaves no room for another
 * try, with the appliance agent's backoff (exponential, full jitter, so two smoke runs after one
 * deploy do not knock in step). Never throws for a failed attempt: the caller names the failure.
 */
export async function retryWithinDeadline<T>(attempt: (number: number) => Promise<Attempt<T>>, policy: RetryPolicy): Promise<RetryOutcome<T>> {
  const startedMs = Date.now();
  let attempts = 0;
  const outcome = (last: Attempt<T>): RetryOutcome<T> => ({ last, attempts, elapsedMs: Date.now() - startedMs });
  try {
    const value = await withRetries(
      async (number) => {
        attempts = number;
        const last = await attempt(number);
        if (!last.ok) {
          throw new FailedAttempt(last);
        }
        return last.value;
      },
      {
        policy: { baseDelayMs: policy.initialDelayMs, maxDelayMs: policy.maxDelayMs },
        deadlineMs: startedMs + policy.deadlineMs,
        nowMs: Date.now,
        retryable: (error) => error instanceof FailedAttempt && !error.attempt.final,
      },
    );
    return outcome({ ok: true, value });
  } catch (error) {
    if (error instanceof FailedAttempt) {
      return outcome(error.attempt);
    }
    throw error;
  }
}

/**
 * An error's one-line cause, including the network code fetch hides in `cause` (`ECONNREFUSED`).
 * Duck-typed: fetch's errors may come from another realm (a test's VM), where `instanceof` fails.
 */
export function describeError(error: unknown): string {
  const { name, message, cause } = (typeof error === 'object' && error !== null ? error : {}) as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (message === undefined) {
    return String(error);
  }
  if (name === 'TimeoutError' || name === 'AbortError') {
    return 'no answer in time';
  }
  const detail = cause?.code ?? cause?.message;
  return detail ? `${message} (${detail})` : message;
}
