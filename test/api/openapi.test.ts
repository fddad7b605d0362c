import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { listTitlesQuery, titlePath } from '../../lambda/catalog/handler';
import { registrationSchema, reportSchema } from '../../lambda/fleet/fleet-protocol';
import { manifestQuery } from '../../lambda/fleet/handler';
import { playRequestSchema } from '../../lambda/playback/play-service';
import { eventBatchSchema } from '../../lambda/telemetry/telemetry';
import { synthEnvironment } from '../support/synth';

interface JsonSchema {
  readonly $ref?: string;
  readonly format?: string;
  readonly properties?: Record<string, JsonSchema>;
  readonly items?: JsonSchema;
  readonly anyOf?: JsonSchema[];
  readonly [keyword: string]: unknown;
}

interface Operation {
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: 'query' | 'path'; schema: JsonSchema }[];
  requestBody?: { content: { 'application/json': { schema: JsonSchema; example?: unknown } } };
}

const document = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'lambda', 'openapi.json'), 'utf8')) as {
  openapi: string;
  components: { schemas: Record<string, JsonSchema> };
  paths: Record<string, Record<string, Operation>>;
};

const LIMIT_KEYWORDS = ['type', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'minItems', 'maxItems', 'enum', 'pattern', 'additionalProperties'];

/**
 * Every limit a JSON schema sets, by the path of the value it applies to. A format's own pattern
 * (date-time, ip) is the format's business, not a documented limit.
 */
function limits(schema: JsonSchema, at = '$', found: Record<string, Record<string, unknown>> = {}): Record<string, Record<string, unknown>> {
  const resolved = schema.$ref ? document.components.schemas[schema.$ref.replace('#/components/schemas/', '')] : schema;
  const own = Object.fromEntries(
    LIMIT_KEYWORDS.filter((keyword) => resolved[keyword] !== undefined && !(keyword === 'pattern' && resolved.format)).map((keyword) => [keyword, resolved[keyword]]),
  );
  const branchTypes = new Set(resolved.anyOf?.map((branch) => branch.type));
  if (branchTypes.size === 1) {
    own.type = [...branchTypes][0];
  }
  if (Object.keys(own).length > 0) {
    found[at] = own;
  }
  for (const [name, property] of Object.entries(resolved.properties ?? {})) {
    limits(property, `${at}.${name}`, found);
  }
  if (resolved.items) {
    limits(resolved.items, `${at}[]`, found);
  }
  return found;
}

/** What a request schema accepts; parameters arrive as text, so they are documented by what they mean once parsed. */
function handlerLimits(schema: z.ZodType, io: 'input' | 'output'): Record<string, Record<string, unknown>> {
  return limits(z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema);
}

const AUTHORIZATION: Record<string, string> = { viewerJwt: 'JWT', applianceSigV4: 'AWS_IAM' };

function documentedRoutes(): string[] {
  return Object.entries(document.paths).flatMap(([route, operations]) =>
    Object.entries(operations).map(([method, operation]) => {
      const scheme = operation.security?.[0] ? Object.keys(operation.security[0])[0] : undefined;
      return `${method.toUpperCase()} ${route} ${scheme ? AUTHORIZATION[scheme] : 'NONE'}`;
    }),
  );
}

describe('the OpenAPI document', () => {
  const dev = synthEnvironment({ name: 'dev' });

  it('is OpenAPI 3', () => {
    expect(document.openapi).toMatch(/^3\./);
  });

  it.each([0, 1])('lists exactly the routes and authorizers region #%i deploys', (index) => {
    const routes = Object.values(dev.template(dev.environment.controlPlanes[index]).findResources('AWS::ApiGatewayV2::Route')).map(
      (route) => `${route.Properties.RouteKey} ${route.Properties.AuthorizationType ?? 'NONE'}`,
    );
    expect(routes.sort()).toEqual(documentedRoutes().sort());
  });

  it.each([
    ['/play', 'post', playRequestSchema],
    ['/events', 'post', eventBatchSchema],
    ['/fleet/register', 'post', registrationSchema],
    ['/fleet/report', 'post', reportSchema],
  ] as const)('has a request example for %s that the handler\'s own schema accepts', (route, method, schema) => {
    const example = document.paths[route][method].requestBody?.content['application/json'].example;
    expect(example).toBeDefined();
    const result = schema.safeParse(example);
    expect(result.success ? [] : result.error.issues).toEqual([]);
  });

  it.each([
    ['/play', 'post', playRequestSchema],
    ['/events', 'post', eventBatchSchema],
    ['/fleet/register', 'post', registrationSchema],
    ['/fleet/report', 'post', reportSchema],
  ] as const)('documents exactly the limits the handler enforces on the body of %s', (route, method, schema) => {
    const documented = limits(document.paths[route][method].requestBody!.content['application/json'].schema);
    expect(documented).toEqual(handlerLimits(schema, 'input'));
  });

  it.each([
    ['/titles', 'get', listTitlesQuery],
    ['/titles/{titleId}', 'get', titlePath],
    ['/fleet/manifest', 'get', manifestQuery],
  ] as const)('documents exactly the limits the handler enforces on the parameters of %s', (route, method, schema) => {
    const parameters = document.paths[route][method].parameters ?? [];
    const documented = limits({ properties: Object.fromEntries(parameters.map((parameter) => [parameter.name, parameter.schema])) });
    const { $: _root, ...enforced } = handlerLimits(schema, 'output');
    expect(documented).toEqual(enforced);
  });
});
