import * as net from 'node:net';

/**
 * A loopback TCP proxy on `port` that holds every chunk a client sends for `delayMs` before
 * passing it to `targetPort`: each request reaches the server that much later, as it would from a
 * server whose disk answers late. Answers flow back untouched.
 */
export class SlowPath {
  private constructor(
    private readonly server: net.Server,
    private readonly sockets: Set<net.Socket>,
    private readonly pending: Set<NodeJS.Timeout>,
    /** Where clients connect (the one given, or the free port 0 picked). */
    readonly port: number,
  ) {}

  /** `port` 0 picks a free one. */
  static async start(port: number, targetPort: number, delayMs: number): Promise<SlowPath> {
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
      const later = (action: () => void) => {
        const timer = setTimeout(() => {
          pending.delete(timer);
          action();
        }, delayMs);
        pending.add(timer);
      };
      // The end follows the chunks it comes after, held back as long.
      client.on('data', (chunk) => later(() => upstream.write(chunk)));
      client.on('end', () => later(() => upstream.end()));
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    return new SlowPath(server, sockets, pending, (server.address() as net.AddressInfo).port);
  }

  async stop(): Promise<void> {
    for (const timer of this.pending) {
      clearTimeout(timer);
    }
    for (const socket of this.sockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
