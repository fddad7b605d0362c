import * as http from 'node:http';
import { AddressInfo } from 'node:net';

/** What a faulted request gets: an HTTP status with an S3-style error body, or its connection reset. */
export type Fault = number | 'reset';

interface PlannedFault {
  readonly matches: (method: string, path: string) => boolean;
  readonly fault: Fault;
  remaining: number;
}

/**
 * A loopback reverse proxy in front of a local server (the S3 server, the local API gateway) that
 * fails chosen requests and passes the rest on unchanged, Host header included, so SigV4
 * signatures still hold: a flaky origin or control plane, on demand.
 */
export class FaultProxy {
  private readonly planned: PlannedFault[] = [];
  /** Every request seen, and the fault it got, if any. */
  readonly requests: { readonly method: string; readonly path: string; readonly fault?: Fault }[] = [];

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(target: string): Promise<FaultProxy> {
    const upstream = new URL(target);
    let proxy: FaultProxy | undefined;
    const server = http.createServer((request, response) => proxy!.handle(upstream, request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new FaultProxy(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return proxy;
  }

  /** The next `times` requests whose method and path (query included) match get `fault`. */
  inject(matches: (method: string, path: string) => boolean, fault: Fault, times = 1): void {
    this.planned.push({ matches, fault, remaining: times });
  }

  private handle(upstream: URL, request: http.IncomingMessage, response: http.ServerResponse): void {
    const method = request.method ?? 'GET';
    const path = decodeURIComponent(request.url ?? '/');
    const planned = this.planned.find((entry) => entry.remaining > 0 && entry.matches(method, path));
    this.requests.push({ method, path, fault: planned?.fault });
    if (planned) {
      planned.remaining--;
      request.resume();
      if (planned.fault === 'reset') {
        request.socket.destroy();
        return;
      }
      const code = planned.fault === 503 ? 'SlowDown' : planned.fault >= 500 ? 'InternalError' : 'AccessDenied';
      response.writeHead(planned.fault, { 'content-type': 'application/xml' });
      response.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected</Message></Error>`);
      return;
    }
    const forwarded = http.request({ host: upstream.hostname, port: upstream.port, method, path: request.url, headers: request.headers, agent: false }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    forwarded.on('error', () => response.destroy());
    request.pipe(forwarded);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
