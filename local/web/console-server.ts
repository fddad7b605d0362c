import * as fs from 'node:fs';
import * as http from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import * as path from 'node:path';

/**
 * The local platform's one web page: an hls.js player that plays a title the way a viewer's
 * browser would (log in, `/play`, appliances in rank order) beside a live view of the platform.
 * This server only hands out the page, hls.js and two JSON documents; the page talks to the
 * regions, the token endpoint and the appliances itself.
 */

export interface ConsoleRegion {
  readonly name: string;
  readonly apiUrl: string;
}

export interface ConsoleConfig {
  /** The page calls `/play` on the first healthy one and fails over to the next. */
  readonly regions: ConsoleRegion[];
  /** The dev viewer's credentials, for the password grant at `tokenUrl`. */
  readonly login: { readonly tokenUrl: string; readonly username: string; readonly password: string };
  /** What the page offers `/play`, narrowed to the codecs `MediaSource.isTypeSupported` accepts. */
  readonly device: { readonly codecs: string[]; readonly maxHeight: number };
}

export interface ApplianceStatus {
  readonly applianceId: string;
  readonly clusterId: string;
  readonly region: string;
  readonly baseUrl: string;
  readonly healthy: boolean;
  readonly titlesHeld: number;
  readonly bytesServed: number;
  readonly lastFill?: { readonly at: string; readonly result: string };
}

export interface RegionStatus {
  readonly name: string;
  readonly apiUrl: string;
  readonly healthy: boolean;
  readonly detail: string;
  readonly streamStartsPerSecond?: number;
  /** Plays players reported failed in the last minute. */
  readonly playFailuresLastMinute?: number;
}

export interface PlatformStatus {
  readonly regions: RegionStatus[];
  readonly appliances: ApplianceStatus[];
  readonly titles: { readonly titleId: string; readonly name: string }[];
}

export interface ConsoleServerOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /** @default '127.0.0.1' - the page hands out the dev viewer's password, so it never leaves loopback */
  readonly host?: '127.0.0.1';
  /** Read on every `GET /api/config`. */
  readonly config: () => ConsoleConfig;
  /** Read on every `GET /api/status`; a rejection or a hang becomes a 503 naming the reason. */
  readonly status: () => Promise<PlatformStatus>;
}

/** `status()` is polled every 2 s by every open page: one that hangs must not pile requests up. */
export const STATUS_TIMEOUT_MS = 5_000;

const PAGE_DIR = path.join(__dirname, 'page');
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};
/**
 * The page fetches from the regions, the token endpoint and the appliances (other loopback ports),
 * and hls.js plays through a MediaSource blob; nothing else is allowed, nothing from elsewhere.
 */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; worker-src 'self' blob:; " +
    "connect-src 'self' http://127.0.0.1:* http://localhost:*; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

interface StaticFile {
  readonly body: Buffer;
  readonly contentType: string;
}

/** Every file the page needs, read once: `/` is the page, `/<name>` its scripts and CSS, `/vendor/hls.min.js` hls.js. */
function staticFiles(): ReadonlyMap<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const name of fs.readdirSync(PAGE_DIR)) {
    const contentType = CONTENT_TYPES[path.extname(name)];
    if (contentType) {
      files.set(name === 'index.html' ? '/' : `/${name}`, { body: fs.readFileSync(path.join(PAGE_DIR, name)), contentType });
    }
  }
  if (!files.has('/')) {
    throw new Error(`${path.join(PAGE_DIR, 'index.html')}: the page is missing`);
  }
  files.set('/vendor/hls.min.js', { body: fs.readFileSync(require.resolve('hls.js/dist/hls.min.js')), contentType: CONTENT_TYPES['.js'] });
  return files;
}

export class ConsoleServer {
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(options: ConsoleServerOptions): Promise<ConsoleServer> {
    const host = options.host ?? '127.0.0.1';
    if (host !== '127.0.0.1') {
      throw new Error(`host: must be 127.0.0.1 (the page carries the dev viewer's password), not '${String(host)}'`);
    }
    if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65_535) {
      throw new Error(`port: must be a whole number from 0 to 65535, not ${options.port}`);
    }
    const files = staticFiles();
    let allowedHosts: ReadonlySet<string> = new Set();
    const server = http.createServer((request, response) => {
      void answer(request, allowedHosts, files, options)
        .catch((error: unknown) => jsonAnswer(500, { message: `the console server failed: ${error instanceof Error ? error.message : String(error)}` }))
        .then(({ statusCode, headers, body }) => {
          response.writeHead(statusCode, { ...SECURITY_HEADERS, ...headers, 'content-length': String(body.byteLength) });
          response.end(request.method === 'HEAD' ? undefined : body);
        });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    allowedHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
    return new ConsoleServer(server, `http://127.0.0.1:${port}`);
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Pages keep their connections alive between status polls; closing must not wait for them.
    for (const socket of this.sockets) {
      socket.destroy();
    }
    await closed;
  }
}

interface Answer {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

function jsonAnswer(statusCode: number, value: unknown, headers: Record<string, string> = {}): Answer {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: Buffer.from(JSON.stringify(value)) };
}

async function answer(request: http.IncomingMessage, allowedHosts: ReadonlySet<string>, files: ReadonlyMap<string, StaticFile>, options: ConsoleServerOptions): Promise<Answer> {
  // A page on another site could otherwise read the dev password through a DNS name rebound to loopback.
  if (!allowedHosts.has(request.headers.host ?? '')) {
    return jsonAnswer(403, { message: `Host: must be one of ${[...allowedHosts].join(', ')}` });
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return jsonAnswer(405, { message: `${request.method}: only GET and HEAD are served` }, { allow: 'GET, HEAD' });
  }
  const pathname = new URL(request.url ?? '/', 'http://console').pathname;
  if (pathname === '/api/config') {
    return jsonAnswer(200, options.config());
  }
  if (pathname === '/api/status') {
    return statusAnswer(options.status);
  }
  const file = files.get(pathname);
  if (!file) {
    return jsonAnswer(404, { message: `${pathname}: not found` });
  }
  return { statusCode: 200, headers: { 'content-type': file.contentType }, body: file.body };
}

async function statusAnswer(status: () => Promise<PlatformStatus>): Promise<Answer> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`status did not answer within ${STATUS_TIMEOUT_MS} ms`)), STATUS_TIMEOUT_MS);
  });
  try {
    return jsonAnswer(200, await Promise.race([Promise.resolve().then(status), timeout]));
  } catch (error) {
    return jsonAnswer(503, { message: error instanceof Error ? error.message : String(error) });
  } finally {
    clearTimeout(timer);
  }
}
