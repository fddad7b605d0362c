import { randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { exportJWK, generateKeyPair, importJWK, JWK, SignJWT } from 'jose';

/** The audience (client id) local viewer tokens are issued for and the local regions accept. */
export const LOCAL_VIEWER_AUDIENCE = 'nearstream-local';

export interface LocalViewerAccount {
  readonly username: string;
  readonly password: string;
  /** The token's `sub`: the viewer account id the control plane keys plans and sessions by. */
  readonly sub: string;
}

interface KeyFile {
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
}

export interface OidcIssuerOptions {
  readonly port: number;
  /** Where the signing key is kept, so tokens stay valid across restarts. */
  readonly directory: string;
  readonly accounts: readonly LocalViewerAccount[];
  /** Origins whose pages may log in (CORS). */
  readonly corsAllowedOrigins: readonly string[];
  /** @default 12 hours */
  readonly tokenLifetimeSeconds?: number;
}

/**
 * LOCAL STAND-IN for the viewer identity provider (Cognito or your OIDC issuer): an RS256 key in
 * a JWKS, the discovery document, and a password grant for the local accounts. Loopback only;
 * its accounts are for development.
 */
export class LocalOidcIssuer {
  private constructor(
    private readonly server: http.Server,
    readonly issuer: string,
    private readonly sign: (sub: string) => Promise<string>,
  ) {}

  static async start(options: OidcIssuerOptions): Promise<LocalOidcIssuer> {
    const keys = await loadOrCreateKey(path.join(options.directory, 'signing-key.json'));
    const privateKey = await importJWK(keys.privateJwk, 'RS256');
    const issuer = `http://127.0.0.1:${options.port}`;
    const lifetime = options.tokenLifetimeSeconds ?? 12 * 3600;
    const sign = (sub: string) =>
      new SignJWT({ client_id: LOCAL_VIEWER_AUDIENCE, token_use: 'access', scope: 'openid' })
        .setProtectedHeader({ alg: 'RS256', kid: keys.publicJwk.kid, typ: 'JWT' })
        .setSubject(sub)
        .setIssuer(issuer)
        .setAudience(LOCAL_VIEWER_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(`${lifetime}s`)
        .sign(privateKey);
    const documents: Record<string, unknown> = {
      '/.well-known/openid-configuration': {
        issuer,
        jwks_uri: `${issuer}/.well-known/jwks.json`,
        token_endpoint: `${issuer}/oauth2/token`,
        grant_types_supported: ['password'],
        id_token_signing_alg_values_supported: ['RS256'],
      },
      '/.well-known/jwks.json': { keys: [keys.publicJwk] },
    };
    const server = http.createServer((request, response) => {
      const origin = request.headers.origin;
      const cors: Record<string, string> =
        origin && options.corsAllowedOrigins.includes(origin)
          ? { 'access-control-allow-origin': origin, 'access-control-allow-methods': 'GET,POST,OPTIONS', 'access-control-allow-headers': 'content-type' }
          : {};
      const send = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...cors });
        response.end(JSON.stringify(body));
      };
      let url: URL;
      try {
        url = new URL(request.url ?? '/', issuer);
      } catch {
        send(400, { error: 'invalid_request', error_description: 'the request target is not a path' });
        return;
      }
      if (request.method === 'OPTIONS') {
        response.writeHead(204, cors).end();
      } else if (request.method === 'GET' && url.pathname in documents) {
        send(200, documents[url.pathname]);
      } else if (request.method === 'POST' && url.pathname === '/oauth2/token') {
        if (!String(request.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
          send(400, { error: 'invalid_request', error_description: 'content-type must be application/x-www-form-urlencoded' });
          return;
        }
        readForm(request)
          .then(async (form) => {
            const account = authenticate(options.accounts, form);
            if (typeof account === 'string') {
              send(400, { error: account === 'unsupported_grant_type' ? account : 'invalid_grant', error_description: account });
              return;
            }
            send(200, { access_token: await sign(account.sub), token_type: 'Bearer', expires_in: lifetime });
          })
          .catch((error: Error) => send(400, { error: 'invalid_request', error_description: error.message }));
      } else {
        send(404, { error: 'not_found' });
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, '127.0.0.1', resolve);
    });
    const actual = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    if (actual !== issuer) {
      server.close();
      throw new Error(`the issuer must listen on a fixed port (its URL is in every token), got ${actual}`);
    }
    return new LocalOidcIssuer(server, issuer, sign);
  }

  /** A viewer token for `sub`, as the token endpoint issues it. */
  tokenFor(sub: string): Promise<string> {
    return this.sign(sub);
  }

  get tokenUrl(): string {
    return `${this.issuer}/oauth2/token`;
  }

  get jwksUrl(): string {
    return `${this.issuer}/.well-known/jwks.json`;
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}

async function loadOrCreateKey(file: string): Promise<KeyFile> {
  if (fs.existsSync(file)) {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as KeyFile;
  }
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomBytes(8).toString('hex');
  const keys: KeyFile = {
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'RS256' },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' },
  };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(keys), { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
  return keys;
}

function readForm(request: http.IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > 4096) {
        request.pause();
        reject(new Error('the form is over 4 KiB'));
      }
    });
    request.on('end', () => resolve(new URLSearchParams(body)));
    request.on('error', reject);
  });
}

/** The account a password grant names, or why it is refused. */
function authenticate(accounts: readonly LocalViewerAccount[], form: URLSearchParams): LocalViewerAccount | string {
  if (form.get('grant_type') !== 'password') {
    return 'unsupported_grant_type';
  }
  const account = accounts.find((candidate) => candidate.username === form.get('username'));
  const given = Buffer.from(form.get('password') ?? '');
  const expected = Buffer.from(account?.password ?? '');
  if (!account || given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return 'wrong username or password';
  }
  return account;
}
