import { healthResponse, probeWithinBudget } from '../../lambda/health/probe';

describe('probeWithinBudget', () => {
  it('is healthy when the heartbeat finishes within the budget', async () => {
    const result = await probeWithinBudget(async () => undefined, 1000);
    expect(result).toEqual({ healthy: true, roundTripMs: expect.any(Number) });
  });

  it('names the error when the heartbeat fails', async () => {
    const failure = Object.assign(new Error('Requested resource not found'), { name: 'ResourceNotFoundException' });
    const result = await probeWithinBudget(() => Promise.reject(failure), 1000);
    expect(result).toMatchObject({
      healthy: false,
      reason: 'table unreachable: ResourceNotFoundException: Requested resource not found',
    });
  });

  it('gives up at the budget, aborting a heartbeat that never answers', async () => {
    let abortedWith: unknown;
    const never = (signal: AbortSignal) =>
      new Promise<void>(() => signal.addEventListener('abort', () => (abortedWith = signal.reason)));
    const result = await probeWithinBudget(never, 50);
    expect(result).toMatchObject({ healthy: false, reason: 'table slow: no answer within 50 ms' });
    expect(String(abortedWith)).toContain('no answer within 50 ms');
  });

  it('reports slow, not unreachable, when the heartbeat fails because it was aborted', async () => {
    const abortable = (signal: AbortSignal) =>
      new Promise<void>((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
    expect(await probeWithinBudget(abortable, 20)).toMatchObject({ reason: 'table slow: no answer within 20 ms' });
  });

  it('counts a heartbeat that returned after the budget on a slow clock as slow', async () => {
    const times = [0, 750];
    const result = await probeWithinBudget(async () => undefined, 500, () => times.shift() ?? 750);
    expect(result).toEqual({ healthy: false, roundTripMs: 750, reason: 'table slow: no answer within 500 ms' });
  });
});

describe('healthResponse', () => {
  it('answers 200 with the region and round trip when healthy', () => {
    const response = healthResponse('us-east-1', { healthy: true, roundTripMs: 12 });
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ status: 'ok', region: 'us-east-1', tableRoundTripMs: 12 });
  });

  it('answers 503 with the reason when unhealthy, never cached', () => {
    const response = healthResponse('us-west-2', { healthy: false, roundTripMs: 500, reason: 'table slow: x' });
    expect(response.statusCode).toBe(503);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(response.body)).toEqual({
      status: 'unhealthy',
      region: 'us-west-2',
      reason: 'table slow: x',
      tableRoundTripMs: 500,
    });
  });
});
