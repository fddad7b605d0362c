import * as net from 'node:net';

/**
 * A loopback TCP proxy that holds every chunk from the client for `delayMs` before passing it on:
 * a real, slow network path to a real server.
 */
export class DelayProxy {
  private constructor(
    private readonly server: net.Server,
    private readonly sockets: Set<net.Socket>,
    readonly port: number,
  ) {}

  static async start(targetPort: number, delayMs: number): Promise<DelayProxy> {
    const sockets = new Set<net.Socket>();
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
      client.on('data', (chunk) => setTimeout(() => upstream.write(chunk), delayMs));
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new DelayProxy(server, sockets, (server.address() as net.AddressInfo).port);
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
