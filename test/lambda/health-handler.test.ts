import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createHealthHandler, handler } from '../../lambda/health/handler';
import { HeartbeatStore } from '../../lambda/health/heartbeat-store';
import { localInvocationContext } from '../../local/api/local-gateway';
import { SlowPath } from '../../local/services/slow-path';
import { DynamoDbLocal, LOCAL_AWS_ENV } from '../support/dynamodb-local';
import { leastPrivilege } from '../support/iam/least-privilege';
import { freePort } from '../support/ports';

const TABLE = 'nearstream-test-control';
const iam = leastPrivilege({ controlTables: [TABLE, 'nearstream-test-missing'] });
const healthHandler = (deps: Parameters<typeof createHealthHandler>[0]) => iam.actingAs('health', createHealthHandler(deps));
const event = { rawPath: '/health', requestContext: { http: { method: 'GET' } } } as unknown as APIGatewayProxyEventV2;

function clientFor(endpoint: string): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint,
      region: LOCAL_AWS_ENV.AWS_REGION,
      maxAttempts: 1,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    }),
  );
}

describe('GET /health against DynamoDB Local', () => {
  let dynamo: DynamoDbLocal;

  beforeAll(async () => {
    dynamo = await DynamoDbLocal.start();
    await dynamo.createControlTable(TABLE);
  });

  afterAll(async () => {
    await dynamo?.stop();
  });

  it('answers 200 after writing and reading back its region\'s heartbeat, which expires in a day', async () => {
    Object.assign(process.env, LOCAL_AWS_ENV, {
      AWS_REGION: 'us-west-2',
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      CONTROL_TABLE_NAME: TABLE,
      HEALTH_TABLE_BUDGET_MS: '5000',
    });
    const before = Math.floor(Date.now() / 1000);

    const response = await iam.actingAs('health', handler)(event, localInvocationContext({ functionName: 'health', region: 'us-west-2', timeoutMs: 10_000, memorySizeMb: 512 }));

    expect(response.statusCode).toBe(200);
    expect(response.headers).toMatchObject({ 'content-type': 'application/json', 'cache-control': 'no-store' });
    expect(JSON.parse(response.body!)).toEqual({ status: 'ok', region: 'us-west-2', tableRoundTripMs: expect.any(Number) });
    const { Item } = await dynamo.documentClient().send(
      new GetCommand({ TableName: TABLE, Key: { pk: 'heartbeat#us-west-2', sk: 'heartbeat' } }),
    );
    expect(Item).toMatchObject({ region: 'us-west-2', beatId: expect.any(String) });
    expect(Item!.expiresAt).toBeGreaterThanOrEqual(before + 86_400);
    expect(Item!.expiresAt).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 86_400);
  });

  it('overwrites the heartbeat on every probe instead of accumulating items', async () => {
    const store = new HeartbeatStore(dynamo.documentClient(), TABLE);
    const probe = healthHandler({ store, region: 'eu-west-1', tableBudgetMs: 5000 });
    await probe(event);
    const first = await dynamo.documentClient().send(
      new GetCommand({ TableName: TABLE, Key: { pk: 'heartbeat#eu-west-1', sk: 'heartbeat' } }),
    );
    await probe(event);
    const second = await dynamo.documentClient().send(
      new GetCommand({ TableName: TABLE, Key: { pk: 'heartbeat#eu-west-1', sk: 'heartbeat' } }),
    );
    expect(second.Item!.beatId).not.toBe(first.Item!.beatId);
  });

  it('answers 503 naming the error when its table does not exist', async () => {
    const store = new HeartbeatStore(dynamo.documentClient(), 'nearstream-test-missing');
    const response = await healthHandler({ store, region: 'us-east-1', tableBudgetMs: 5000 })(event);

    expect(response.statusCode).toBe(503);
    expect(JSON.parse(response.body!)).toMatchObject({
      status: 'unhealthy',
      region: 'us-east-1',
      reason: expect.stringMatching(/^table unreachable: ResourceNotFoundException/),
    });
  });

  it('answers 503 when nothing listens at the table endpoint', async () => {
    const store = new HeartbeatStore(clientFor(`http://127.0.0.1:${await freePort()}`), TABLE);
    const response = await healthHandler({ store, region: 'us-east-1', tableBudgetMs: 5000 })(event);

    expect(response.statusCode).toBe(503);
    expect(JSON.parse(response.body!).reason).toMatch(/^table unreachable: .*ECONNREFUSED/);
  });

  it('answers 503 when the table answers slower than the budget, without waiting for it', async () => {
    const port = Number(new URL(dynamo.endpoint).port);
    const proxy = await SlowPath.start(0, port, 1500);
    try {
      const store = new HeartbeatStore(clientFor(`http://127.0.0.1:${proxy.port}`), TABLE);
      const started = Date.now();
      const response = await healthHandler({ store, region: 'us-east-1', tableBudgetMs: 300 })(event);

      expect(response.statusCode).toBe(503);
      expect(JSON.parse(response.body!).reason).toBe('table slow: no answer within 300 ms');
      expect(Date.now() - started).toBeLessThan(1500);
    } finally {
      await proxy.stop();
    }
  });

  it('answers 200 through the same slow path when the budget allows for it', async () => {
    const port = Number(new URL(dynamo.endpoint).port);
    const proxy = await SlowPath.start(0, port, 100);
    try {
      const store = new HeartbeatStore(clientFor(`http://127.0.0.1:${proxy.port}`), TABLE);
      const response = await healthHandler({ store, region: 'us-east-1', tableBudgetMs: 5000 })(event);
      expect(response.statusCode).toBe(200);
      expect(JSON.parse(response.body!).tableRoundTripMs).toBeGreaterThanOrEqual(200);
    } finally {
      await proxy.stop();
    }
  });
});
