import * as net from 'node:net';

/** A loopback TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Thrown by a probe when waiting longer cannot help: what it waits for has exited. */
export class StoppedError extends Error {}

/**
 * Resolves once `probe` succeeds, retrying every 100 ms; rejects with the last error after
 * `timeoutMs`, or at once when the probe throws a `StoppedError`.
 */
export async function waitFor(probe: () => Promise<unknown>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      await probe();
      return;
    } catch (error) {
      if (error instanceof StoppedError) {
        throw error;
      }
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`${what} did not come up within ${timeoutMs} ms: ${String(lastError)}`);
}

/** Whether nothing listens on a loopback port now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Whether all these ports are free now. */
export async function portsFree(ports: readonly number[]): Promise<boolean> {
  return (await Promise.all(ports.map(portFree))).every(Boolean);
}
