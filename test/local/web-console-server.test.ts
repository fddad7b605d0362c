import * as fs from 'node:fs';
import * as http from 'node:http';
import { ConsoleConfig, ConsoleServer, PlatformStatus } from '../../local/web/console-server';

const CONFIG: ConsoleConfig = {
  regions: [
    { name: 'us-east-1', apiUrl: 'http://127.0.0.1:1/' },
    { name: 'us-west-2', apiUrl: 'http://127.0.0.1:2/' },
  ],
  login: { tokenUrl: 'http://127.0.0.1:3/oauth2/token', username: 'dev-viewer', password: 'dev-password' },
  device: { codecs: ['av01', 'avc1'], maxHeight: 1080 },
};

const STATUS: PlatformStatus = {
  regions: [{ name: 'us-east-1', apiUrl: 'http://127.0.0.1:1/', healthy: true, detail: 'ok', streamStartsPerSecond: 0.5 }],
  appliances: [
    { applianceId: 'appliance-1', clusterId: 'cluster-1', region: 'us-east-1', baseUrl: 'http://127.0.0.1:4', healthy: true, titlesHeld: 3, bytesServed: 1024, lastFill: { at: '2026-11-21T02:00:00.000Z', result: 'complete' } },
  ],
  titles: [{ titleId: 'abc', name: 'Clip' }],
};

/** A raw request, so the Host header and the method are exactly what the test says. */
function request(url: string, method: string, host?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const outgoing = http.request({ host: target.hostname, port: target.port, path: target.pathname, method, headers: host ? { host } : {} }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

describe('the console server', () => {
  let server: ConsoleServer;
  let config: () => ConsoleConfig;
  let status: () => Promise<PlatformStatus>;

  beforeAll(async () => {
    server = await ConsoleServer.start({ port: 0, config: () => config(), status: () => status() });
  });

  afterAll(async () => {
    await server?.stop();
  });

  beforeEach(() => {
    config = () => CONFIG;
    status = async () => STATUS;
  });

  it('listens on loopback only, on the port it was given (0 picks one)', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('serves the page, its module script, its CSS and the installed hls.js, behind a policy that allows no other site', async () => {
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain('<script type="module" src="/main.js"></script>');
    expect(html).toContain('<script src="/vendor/hls.min.js" defer></script>');

    const script = await fetch(`${server.url}/main.js`);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await fetch(`${server.url}/console.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');

    const hls = await fetch(`${server.url}/vendor/hls.min.js`);
    expect(hls.status).toBe(200);
    expect(Buffer.from(await hls.arrayBuffer()).equals(fs.readFileSync(require.resolve('hls.js/dist/hls.min.js')))).toBe(true);
  });

  it('hands the page its config and the live platform status as JSON', async () => {
    const config = await fetch(`${server.url}/api/config`);
    expect(config.status).toBe(200);
    expect(await config.json()).toEqual(CONFIG);

    const live = await fetch(`${server.url}/api/status`);
    expect(live.status).toBe(200);
    expect(live.headers.get('cache-control')).toBe('no-store');
    expect(await live.json()).toEqual(STATUS);
  });

  it('answers 503 with the reason when the status cannot be read, and keeps serving', async () => {
    status = async () => {
      throw new Error('region us-west-2: health probe refused');
    };
    const failed = await fetch(`${server.url}/api/status`);
    expect(failed.status).toBe(503);
    expect(await failed.json()).toEqual({ message: 'region us-west-2: health probe refused' });

    status = () => {
      throw new Error('status threw before returning a promise');
    };
    expect((await fetch(`${server.url}/api/status`)).status).toBe(503);
    expect((await fetch(`${server.url}/api/config`)).status).toBe(200);
  });

  it('answers 500 naming the reason when the config cannot be read, and keeps serving', async () => {
    config = () => {
      throw new Error('login.tokenUrl: the OIDC issuer has not started');
    };
    const failed = await fetch(`${server.url}/api/config`);
    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual({ message: 'the console server failed: login.tokenUrl: the OIDC issuer has not started' });
    expect((await fetch(`${server.url}/`)).status).toBe(200);
  });

  it('serves nothing else: its own source, the page directory listing and unknown API paths are 404', async () => {
    for (const path of ['/console-server.ts', '/page/main.js', '/index.html', '/api/other', '/vendor/hls.js', '/../package.json']) {
      const response = await fetch(`${server.url}${path}`);
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
    }
  });

  it('answers 405 to anything but GET and HEAD, and HEAD without a body', async () => {
    const post = await request(`${server.url}/api/config`, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect((await request(`${server.url}/`, 'DELETE')).status).toBe(405);

    const head = await request(`${server.url}/api/config`, 'HEAD');
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBe(Buffer.byteLength(JSON.stringify(CONFIG)));
    expect(head.body).toBe('');
  });

  it('refuses a request addressed to another host name, so a rebound DNS name cannot read the dev password', async () => {
    const rebound = await request(`${server.url}/api/config`, 'GET', 'attacker.example:80');
    expect(rebound.status).toBe(403);
    expect(rebound.body).not.toContain('dev-password');
    const port = new URL(server.url).port;
    expect((await request(`${server.url}/api/config`, 'GET', `localhost:${port}`)).status).toBe(200);
  });
});
