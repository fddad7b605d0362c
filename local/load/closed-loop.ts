import autocannon from 'autocannon';
import { LatencySummary } from './latency-summary';
import { LoadRequestFactory } from './load-request';

export interface ClosedLoopOptions {
  /** Where requests go, e.g. `http://127.0.0.1:4510`. */
  readonly targetUrl: string;
  /** Each connection sends its next request as soon as the previous one is answered. */
  readonly connections: number;
  readonly durationSeconds: number;
  /** Called for every request sent, and once more per run as it starts. */
  readonly request: LoadRequestFactory;
  /**
   * A request unanswered this long counts as an error.
   * @default 10
   */
  readonly timeoutSeconds?: number;
}

export interface ClosedLoopResult {
  readonly completed: number;
  /** Connection errors, timeouts included. */
  readonly errors: number;
  readonly statusCounts: Record<string, number>;
  /** Answers per second: the most the target sustains with this many requests in flight. */
  readonly requestsPerSecond: number;
  /**
   * From each request's actual send to its answer. A closed loop sends nothing while it waits, so
   * these hide queueing: use `openLoop` for latency, this for the most throughput.
   */
  readonly latencyMs: LatencySummary;
}

/** Keeps `connections` requests in flight for `durationSeconds` (autocannon), for the highest rate the target answers. */
export async function closedLoop(options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  let next = 0;
  const result = await autocannon({
    url: options.targetUrl,
    connections: options.connections,
    duration: options.durationSeconds,
    timeout: options.timeoutSeconds ?? 10,
    requests: [
      {
        setupRequest: (request) => {
          const spec = options.request(next++);
          return { ...request, method: spec.method ?? 'GET', path: spec.path, headers: { ...spec.headers }, body: spec.body };
        },
      },
    ],
  });
  const statusCounts = Object.fromEntries(Object.entries(result.statusCodeStats).map(([status, { count }]) => [status, count]));
  const { p50, p90, p99, max, mean } = result.latency;
  return {
    completed: result.requests.total,
    errors: result.errors,
    statusCounts,
    requestsPerSecond: result.requests.total / result.duration,
    latencyMs: { p50, p90, p99, max, mean },
  };
}
