import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { openLoop } from '../../local/load/open-loop';
import { freePort } from '../support/ports';

/** A loopback server answering each request as `answer` says, and remembering what it was sent. */
class TestServer {
  readonly received: { path: string; viewer: string | undefined; body: string }[] = [];

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(answer: (index: number, respond: (status: number) => void) => void): Promise<TestServer> {
    let test: TestServer | undefined;
    const server = http.createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        const index = test!.received.push({ path: request.url ?? '', viewer: request.headers['x-viewer'] as string | undefined, body }) - 1;
        answer(index, (status) => response.writeHead(status, { 'content-type': 'text/plain' }).end('answered'));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    test = new TestServer(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return test;
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}

describe('the open-loop load generator', () => {
  let server: TestServer | undefined;

  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('measures a server that answers in 20 ms at about 20 ms, sending every request of the window with its own body', async () => {
    server = await TestServer.start((_index, respond) => setTimeout(() => respond(200), 20));

    const result = await openLoop({
      targetUrl: server.url,
      ratePerSecond: 50,
      durationSeconds: 1,
      warmupSeconds: 0.2,
      request: (index) => ({ method: 'POST', path: `/play?n=${index}`, headers: { 'x-viewer': `viewer-${index}` }, body: `{"n":${index}}` }),
    });

    expect(result).toMatchObject({ sent: 50, completed: 50, errors: 0, errorKinds: {}, statusCounts: { 200: 50 } });
    expect(result.latencyMs.p50).toBeGreaterThanOrEqual(19);
    expect(result.latencyMs.p50).toBeLessThan(1000);
    expect(result.achievedRatePerSecond).toBeGreaterThan(0);
    expect(result.achievedRatePerSecond).toBeLessThanOrEqual(50);
    expect(server.received).toHaveLength(60);
    expect(new Set(server.received.map((r) => r.viewer)).size).toBe(60);
    expect(server.received.every((r, i) => r.path === `/play?n=${i}` && r.body === `{"n":${i}}` && r.viewer === `viewer-${i}`)).toBe(true);
  });

  it('counts the wait of every request due while the server stalls, not only the one that met the stall', async () => {
    let stallEnds: Promise<void> | undefined;
    server = await TestServer.start((index, respond) => {
      if (index === 20) {
        stallEnds = new Promise((resolve) => setTimeout(resolve, 300));
      }
      void (stallEnds ?? Promise.resolve()).then(() => respond(200));
    });

    const result = await openLoop({ targetUrl: server.url, ratePerSecond: 100, durationSeconds: 1, request: () => ({ path: '/' }) });

    // About 30 of the 100 requests were due during the 300 ms stall, waiting from 300 ms down to 0:
    // the slowest tenth of all requests waited at least 200 ms each. A generator that waited for
    // answers before sending would have recorded one slow request and a fast p90.
    expect(result.completed).toBe(100);
    expect(result.latencyMs.max).toBeGreaterThanOrEqual(250);
    expect(result.latencyMs.p90).toBeGreaterThanOrEqual(150);
  });

  it('records each status the server answers with', async () => {
    server = await TestServer.start((index, respond) => respond(index % 4 === 0 ? 503 : 200));

    const result = await openLoop({ targetUrl: server.url, ratePerSecond: 40, durationSeconds: 0.5, request: () => ({ path: '/' }) });

    expect(result.statusCounts).toEqual({ 200: 15, 503: 5 });
  });

  it('counts requests that get no answer within timeoutMs as errors, apart from the answered ones', async () => {
    server = await TestServer.start((index, respond) => {
      if (index % 2 === 0) {
        respond(200);
      }
    });

    const result = await openLoop({ targetUrl: server.url, ratePerSecond: 20, durationSeconds: 0.5, timeoutMs: 200, request: () => ({ path: '/' }) });

    expect(result).toMatchObject({ sent: 10, completed: 5, errors: 5, errorKinds: { timeout: 5 }, statusCounts: { 200: 5 } });
  });

  it('counts refused connections as errors, with no latency figures', async () => {
    const nobody = `http://127.0.0.1:${await freePort()}`;

    const result = await openLoop({ targetUrl: nobody, ratePerSecond: 20, durationSeconds: 0.25, request: () => ({ path: '/' }) });

    expect(result).toMatchObject({ sent: 5, completed: 0, errors: 5, errorKinds: { ECONNREFUSED: 5 }, statusCounts: {}, achievedRatePerSecond: 0 });
    expect(result.latencyMs.p99).toBeNaN();
  });

  it('refuses a rate or a duration that is not above zero, naming it', async () => {
    const request = () => ({ path: '/' });
    await expect(openLoop({ targetUrl: 'http://127.0.0.1:1', ratePerSecond: 0, durationSeconds: 1, request })).rejects.toThrow('ratePerSecond must be above 0 (got 0)');
    await expect(openLoop({ targetUrl: 'http://127.0.0.1:1', ratePerSecond: 10, durationSeconds: -1, request })).rejects.toThrow('durationSeconds must be above 0 (got -1)');
  });
});
