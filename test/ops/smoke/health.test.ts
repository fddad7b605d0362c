import { checkHealth, checkRegionHealth } from '../../../ops/smoke/health';
import { StubApi } from './stub-api';

describe('GET /health of a region after a deploy', () => {
  const stubs: StubApi[] = [];
  afterEach(async () => {
    await Promise.all(stubs.splice(0).map((stub) => stub.stop()));
  });
  const start = async (answer: Parameters<typeof StubApi.start>[0]) => {
    const stub = await StubApi.start(answer);
    stubs.push(stub);
    return stub;
  };

  it('waits out a cold start: 503s first, then 200 within the warm-up', async () => {
    let calls = 0;
    const api = await start(() => (++calls < 3 ? { status: 503, body: { status: 'unhealthy', reason: 'table slow' } } : { status: 200, body: { status: 'ok' } }));

    const health = await checkRegionHealth({ name: 'us-east-1', apiUrl: api.url }, { warmUpMs: 10_000 });

    expect(health).toMatchObject({ region: 'us-east-1', status: 200, attempts: 3 });
    expect(api.requests.every((request) => request.path === '/health' && request.authorization === undefined)).toBe(true);
  });

  it('fails after the warm-up naming the region, the last status and its body', async () => {
    const api = await start(() => ({ status: 503, body: { status: 'unhealthy', region: 'us-west-2', reason: 'table unreachable' } }));

    await expect(checkRegionHealth({ name: 'us-west-2', apiUrl: api.url }, { warmUpMs: 1_500 })).rejects.toThrow(
      /^region us-west-2: GET http:\/\/127\.0\.0\.1:\d+\/health answered 503: \{"status":"unhealthy","region":"us-west-2","reason":"table unreachable"\} \(after [2-9] attempt\(s\) in \d\.\d s\)$/,
    );
  });

  it('counts an answer slower than the attempt timeout as none', async () => {
    const fast = await start(() => ({ status: 200, body: 'ok' }));
    const slow = await start(() => ({ status: 200, body: 'ok', delayMs: 2_000 }));

    await expect(checkHealth([{ name: 'us-east-1', apiUrl: slow.url }, { name: 'us-west-2', apiUrl: fast.url }], { warmUpMs: 300, attemptTimeoutMs: 200 })).rejects.toThrow(
      // As many attempts as fit the warm-up (one, or two when the first times out early): each timed out.
      /^region us-east-1: GET http:\/\/127\.0\.0\.1:\d+\/health no answer: no answer in time \(after [12] attempt\(s\) in 0\.\d s\)$/,
    );
  });
});
