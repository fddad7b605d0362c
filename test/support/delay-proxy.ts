import * as net from 'node:net';

/**
 * A loopback TCP proxy that holds every chunk from the client for `delayMs` before passing it on:
 * a real, slow network path to a real server.
 */
export class DelayProxy {
  private constructor(
    private readonly server: net.Server,
    private readonly sockets: Set<net.Socket>,
    private readonly pending: Set<NodeJS.Timeout>,
    readonly port: number,
  ) {}

  static async start(targetPort: number, delayMs: number): Promise<DelayProxy> {
    const sockets = new Set<net.Socket>();
    const pending = new Set<NodeJS.Timeout>();
    const server = net.createServer((client) => {
      const upstream = net.connect(targetPort, '127.0.0.1');
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.on('data', (chunk) => {
        const timer = setTimeout(() => {
          pending.delete(timer);
          upstream.write(chunk);
        }, delayMs);
        pending.add(timer);
      });
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new DelayProxy(server, sockets, pending, (server.address() as net.AddressInfo).port);
  }

  async stop(): Promise<void> {
    // Chunks still held back would otherwise keep the process alive for up to `delayMs`.
    for (const timer of this.pending) {
      clearTimeout(timer);
    }
    for (const socket of this.sockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
