/** What one heartbeat round trip to the regional table found. */
export type ProbeResult =
  | { readonly healthy: true; readonly roundTripMs: number }
  | { readonly healthy: false; readonly roundTripMs: number; readonly reason: string };

/** One heartbeat attempt; it should give up when `signal` aborts. */
export type Heartbeat = (signal: AbortSignal) => Promise<void>;

/**
 * Runs `heartbeat` within `budgetMs`. A heartbeat that fails is `table unreachable`; one that has
 * not finished within the budget is aborted and reported `table slow`, even if it would have
 * succeeded later: a region whose table answers this slowly should lose its traffic.
 */
export async function probeWithinBudget(
  heartbeat: Heartbeat,
  budgetMs: number,
  now: () => number = () => performance.now(),
): Promise<ProbeResult> {
  const started = now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new Error(`no answer within ${budgetMs} ms`));
      resolve('timeout');
    }, budgetMs);
  });
  try {
    const outcome = await Promise.race([heartbeat(controller.signal).then(() => 'done' as const), deadline]);
    const roundTripMs = Math.round(now() - started);
    if (outcome === 'timeout' || roundTripMs > budgetMs) {
      return { healthy: false, roundTripMs, reason: `table slow: no answer within ${budgetMs} ms` };
    }
    return { healthy: true, roundTripMs };
  } catch (error) {
    const roundTripMs = Math.round(now() - started);
    if (controller.signal.aborted) {
      return { healthy: false, roundTripMs, reason: `table slow: no answer within ${budgetMs} ms` };
    }
    return { healthy: false, roundTripMs, reason: `table unreachable: ${describe(error)}` };
  } finally {
    clearTimeout(timer);
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    return error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
  }
  return String(error);
}

/** The `/health` answer: 200 when the region can serve, 503 with the reason when it cannot. */
export function healthResponse(region: string, result: ProbeResult) {
  const body = result.healthy
    ? { status: 'ok', region, tableRoundTripMs: result.roundTripMs }
    : { status: 'unhealthy', region, reason: result.reason, tableRoundTripMs: result.roundTripMs };
  return {
    statusCode: result.healthy ? 200 : 503,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(body),
  };
}
