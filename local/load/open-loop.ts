import * as http from 'node:http';
import * as https from 'node:https';
import { performance } from 'node:perf_hooks';
import { LatencySummary, summarizeLatencies } from './latency-summary';
import { LoadRequest, LoadRequestFactory, tally } from './load-request';

export interface OpenLoopOptions {
  /** Where requests go, e.g. `http://127.0.0.1:4510`; each request's path is resolved against it. */
  readonly targetUrl: string;
  readonly ratePerSecond: number;
  /** Length of the measured window. */
  readonly durationSeconds: number;
  /**
   * Sent at the same rate before the measured window and left out of every figure.
   * @default 0
   */
  readonly warmupSeconds?: number;
  readonly request: LoadRequestFactory;
  /**
   * A request without its whole response this long after its intended send time counts as an error.
   * @default 10_000
   */
  readonly timeoutMs?: number;
  /**
   * Keep-alive sockets to the target; requests beyond them wait in the agent, and that wait counts.
   * @default one second's worth of requests, at least 16
   */
  readonly maxSockets?: number;
}

export interface OpenLoopResult {
  /** Requests of the measured window sent (all of them, however late). */
  readonly sent: number;
  /** Requests of the measured window answered, whatever the status. */
  readonly completed: number;
  /** Requests of the measured window that got no whole answer: refused, reset or timed out. */
  readonly errors: number;
  /** The errors by code (`ECONNREFUSED`, `timeout`, ...). */
  readonly errorKinds: Record<string, number>;
  readonly statusCounts: Record<string, number>;
  /** Answers per second over the measured window, or over longer when the answers lagged behind it. */
  readonly achievedRatePerSecond: number;
  /** From each answered request's intended send time to the end of its response body. */
  readonly latencyMs: LatencySummary;
}

/**
 * Sends requests at evenly spaced intended times, whether or not earlier ones have been answered
 * (an open loop, as real viewers arrive), and measures each from when it was due rather than when
 * it left: time a request spends queued behind a slow server, in the agent or behind this
 * generator's own event loop counts, so a stall cannot hide the requests it delayed (no
 * coordinated omission).
 */
export async function openLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const { ratePerSecond, durationSeconds } = options;
  if (!(ratePerSecond > 0)) {
    throw new RangeError(`ratePerSecond must be above 0 (got ${ratePerSecond})`);
  }
  if (!(durationSeconds > 0)) {
    throw new RangeError(`durationSeconds must be above 0 (got ${durationSeconds})`);
  }
  const target = new URL(options.targetUrl);
  const transport = target.protocol === 'https:' ? https : http;
  const agent = new transport.Agent({ keepAlive: true, maxSockets: options.maxSockets ?? Math.max(16, Math.ceil(ratePerSecond)) });
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = 1000 / ratePerSecond;
  const warmupCount = Math.round((options.warmupSeconds ?? 0) * ratePerSecond);
  const total = warmupCount + Math.round(durationSeconds * ratePerSecond);

  const latencies: number[] = [];
  const statusCounts: Record<string, number> = {};
  const errorKinds: Record<string, number> = {};
  let lastAnswerMs = 0;
  const outcomes: Promise<void>[] = [];
  const startMs = performance.now();
  const measuredStartMs = startMs + warmupCount * intervalMs;

  const send = (index: number, intendedMs: number) => {
    const exchange = { transport, agent, url: target, deadlineMs: intendedMs + timeoutMs };
    const outcome = sendOne(exchange, options.request(index));
    if (index >= warmupCount) {
      outcomes.push(
        outcome.then((answer) => {
          if ('error' in answer) {
            tally(errorKinds, answer.error);
            return;
          }
          latencies.push(answer.answeredAtMs - intendedMs);
          tally(statusCounts, String(answer.status));
          lastAnswerMs = Math.max(lastAnswerMs, answer.answeredAtMs);
        }),
      );
    }
  };

  await new Promise<void>((resolve, reject) => {
    let next = 0;
    const sendDue = () => {
      try {
        const nowMs = performance.now();
        // After a late wake-up, everything already due leaves at once, each still timed from its own due time.
        while (next < total && startMs + next * intervalMs <= nowMs) {
          send(next, startMs + next * intervalMs);
          next++;
        }
      } catch (error) {
        reject(error);
        return;
      }
      if (next === total) {
        resolve();
        return;
      }
      setTimeout(sendDue, startMs + next * intervalMs - performance.now());
    };
    sendDue();
  }).finally(async () => {
    await Promise.all(outcomes);
    agent.destroy();
  });

  const errors = Object.values(errorKinds).reduce((sum, count) => sum + count, 0);
  const spanSeconds = Math.max(durationSeconds, (lastAnswerMs - measuredStartMs) / 1000);
  return {
    sent: total - warmupCount,
    completed: latencies.length,
    errors,
    errorKinds,
    statusCounts,
    achievedRatePerSecond: latencies.length / spanSeconds,
    latencyMs: summarizeLatencies(latencies),
  };
}

interface Exchange {
  readonly transport: typeof http | typeof https;
  readonly agent: http.Agent;
  readonly url: URL;
  /** `performance.now()` time after which the request is abandoned. */
  readonly deadlineMs: number;
}

type Answer = { readonly status: number; readonly answeredAtMs: number } | { readonly error: string };

/** Sends one request and reads its whole answer; never rejects: a failure is an answer with its kind. */
function sendOne(exchange: Exchange, spec: LoadRequest): Promise<Answer> {
  const body = spec.body === undefined ? undefined : Buffer.from(spec.body);
  return new Promise<Answer>((resolve) => {
    const fail = (error: Error & { code?: string }) =>
      resolve({ error: error.name === 'AbortError' || error.code === 'ABORT_ERR' ? 'timeout' : (error.code ?? error.name) });
    const request = exchange.transport.request(
      new URL(spec.path, exchange.url),
      {
        method: spec.method ?? 'GET',
        agent: exchange.agent,
        headers: body ? { ...spec.headers, 'content-length': String(body.length) } : spec.headers,
        signal: AbortSignal.timeout(Math.max(1, Math.ceil(exchange.deadlineMs - performance.now()))),
      },
      (response) => {
        response.resume();
        response.on('error', fail);
        response.on('end', () => resolve({ status: response.statusCode ?? 0, answeredAtMs: performance.now() }));
      },
    );
    request.on('error', fail);
    request.end(body);
  });
}
