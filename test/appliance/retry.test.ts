import { ControlPlaneError } from '../../appliance-image/agent/src/control-plane';
import { OriginError } from '../../appliance-image/agent/src/origin';
import { isRetryable, TransientError, withRetries } from '../../appliance-image/agent/src/retry';

const errno = (code: string) => Object.assign(new Error(code), { code });

describe('retries of remote calls', () => {
  it.each([
    ['a 500 from the control plane', new ControlPlaneError(500, 'x'), true],
    ['a 503 SlowDown from the origin', new OriginError(503, 'x', 'SlowDown'), true],
    ['a 429', new ControlPlaneError(429, 'x'), true],
    ['a 400 RequestTimeout from S3', new OriginError(400, 'x', 'RequestTimeout'), true],
    ['a connection reset', errno('ECONNRESET'), true],
    ['a refused connection inside fetch\'s error', new TypeError('fetch failed', { cause: errno('ECONNREFUSED') }), true],
    ['a request timeout', Object.assign(new Error('timed out'), { name: 'TimeoutError' }), true],
    ['an idle origin', new TransientError('no data for 30 s'), true],
    ['a 403', new OriginError(403, 'x', 'AccessDenied'), false],
    ['a 404', new OriginError(404, 'x', 'NoSuchKey'), false],
    ['a 400 from the control plane', new ControlPlaneError(400, 'x'), false],
    ['a full disk', errno('ENOSPC'), false],
    ['a plain error', new Error('bug'), false],
  ])('%s is retryable: %s', (_label, error, retryable) => {
    expect(isRetryable(error)).toBe(retryable);
  });

  const clock = () => {
    let now = 0;
    return { nowMs: () => now, advance: (ms: number) => (now += ms) };
  };

  it('backs off exponentially with full jitter, capped, until the call succeeds', async () => {
    const delays: number[] = [];
    let calls = 0;
    const result = await withRetries(
      async () => {
        if (++calls < 6) throw new ControlPlaneError(503, 'busy');
        return 'done';
      },
      { policy: { baseDelayMs: 2, maxDelayMs: 16 }, deadlineMs: 1e9, nowMs: clock().nowMs, random: () => 0.5, onRetry: (_error, _attempt, delayMs) => delays.push(delayMs) },
    );

    expect(result).toBe('done');
    expect(delays).toEqual([1, 2, 4, 8, 8]);
  });

  it('does not retry what is not retryable', async () => {
    let calls = 0;
    const failing = withRetries(
      async () => {
        calls++;
        throw new OriginError(404, 'GET answered 404 (NoSuchKey)', 'NoSuchKey');
      },
      { policy: { baseDelayMs: 1, maxDelayMs: 1 }, deadlineMs: Number.MAX_SAFE_INTEGER, nowMs: Date.now },
    );
    await expect(failing).rejects.toThrow('answered 404');
    expect(calls).toBe(1);
  });

  it('gives up with the last failure when the next wait would end past the deadline, or attempts run out', async () => {
    const time = clock();
    let calls = 0;
    const untilDeadline = withRetries(
      async () => {
        calls++;
        time.advance(400);
        throw new ControlPlaneError(500, `failure ${calls}`);
      },
      { policy: { baseDelayMs: 100, maxDelayMs: 100 }, deadlineMs: 1000, nowMs: time.nowMs, random: () => 1 },
    );
    await expect(untilDeadline).rejects.toThrow('failure 3');

    let attempts = 0;
    const limited = withRetries(
      async () => {
        attempts++;
        throw errno('ECONNRESET');
      },
      { policy: { baseDelayMs: 1, maxDelayMs: 1, maxAttempts: 3 }, deadlineMs: Number.MAX_SAFE_INTEGER, nowMs: Date.now },
    );
    await expect(limited).rejects.toThrow('ECONNRESET');
    expect(attempts).toBe(3);
  });

  it('stops waiting when its signal aborts', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const waiting = withRetries(
      async () => {
        throw errno('ECONNRESET');
      },
      { policy: { baseDelayMs: 60_000, maxDelayMs: 60_000 }, deadlineMs: Date.now() + 3_600_000, nowMs: Date.now, signal: controller.signal, random: () => 1 },
    );
    setTimeout(() => controller.abort(), 50);
    await expect(waiting).rejects.toThrow('ECONNRESET');
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
