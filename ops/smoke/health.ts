import { apiEndpoint, bodyExcerpt, getOnce, RegionTarget } from './api-client';
import { Attempt, describeError, retryWithinDeadline } from './retry';

export interface HealthCheckOptions {
  /**
   * How long a region may take to answer 200 after a deploy: its first requests start cold
   * functions and may time out or answer 5xx meanwhile.
   * @default 90 s
   */
  readonly warmUpMs?: number;
  /** For each `GET /health`. @default 10 s */
  readonly attemptTimeoutMs?: number;
}

/** A region that answered `GET /health` with 200. */
export interface RegionHealth {
  readonly region: string;
  readonly status: 200;
  /** The successful request's own time. */
  readonly ms: number;
  readonly attempts: number;
  readonly body: string;
}

export const DEFAULT_WARM_UP_MS = 90_000;

/**
 * `GET <api>/health` until it answers 200 or the warm-up is over. Throws naming the region, the
 * last status and body (or why there was no answer) and how long it tried.
 */
export async function checkRegionHealth(region: RegionTarget, options: HealthCheckOptions = {}): Promise<RegionHealth> {
  const warmUpMs = options.warmUpMs ?? DEFAULT_WARM_UP_MS;
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 10_000;
  const url = apiEndpoint(region, '/health');
  const outcome = await retryWithinDeadline(
    async (): Promise<Attempt<{ ms: number; body: string }>> => {
      const startedMs = Date.now();
      try {
        const answer = await getOnce(url, attemptTimeoutMs);
        return answer.status === 200
          ? { ok: true, value: { ms: Date.now() - startedMs, body: answer.body } }
          : { ok: false, reason: `answered ${answer.status}: ${bodyExcerpt(answer.body)}` };
      } catch (error) {
        return { ok: false, reason: `no answer: ${describeError(error)}` };
      }
    },
    { deadlineMs: warmUpMs, initialDelayMs: 1_000, maxDelayMs: 10_000 },
  );
  if (!outcome.last.ok) {
    throw new Error(
      `region ${region.name}: GET ${url} ${outcome.last.reason} (after ${outcome.attempts} attempt(s) in ${(outcome.elapsedMs / 1000).toFixed(1)} s)`,
    );
  }
  return { region: region.name, status: 200, ms: outcome.last.value.ms, attempts: outcome.attempts, body: outcome.last.value.body };
}

/** Both regions at once; throws naming every region that did not answer 200. */
export async function checkHealth(regions: readonly RegionTarget[], options: HealthCheckOptions = {}): Promise<RegionHealth[]> {
  const results = await Promise.allSettled(regions.map((region) => checkRegionHealth(region, options)));
  const failures = results.flatMap((result) => (result.status === 'rejected' ? [(result.reason as Error).message] : []));
  if (failures.length > 0) {
    throw new Error(failures.join('; '));
  }
  return results.map((result) => (result as PromiseFulfilledResult<RegionHealth>).value);
}
