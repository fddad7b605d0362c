import * as fs from 'node:fs';
import * as path from 'node:path';
import { registrationSchema, reportSchema } from '../../lambda/fleet/fleet-protocol';
import { playRequestSchema } from '../../lambda/playback/play-service';
import { eventBatchSchema } from '../../lambda/telemetry/telemetry';
import { synthEnvironment } from '../support/synth';

interface Operation {
  security?: Record<string, string[]>[];
  requestBody?: { content: { 'application/json': { example?: unknown } } };
}

const document = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'lambda', 'openapi.json'), 'utf8')) as {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
};

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
});
