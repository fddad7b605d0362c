import * as http from 'node:http';
import { AddressInfo } from 'node:net';

/**
 * LOCAL STAND-IN for AWS Secrets Manager, for the local platform: answers `GetSecretValue` in
 * Secrets Manager's JSON protocol, so the real handlers read their keys through the SDK (pointed
 * here with `AWS_ENDPOINT_URL_SECRETS_MANAGER`). The secrets are given at start; nothing is
 * written. It checks no signatures. Loopback only.
 */
export class LocalSecretsManager {
  private constructor(
    private readonly server: http.Server,
    readonly endpoint: string,
  ) {}

  static async start(secrets: ReadonlyMap<string, string>, port = 0): Promise<LocalSecretsManager> {
    const server = http.createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        const answer = (status: number, payload: Record<string, unknown>) => {
          const headers: Record<string, string> = { 'content-type': 'application/x-amz-json-1.1' };
          if (status !== 200) {
            headers['x-amzn-errortype'] = String(payload.__type);
          }
          response.writeHead(status, headers).end(JSON.stringify(payload));
        };
        const target = request.headers['x-amz-target'];
        if (target !== 'secretsmanager.GetSecretValue') {
          answer(400, { __type: 'UnknownOperationException', message: `the local Secrets Manager answers GetSecretValue only, not ${String(target)}` });
          return;
        }
        let input: { SecretId?: unknown; VersionStage?: unknown };
        try {
          input = JSON.parse(body);
        } catch {
          answer(400, { __type: 'SerializationException', message: 'the request body is not JSON' });
          return;
        }
        if (typeof input !== 'object' || input === null || Array.isArray(input)) {
          answer(400, { __type: 'SerializationException', message: 'the request body must be a JSON object' });
          return;
        }
        const name = String(input.SecretId ?? '');
        const value = secrets.get(name);
        if (value === undefined || (input.VersionStage !== undefined && input.VersionStage !== 'AWSCURRENT')) {
          answer(400, { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." });
          return;
        }
        answer(200, {
          ARN: `arn:aws:secretsmanager:local:000000000000:secret:${name}`,
          Name: name,
          SecretString: value,
          VersionId: 'local-current',
          VersionStages: ['AWSCURRENT'],
          CreatedDate: 0,
        });
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    return new LocalSecretsManager(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}
