import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { closedLoop } from '../../local/load/closed-loop';

describe('the closed-loop load generator', () => {
  let server: http.Server | undefined;

  afterEach(async () => {
    const closed = new Promise<void>((resolve) => server?.close(() => resolve()) ?? resolve());
    server?.closeAllConnections();
    await closed;
    server = undefined;
  });

  it('keeps the given number of requests in flight, so a 20 ms server answers at most connections × 50 a second, each request its own', async () => {
    const viewers: string[] = [];
    server = http.createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        viewers.push(String(request.headers['x-viewer']));
        setTimeout(() => response.writeHead(200).end('ok'), 20);
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));

    const result = await closedLoop({
      targetUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      connections: 4,
      durationSeconds: 1,
      request: (index) => ({ method: 'POST', path: '/play', headers: { 'x-viewer': `viewer-${index}` }, body: '{}' }),
    });

    expect(result.completed).toBeGreaterThan(0);
    expect(result.statusCounts).toEqual({ 200: result.completed });
    expect(result.errors).toBe(0);
    expect(result.requestsPerSecond).toBeLessThanOrEqual(4 * 50 * 1.1);
    expect(result.latencyMs.p50).toBeGreaterThanOrEqual(19);
    expect(new Set(viewers).size).toBe(viewers.length);
  });
});
