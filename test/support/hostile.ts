import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { HttpResult } from '../../lambda/shared/http';
import { bodyOf } from './events';

/** One request a hostile or broken client sends, and the 4xx it must get. */
export interface Hostile {
  readonly what: string;
  readonly event: () => APIGatewayProxyEventV2;
  readonly status: number;
  /** The field the answer must name, in `field` and at the start of its message. */
  readonly field: string;
}

export type Handler = (event: APIGatewayProxyEventV2) => Promise<HttpResult>;

/** A route under test: its handler and a request that must still work after every hostile one. */
export interface RouteUnderTest {
  readonly handler: Handler;
  readonly legitimate: () => APIGatewayProxyEventV2;
  readonly status: number;
}

export const b64url = (text: string | Buffer) => Buffer.from(text).toString('base64url');
export const long = (length: number) => 'a'.repeat(length);
/** Nesting deeper than `JSON.stringify` itself can write: bodies with it are built as text. */
export const deeplyNested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

export function withAuthorizer(event: APIGatewayProxyEventV2, authorizer: unknown): APIGatewayProxyEventV2 {
  return { ...event, requestContext: { ...event.requestContext, authorizer } } as unknown as APIGatewayProxyEventV2;
}

export function withRawBody(event: APIGatewayProxyEventV2, body: string | undefined, isBase64Encoded = false): APIGatewayProxyEventV2 {
  return { ...event, body, isBase64Encoded };
}

/** Every item of a table, comparable before and after a request. */
export async function tableItems(client: DynamoDBDocumentClient, tableName: string): Promise<string[]> {
  const { Items } = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
  return (Items ?? []).map((item) => JSON.stringify(item, (_, value) => (value instanceof Set ? [...value].sort() : value))).sort();
}

/** `it.each` rows: route, what is hostile about the request, and the case. */
export function hostileRows<R extends string>(cases: Record<R, readonly Hostile[]>): [R, string, Hostile][] {
  return (Object.entries(cases) as [R, Hostile[]][]).flatMap(([route, hostile]) => hostile.map((c): [R, string, Hostile] => [route, c.what, c]));
}

/** Sends the hostile request, checks its answer and that the table did not change, then that the route still works. */
export async function expectRefusedWithoutTrace(route: RouteUnderTest, hostile: Hostile, items: () => Promise<string[]>): Promise<void> {
  const before = await items();

  const response = await route.handler(hostile.event());

  expect([response.statusCode, bodyOf(response).field]).toEqual([hostile.status, hostile.field]);
  expect(bodyOf(response).message).toEqual(expect.stringContaining(`${hostile.field}:`));
  expect(await items()).toEqual(before);
  const next = await route.handler(route.legitimate());
  expect(next.statusCode).toBe(route.status);
}
