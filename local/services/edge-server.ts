import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { freePort, StoppedError, waitFor } from './ports';

const NJS_MODULE = '/usr/lib/nginx/modules/ngx_http_js_module.so';

/**
 * Real nginx with the njs module on a loopback port, in its own prefix directory, serving a site
 * configuration given by the test. Workers run as nginx's default unprivileged user, so the files
 * it serves must be world-readable, as on a node.
 */
export class EdgeServer {
  private constructor(
    private readonly process: ChildProcess,
    readonly port: number,
    readonly prefix: string,
  ) {}

  /**
   * @param port @default - a free port
   * @param workerUser who nginx's workers run as when it starts as root @default - nginx's default unprivileged user
   */
  static async start(prefix: string, site: (listen: string) => string, port?: number, workerUser?: string): Promise<EdgeServer> {
    port ??= await freePort();
    for (const dir of ['logs', 'temp']) {
      fs.mkdirSync(path.join(prefix, dir), { recursive: true, mode: 0o755 });
    }
    fs.writeFileSync(path.join(prefix, 'site.conf'), site(`127.0.0.1:${port}`));
    fs.writeFileSync(
      path.join(prefix, 'nginx.conf'),
      [
        `load_module ${NJS_MODULE};`,
        ...(workerUser ? [`user ${workerUser};`] : []),
        'worker_processes 2;',
        `pid ${prefix}/nginx.pid;`,
        `error_log ${prefix}/logs/error.log warn;`,
        'events { worker_connections 1024; }',
        'http {',
        `  client_body_temp_path ${prefix}/temp/body; proxy_temp_path ${prefix}/temp/proxy; fastcgi_temp_path ${prefix}/temp/fastcgi;`,
        `  uwsgi_temp_path ${prefix}/temp/uwsgi; scgi_temp_path ${prefix}/temp/scgi;`,
        `  include ${prefix}/site.conf;`,
        '}',
      ].join('\n'),
    );
    const child = spawn('nginx', ['-p', prefix, '-c', path.join(prefix, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const server = new EdgeServer(child, port, prefix);
    try {
      await waitFor(
        () =>
          new Promise<void>((resolve, reject) => {
            if (child.exitCode !== null) {
              reject(new StoppedError(`nginx exited: ${stderr}`));
              return;
            }
            const socket = net.connect(port, '127.0.0.1', () => {
              socket.end();
              resolve();
            });
            socket.on('error', reject);
          }),
        10_000,
        `nginx on port ${port}`,
      );
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  /** Checks a configuration with `nginx -t`, as the image build does. */
  static test(prefix: string): { ok: boolean; output: string } {
    const result = require('node:child_process').spawnSync('nginx', ['-t', '-p', prefix, '-c', path.join(prefix, 'nginx.conf')], { encoding: 'utf8' });
    return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
  }

  url(pathname: string): string {
    return `http://127.0.0.1:${this.port}${pathname}`;
  }

  accessLog(): Record<string, unknown>[] {
    const file = path.join(this.prefix, 'logs', 'access.json');
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line)) : [];
  }

  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) {
      return;
    }
    const exited = new Promise((resolve) => this.process.once('exit', resolve));
    this.process.kill('SIGQUIT');
    // A master that does not finish its graceful stop in time is stopped at once.
    const timer = setTimeout(() => this.process.kill('SIGTERM'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
