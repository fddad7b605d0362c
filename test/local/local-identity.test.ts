import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateKeyPair, importJWK, KeyLike, SignJWT } from 'jose';
import { jwtAuthorizer } from '../../local/api/jwt-authorizer';
import { LocalGateway } from '../../local/api/local-gateway';
import { LOCAL_VIEWER_AUDIENCE, LocalOidcIssuer } from '../../local/identity/oidc-issuer';
import { freePort } from '../support/ports';

describe('viewer sign-in on the local platform', () => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-identity-'));
  const pageOrigin = 'http://127.0.0.1:4500';
  let issuer: LocalOidcIssuer;
  let gateway: LocalGateway;
  const seen: unknown[] = [];
  const contexts: { functionName: string; invokedFunctionArn: string; awsRequestId: string; remainingMs: number }[] = [];

  beforeAll(async () => {
    issuer = await LocalOidcIssuer.start({ port: await freePort(), directory, accounts: [{ username: 'dev', password: 'correct horse', sub: 'dev-viewer' }], corsAllowedOrigins: [pageOrigin] });
    gateway = await LocalGateway.start(
      [
        {
          method: 'GET',
          path: '/whoami',
          auth: 'viewer',
          handler: async (event) => {
            seen.push(event.requestContext);
            return { statusCode: 200, body: JSON.stringify((event.requestContext as unknown as { authorizer: { jwt: { claims: { sub: string } } } }).authorizer.jwt.claims.sub) };
          },
        },
        { method: 'GET', path: '/boom', auth: 'public', handler: async () => Promise.reject(new Error('handler bug')) },
        {
          method: 'GET',
          path: '/context',
          auth: 'public',
          functionName: 'local-catalog',
          handler: async (_event, context) => {
            contexts.push({ ...context, remainingMs: context.getRemainingTimeInMillis() });
            return { statusCode: 204 };
          },
        },
      ],
      {
        viewerTokens: jwtAuthorizer({ issuer: issuer.issuer, audiences: [LOCAL_VIEWER_AUDIENCE], jwksUrl: issuer.jwksUrl }),
        corsAllowedOrigins: [pageOrigin],
        region: 'eu-west-1',
      },
    );
  });

  afterAll(async () => {
    await gateway?.stop();
    await issuer?.stop();
    fs.rmSync(directory, { recursive: true, force: true });
  });

  const login = (form: Record<string, string>) =>
    fetch(issuer.tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: pageOrigin }, body: new URLSearchParams(form) });
  const whoami = (token?: string) => fetch(`${gateway.url}/whoami`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('issues the dev viewer a token by password grant that the gateway accepts, handing the handler its claims', async () => {
    const response = await login({ grant_type: 'password', username: 'dev', password: 'correct horse', client_id: LOCAL_VIEWER_AUDIENCE });
    const body = (await response.json()) as { access_token: string; token_type: string; expires_in: number };

    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(pageOrigin);
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 43_200 });
    const answer = await whoami(body.access_token);
    expect([answer.status, await answer.json()]).toEqual([200, 'dev-viewer']);
  });

  it('refuses a wrong password or grant without issuing anything', async () => {
    const wrong = await login({ grant_type: 'password', username: 'dev', password: 'correct horsf' });
    const grant = await login({ grant_type: 'client_credentials' });

    expect([wrong.status, await wrong.json()]).toEqual([400, { error: 'invalid_grant', error_description: 'wrong username or password' }]);
    expect([grant.status, ((await grant.json()) as { error: string }).error]).toEqual([400, 'unsupported_grant_type']);
  });

  it('answers 401 as the JWT authorizer does for a missing, forged, foreign, expired or wrong-audience token, before the handler runs', async () => {
    const own = await issuer.tokenFor('dev-viewer');
    const { privateKey: strangerKey } = await generateKeyPair('RS256');
    const sign = (key: KeyLike | Uint8Array, claims: { iss?: string; aud?: string; exp?: number }, kid = 'stranger') =>
      new SignJWT({ client_id: claims.aud ?? LOCAL_VIEWER_AUDIENCE })
        .setProtectedHeader({ alg: 'RS256', kid })
        .setSubject('intruder')
        .setIssuer(claims.iss ?? issuer.issuer)
        .setAudience(claims.aud ?? LOCAL_VIEWER_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(claims.exp ?? Math.floor(Date.now() / 1000) + 600)
        .sign(key);
    const [header, payload] = own.split('.');
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: 'someone-else' })).toString('base64url')}.${own.split('.')[2]}`;
    const ownKid = JSON.parse(Buffer.from(header, 'base64url').toString()).kid as string;
    const ownKey = JSON.parse(fs.readFileSync(path.join(directory, 'signing-key.json'), 'utf8')).privateJwk;
    const issuerKey = await importJWK(ownKey, 'RS256');
    seen.length = 0;

    const statuses = await Promise.all(
      [
        undefined,
        'not-a-jwt',
        tampered,
        await sign(strangerKey, {}),
        await sign(issuerKey, { iss: 'https://cognito-idp.us-east-1.amazonaws.com/elsewhere' }, ownKid),
        await sign(issuerKey, { aud: 'another-app' }, ownKid),
        await sign(issuerKey, { exp: Math.floor(Date.now() / 1000) - 60 }, ownKid),
      ].map(async (token) => (await whoami(token)).status),
    );

    expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 401]);
    expect(seen).toEqual([]);
  });

  it('answers a browser preflight from an allowed origin before authorizing, and names no origin to others', async () => {
    const preflight = (origin: string) =>
      fetch(`${gateway.url}/whoami`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });

    const allowed = await preflight(pageOrigin);
    const other = await preflight('https://evil.example');

    expect(allowed.status).toBe(204);
    expect(Object.fromEntries([...allowed.headers].filter(([name]) => name.startsWith('access-control-')))).toEqual({
      'access-control-allow-origin': pageOrigin,
      'access-control-allow-methods': 'GET,POST,OPTIONS',
      'access-control-allow-headers': 'authorization,content-type',
      'access-control-max-age': '86400',
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses a token without an expiry or issued in the future, as well as an over-quota body or a target that is not a path, before any handler', async () => {
    const ownKey = await importJWK(JSON.parse(fs.readFileSync(path.join(directory, 'signing-key.json'), 'utf8')).privateJwk, 'RS256');
    const kid = JSON.parse(Buffer.from((await issuer.tokenFor('x')).split('.')[0], 'base64url').toString()).kid as string;
    const base = () => new SignJWT({ client_id: LOCAL_VIEWER_AUDIENCE }).setProtectedHeader({ alg: 'RS256', kid }).setSubject('dev-viewer').setIssuer(issuer.issuer).setAudience(LOCAL_VIEWER_AUDIENCE);
    const noExpiry = await base().setIssuedAt().sign(ownKey);
    const fromTheFuture = await base().setIssuedAt(Math.floor(Date.now() / 1000) + 3600).setExpirationTime('2h').sign(ownKey);
    seen.length = 0;

    expect([(await whoami(noExpiry)).status, (await whoami(fromTheFuture)).status]).toEqual([401, 401]);
    const huge = await new Promise<number | undefined>((resolve, reject) => {
      const request = http.request({ host: '127.0.0.1', port: Number(new URL(gateway.url).port), path: '/whoami', method: 'POST' }, (response) => resolve(response.statusCode));
      // The server answers before it has read the body and stops reading: a write may then fail.
      request.on('error', (error) => setTimeout(() => reject(error), 1_000));
      request.end(Buffer.alloc(11 * 1024 * 1024));
    });
    expect(huge).toBe(413);
    const absolute = await new Promise<number | undefined>((resolve, reject) =>
      http.get({ host: '127.0.0.1', port: Number(new URL(gateway.url).port), path: 'http://[bad/x' }, (response) => resolve(response.statusCode)).on('error', reject),
    );
    expect(absolute).toBe(400);
    expect(seen).toEqual([]);
  });

  it('answers a request target the issuer cannot parse, or a token request that is not a form, with a 400 and keeps serving', async () => {
    const target = await new Promise<number | undefined>((resolve, reject) =>
      http.get({ host: '127.0.0.1', port: Number(new URL(issuer.issuer).port), path: 'http://[bad/x' }, (response) => resolve(response.statusCode)).on('error', reject),
    );
    const json = await fetch(issuer.tokenUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"grant_type":"password"}' });

    expect([target, json.status]).toEqual([400, 400]);
    expect((await fetch(issuer.jwksUrl)).status).toBe(200);
  });

  it('turns a handler that throws into a 500 carrying nothing of the error, as API Gateway does', async () => {
    const response = await fetch(`${gateway.url}/boom`);

    expect([response.status, await response.json()]).toEqual([500, { message: 'Internal Server Error' }]);
  });

  it('invokes each handler with a Lambda context of its own: the function, a request id per request and the time left', async () => {
    await fetch(`${gateway.url}/context`);
    await fetch(`${gateway.url}/context`);

    expect(contexts).toEqual([
      expect.objectContaining({ functionName: 'local-catalog', invokedFunctionArn: 'arn:aws:lambda:eu-west-1:000000000000:function:local-catalog' }),
      expect.objectContaining({ functionName: 'local-catalog' }),
    ]);
    expect(contexts[0].awsRequestId).not.toBe(contexts[1].awsRequestId);
    for (const { remainingMs } of contexts) {
      expect(remainingMs).toBeGreaterThan(0);
      expect(remainingMs).toBeLessThanOrEqual(10_000);
    }
  });

  it('keeps its signing key across restarts, so tokens stay valid', async () => {
    const token = await issuer.tokenFor('dev-viewer');
    const port = Number(new URL(issuer.issuer).port);
    await issuer.stop();
    issuer = await LocalOidcIssuer.start({ port, directory, accounts: [], corsAllowedOrigins: [] });

    expect((await whoami(token)).status).toBe(200);
  });
});
