import * as http from 'node:http';
import { AddressInfo } from 'node:net';

/** One answer of the stub: status and JSON body (or text). */
export interface StubAnswer {
  readonly status: number;
  readonly body: unknown;
  /** Answer only after this long (a cold start, a slow region). @default 0 */
  readonly delayMs?: number;
}

/**
 * A stand-in for a region's API on a free loopback port: `answer` decides each request from its
 * method and path (query included), and every request is recorded with its authorization header.
 */
export class StubApi {
  readonly requests: { path: string; authorization?: string }[] = [];

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(answer: (path: string) => StubAnswer): Promise<StubApi> {
    let stub: StubApi | undefined;
    const server = http.createServer((request, response) => {
      stub!.requests.push({ path: request.url ?? '', authorization: request.headers.authorization });
      const { status, body, delayMs = 0 } = answer(request.url ?? '');
      setTimeout(() => {
        response.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' });
        response.end(typeof body === 'string' ? body : JSON.stringify(body));
      }, delayMs).unref();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    stub = new StubApi(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    return stub;
  }

  count(path: string): number {
    return this.requests.filter((request) => request.path === path).length;
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}
