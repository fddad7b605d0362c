import type { PlaybackGrant } from '../../lambda/playback/play-service';
import { performance } from 'node:perf_hooks';
import { fetchBody, FetchError } from './http-fetch';

export type { PlaybackGrant };

/** A control-plane region as the player reaches it. */
export interface RegionEndpoint {
  readonly name: string;
  /** The regional API's base URL; `/play` and `/events` hang off it. */
  readonly apiUrl: string;
}

export interface PlayRequestBody {
  readonly titleId: string;
  readonly device: { readonly codecs: readonly string[]; readonly maxHeight: number; readonly keySystems?: readonly string[] };
  readonly clientIp?: string;
}

export interface RegionAttempt {
  readonly region: string;
  readonly apiUrl: string;
  /** `down`: a 5xx, a connection error or a timeout, so the next region was asked. */
  readonly outcome: 'granted' | 'refused' | 'down';
  readonly reason?: string;
  readonly ms: number;
}

/** A 4xx answer to `/play`: final, whichever region gave it. */
export interface PlayRefusal {
  readonly region: string;
  readonly status: number;
  readonly error: string;
  readonly message: string;
}

export type PlayRequestOutcome =
  | { readonly kind: 'granted'; readonly grant: PlaybackGrant; readonly region: RegionEndpoint; readonly attempts: readonly RegionAttempt[] }
  | { readonly kind: 'refused'; readonly refusal: PlayRefusal; readonly attempts: readonly RegionAttempt[] }
  | { readonly kind: 'unavailable'; readonly attempts: readonly RegionAttempt[] };

export function endpoint(region: RegionEndpoint, path: string): string {
  return `${region.apiUrl.replace(/\/+$/, '')}${path}`;
}

function refusalOf(region: RegionEndpoint, error: FetchError): PlayRefusal {
  let answer: { error?: unknown; message?: unknown } = {};
  try {
    answer = JSON.parse(error.body ?? '');
  } catch {
    // not JSON: the status alone says what happened
  }
  return {
    region: region.name,
    status: error.status!,
    error: typeof answer.error === 'string' ? answer.error : `http-${error.status}`,
    message: typeof answer.message === 'string' ? answer.message : (error.body ?? '').slice(0, 200),
  };
}

/** What is wrong with a 200 answer that should be a grant; undefined when nothing is. */
function grantProblem(grant: Partial<PlaybackGrant>): string | undefined {
  if (typeof grant.sessionId !== 'string' || grant.sessionId === '') {
    return 'no sessionId';
  }
  if (typeof grant.leaseSeconds !== 'number' || !(grant.leaseSeconds > 0)) {
    return 'no positive leaseSeconds';
  }
  if (!Array.isArray(grant.sources) || grant.sources.length === 0) {
    return 'no sources';
  }
  if (!grant.sources.every((source) => typeof source?.hls === 'string' && typeof source.dash === 'string' && URL.canParse(source.hls) && URL.canParse(source.dash))) {
    return 'a source without absolute hls and dash URLs';
  }
  return typeof grant.steering === 'object' && grant.steering !== null ? undefined : 'no steering';
}

/**
 * Rounds over the regions a control-plane call of a play start (`/play`, a license) gets before
 * the play gives up, and the pause growing between them.
 */
export const REGION_ROUNDS = 3;
export const REGION_RETRY_PAUSE_MS = 250;

/**
 * `POST /play` against each region in turn until one answers. A refusal (4xx) is final; a region
 * that is down (5xx, connection error, timeout, or a 200 that is not a grant) passes the request
 * on to the next. When every region failed, it tries again, up to `REGION_ROUNDS` rounds with a
 * short pause between: a function failing a share of its invocations must not end a play that a
 * second try would start.
 */
export async function requestPlay(regions: readonly RegionEndpoint[], token: string, body: PlayRequestBody, timeoutMs: number): Promise<PlayRequestOutcome> {
  const attempts: RegionAttempt[] = [];
  for (let round = 0; round < REGION_ROUNDS; round++) {
    if (round > 0) {
      await new Promise((resolve) => setTimeout(resolve, REGION_RETRY_PAUSE_MS * round));
    }
    const outcome = await requestPlayRound(regions, token, body, timeoutMs, attempts);
    if (outcome) {
      return outcome;
    }
  }
  return { kind: 'unavailable', attempts };
}

/** One round over the regions: the outcome when one answered, undefined when all were down. */
async function requestPlayRound(
  regions: readonly RegionEndpoint[],
  token: string,
  body: PlayRequestBody,
  timeoutMs: number,
  attempts: RegionAttempt[],
): Promise<PlayRequestOutcome | undefined> {
  for (const region of regions) {
    const startedMs = performance.now();
    const attempt = (outcome: RegionAttempt['outcome'], reason?: string) => {
      attempts.push({ region: region.name, apiUrl: region.apiUrl, outcome, ...(reason ? { reason } : {}), ms: Math.round(performance.now() - startedMs) });
    };
    let answer: Buffer;
    try {
      ({ body: answer } = await fetchBody(endpoint(region, '/play'), {
        method: 'POST',
        timeoutMs,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }));
    } catch (error) {
      if (!(error instanceof FetchError)) {
        throw error;
      }
      if (error.status !== undefined && error.status >= 400 && error.status < 500) {
        const refusal = refusalOf(region, error);
        attempt('refused', `${refusal.status} ${refusal.error}: ${refusal.message}`);
        return { kind: 'refused', refusal, attempts };
      }
      attempt('down', error.message);
      continue;
    }
    let grant: Partial<PlaybackGrant>;
    try {
      grant = JSON.parse(answer.toString('utf8'));
    } catch {
      attempt('down', 'answered /play with a body that is not JSON');
      continue;
    }
    const problem = grantProblem(grant);
    if (problem) {
      attempt('down', `answered /play with a grant that has ${problem}`);
      continue;
    }
    attempt('granted');
    return { kind: 'granted', grant: grant as PlaybackGrant, region, attempts };
  }
  return undefined;
}
