import { createSign, createVerify } from 'node:crypto';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { createOriginKeyHandler } from '../../../lambda/origin-key/handler';

// Secrets Manager cannot run locally; CloudFormation's response URL is a real local HTTP server.
const secretsMock = mockClient(SecretsManagerClient);

describe('Custom::CloudFrontKeyPair', () => {
  let server: http.Server;
  let responses: { method?: string; contentType?: string; body: Record<string, unknown> }[];
  let responseUrl: string;
  const handler = createOriginKeyHandler({
    secrets: new SecretsManagerClient({ region: 'us-east-1' }),
    respond: async (url, body) => {
      const answer = await fetch(url, { method: 'PUT', body, headers: { 'content-type': '' } });
      expect(answer.status).toBe(200);
    },
  });

  const event = (RequestType: 'Create' | 'Update' | 'Delete', generation = '1', oldGeneration = '1') =>
    ({
      RequestType,
      ResponseURL: responseUrl,
      StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/data/1',
      RequestId: 'req-1',
      LogicalResourceId: 'OriginKeyPair',
      ResourceType: 'Custom::CloudFrontKeyPair',
      ServiceToken: 'arn',
      ResourceProperties: { ServiceToken: 'arn', SecretId: 'nearstream/dev/origin-signing-key', Generation: generation },
      OldResourceProperties: { ServiceToken: 'arn', SecretId: 'nearstream/dev/origin-signing-key', Generation: oldGeneration },
      PhysicalResourceId: 'cloudfront-key-pair:nearstream/dev/origin-signing-key',
    }) as unknown as CloudFormationCustomResourceEvent;

  beforeAll(async () => {
    server = http.createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        responses.push({ method: request.method, contentType: request.headers['content-type'], body: JSON.parse(body) });
        response.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    responseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/response`;
  });

  beforeEach(() => {
    secretsMock.reset();
    responses = [];
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('creates a pair, stores only the private key and answers only the matching public key', async () => {
    secretsMock.on(PutSecretValueCommand).resolves({});
    await handler(event('Create'));

    const stored = JSON.parse(secretsMock.commandCalls(PutSecretValueCommand)[0].args[0].input.SecretString!);
    const [answer] = responses;
    expect(answer.method).toBe('PUT');
    expect(answer.body).toMatchObject({ Status: 'SUCCESS', RequestId: 'req-1', LogicalResourceId: 'OriginKeyPair' });
    const publicKeyPem = (answer.body.Data as { PublicKeyPem: string }).PublicKeyPem;
    expect(publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(JSON.stringify(answer.body)).not.toContain('PRIVATE KEY');
    const signature = createSign('RSA-SHA1').update('policy').sign(stored.privateKeyPem);
    expect(createVerify('RSA-SHA1').update('policy').verify(publicKeyPem, signature)).toBe(true);
  });

  it('keeps the pair on an update that does not change the generation', async () => {
    secretsMock.on(PutSecretValueCommand).resolves({});
    await handler(event('Create'));
    const stored = secretsMock.commandCalls(PutSecretValueCommand)[0].args[0].input.SecretString!;
    const created = (responses[0].body.Data as { PublicKeyPem: string }).PublicKeyPem;
    secretsMock.reset();
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: stored });

    await handler(event('Update'));

    expect(secretsMock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
    expect((responses[1].body.Data as { PublicKeyPem: string }).PublicKeyPem).toBe(created);
  });

  it('rotates the pair when the generation changes', async () => {
    secretsMock.on(PutSecretValueCommand).resolves({});
    await handler(event('Update', '2', '1'));
    expect(secretsMock.commandCalls(PutSecretValueCommand)).toHaveLength(1);
    expect(responses[0].body.Status).toBe('SUCCESS');
  });

  it('answers FAILED with the reason, never hanging the stack, when the secret cannot be written', async () => {
    secretsMock.on(PutSecretValueCommand).rejects(new Error('AccessDeniedException: not allowed'));
    await handler(event('Create'));
    expect(responses[0].body).toMatchObject({ Status: 'FAILED', Reason: 'AccessDeniedException: not allowed' });
  });

  it('succeeds on delete without touching the secret, which CloudFormation deletes itself', async () => {
    await handler(event('Delete'));
    expect(secretsMock.calls()).toHaveLength(0);
    expect(responses[0].body.Status).toBe('SUCCESS');
  });
});
