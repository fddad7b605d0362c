import * as fs from 'node:fs';

export interface EdgeWindow {
  readonly requests: number;
  /** Answers with a 5xx status: the node's own failures (token refusals are the client's). */
  readonly serverErrors: number;
  readonly bytes: number;
  readonly seconds: number;
}

/**
 * Reads the edge server's JSON access log from where the last read stopped, so each health report
 * covers exactly the requests since the previous one. A log that shrank was rotated: reading
 * starts again from its beginning.
 */
export class AccessLogReader {
  private offset = 0;
  private lastReadMs: number;

  constructor(
    private readonly file: string,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.lastReadMs = nowMs();
    if (fs.existsSync(file)) {
      this.offset = fs.statSync(file).size;
    }
  }

  read(): EdgeWindow {
    const now = this.nowMs();
    const seconds = Math.max((now - this.lastReadMs) / 1000, 0.001);
    this.lastReadMs = now;
    if (!fs.existsSync(this.file)) {
      return { requests: 0, serverErrors: 0, bytes: 0, seconds };
    }
    const size = fs.statSync(this.file).size;
    if (size < this.offset) {
      this.offset = 0;
    }
    const length = size - this.offset;
    const buffer = Buffer.alloc(length);
    if (length > 0) {
      const handle = fs.openSync(this.file, 'r');
      try {
        fs.readSync(handle, buffer, 0, length, this.offset);
      } finally {
        fs.closeSync(handle);
      }
    }
    const text = buffer.toString('utf8');
    const complete = text.lastIndexOf('\n') + 1;
    this.offset += Buffer.byteLength(text.slice(0, complete));
    let requests = 0;
    let serverErrors = 0;
    let bytes = 0;
    for (const line of text.slice(0, complete).split('\n')) {
      if (!line) continue;
      try {
        const entry = JSON.parse(line) as { status?: number; bytes?: number };
        requests++;
        serverErrors += (entry.status ?? 0) >= 500 ? 1 : 0;
        bytes += entry.bytes ?? 0;
      } catch {
        // a line that is not JSON is not a request record
      }
    }
    return { requests, serverErrors, bytes, seconds };
  }
}

/** Active connections from nginx's stub_status page, or undefined when it cannot be read. */
export async function activeConnections(statusUrl: string): Promise<number | undefined> {
  try {
    const response = await fetch(statusUrl, { signal: AbortSignal.timeout(2000) });
    const match = /Active connections:\s*(\d+)/.exec(await response.text());
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

export interface HealthFigures {
  readonly load: number;
  readonly egressGbps: number;
  readonly errorRate: number;
}

/**
 * The node's health as steering reads it: load is the larger of its share of connections and its
 * share of egress capacity, capped at 1.
 */
export function healthFigures(window: EdgeWindow, connections: number | undefined, capacity: { egressGbps: number; maxConnections: number }): HealthFigures {
  const egressGbps = (window.bytes * 8) / window.seconds / 1e9;
  const load = Math.min(1, Math.max(egressGbps / capacity.egressGbps, (connections ?? 0) / capacity.maxConnections));
  return {
    load: Math.round(load * 1000) / 1000,
    egressGbps: Math.round(egressGbps * 1000) / 1000,
    errorRate: window.requests > 0 ? Math.round((window.serverErrors / window.requests) * 10_000) / 10_000 : 0,
  };
}
