import { runSimulation } from '@cloud-copilot/iam-simulate';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CONTENT_KEY_PURPOSE } from '../../lambda/keys/content-key-store';
import { ConfigError } from '../../lib/config/config-error';
import { resolveEnvironment } from '../../lib/config/environment';
import { NearstreamEnvironment } from '../../lib/nearstream-environment';
import { CfnTemplate, TemplateResolver } from '../support/iam/template-resolver';
import { synthEnvironment, SynthesizedEnvironment } from '../support/synth';

const ACCOUNT = '123456789012';
const [PRIMARY, SECONDARY] = ['us-east-1', 'us-west-2'];
const LICENSE_SERVICES = {
  widevine: { url: 'https://license.example.com/widevine', secretArn: `arn:aws:secretsmanager:${PRIMARY}:${ACCOUNT}:secret:nearstream/prod/widevine-AbCdEf` },
  playready: { url: 'https://license.example.com/playready', secretArn: `arn:aws:secretsmanager:${PRIMARY}:${ACCOUNT}:secret:nearstream/prod/playready-GhIjKl` },
};
const alias = (env: string) => `alias/nearstream-${env}/content-keys`;
/** What every content-key KMS statement is held by: the key's alias, and the content keys' encryption context. */
const onlyContentKeys = (env: string) => ({
  'ForAnyValue:StringEquals': { 'kms:ResourceAliases': alias(env) },
  StringEquals: { 'kms:EncryptionContext:purpose': CONTENT_KEY_PURPOSE },
});

interface Statement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}
type Resource = { Type: string; Properties: Record<string, any>; DeletionPolicy?: string; UpdateReplacePolicy?: string };

const actionsOf = (statement: Statement) => [statement.Action].flat();

/** The function a stack runs as Powertools service `service`, with its logical id. */
function functionOf(template: Template, service: string): { id: string; properties: Record<string, any> } {
  const found = Object.entries(template.findResources('AWS::Lambda::Function') as Record<string, Resource>).filter(
    ([, fn]) => fn.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === service,
  );
  expect(found).toHaveLength(1);
  return { id: found[0][0], properties: found[0][1].Properties };
}

/** Every statement of every policy attached to the role with logical id `roleId`. */
function statementsOfRole(template: Template, roleId: string): Statement[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy') as Record<string, Resource>).filter((policy) =>
    (policy.Properties.Roles as unknown[]).some((role) => JSON.stringify(role) === JSON.stringify({ Ref: roleId })),
  );
  const inline = (template.findResources('AWS::IAM::Role')[roleId] as Resource).Properties.Policies ?? [];
  return [...policies, ...inline.map((policy: { PolicyDocument: unknown }) => ({ Properties: { PolicyDocument: policy.PolicyDocument } }))].flatMap(
    (policy) => policy.Properties.PolicyDocument.Statement as Statement[],
  );
}

/** The statements of a function's role. */
function statementsOf(template: Template, service: string): Statement[] {
  return statementsOfRole(template, functionOf(template, service).properties.Role['Fn::GetAtt'][0]);
}

const serviceStatements = (statements: Statement[], prefix: string) => statements.filter((statement) => actionsOf(statement).some((action) => action.startsWith(prefix)));

/** The logical id behind a `Ref` or `Fn::GetAtt` of a token. */
function logicalIdOf(stack: Stack, token: string): string {
  const resolved = stack.resolve(token) as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
  return resolved.Ref ?? resolved['Fn::GetAtt']![0];
}

/** Every stack of an environment, as deployed (intrinsics resolved), for IAM simulations. */
function deployed(synthesized: SynthesizedEnvironment): TemplateResolver {
  const { environment } = synthesized;
  const stacks = [environment.originReplica, environment.data, environment.encoding, ...environment.controlPlanes, environment.applianceImage, ...environment.appliances];
  return new TemplateResolver(
    stacks.map((stack) => ({ stackName: stack.stackName, region: stack.region, account: stack.account, template: synthesized.template(stack).toJSON() as CfnTemplate })),
  );
}

describe('content protection', () => {
  const dev = synthEnvironment({ name: 'dev', account: ACCOUNT });
  const prod = synthEnvironment({ name: 'prod', account: ACCOUNT, viewerEmailFrom: 'no-reply@example.com', licenseServices: JSON.stringify(LICENSE_SERVICES) });
  const envs: [string, SynthesizedEnvironment][] = [['dev', dev], ['prod', prod]];

  it.each(envs)('synthesizes %s without error', (_name, synthesized) => {
    expect(synthesized.synthError).toBeUndefined();
  });

  describe('the SPEKE key provider API', () => {
    const { encoding } = prod.environment;
    const template = prod.template(encoding);
    const apiId = logicalIdOf(encoding, encoding.keyProvider.api.restApiId);
    const mediaConvertRoleId = logicalIdOf(encoding, encoding.ladder.serviceRole.roleArn);

    it('serves exactly one method, POST /speke/v2, with AWS_IAM authorization, proxied to the key provider function', () => {
      const methods = Object.values(template.findResources('AWS::ApiGateway::Method') as Record<string, Resource>).filter(
        (method) => method.Properties.RestApiId.Ref === apiId,
      );
      expect(methods).toHaveLength(1);
      const [method] = methods;
      expect(method.Properties).toMatchObject({ HttpMethod: 'POST', AuthorizationType: 'AWS_IAM', Integration: { Type: 'AWS_PROXY' } });
      expect(JSON.stringify(method.Properties.Integration.Uri)).toContain(functionOf(template, 'key-provider').id);
      const resources = template.findResources('AWS::ApiGateway::Resource') as Record<string, Resource>;
      const v2 = resources[method.Properties.ResourceId.Ref];
      const speke = resources[v2.Properties.ParentId.Ref];
      expect([speke.Properties.PathPart, v2.Properties.PathPart]).toEqual(['speke', 'v2']);
      expect(speke.Properties.ParentId).toEqual({ 'Fn::GetAtt': [apiId, 'RootResourceId'] });
    });

    it('admits MediaConvert\'s service role in its resource policy and denies execute-api:Invoke to every other principal', () => {
      template.hasResourceProperties('AWS::ApiGateway::RestApi', {
        Name: 'nearstream-prod-key-provider',
        Policy: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { AWS: { 'Fn::GetAtt': [mediaConvertRoleId, 'Arn'] } },
              Action: 'execute-api:Invoke',
              Resource: `arn:aws:execute-api:${PRIMARY}:${ACCOUNT}:*/*/POST/speke/v2`,
            },
            {
              Effect: 'Deny',
              Principal: { AWS: '*' },
              Action: 'execute-api:Invoke',
              Resource: 'execute-api:/*',
              Condition: { ArnNotEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': [mediaConvertRoleId, 'Arn'] } } },
            },
          ],
        },
      });
    });

    it('lets MediaConvert\'s role invoke exactly POST /speke/v2 on the v1 stage of that API, and no other API', () => {
      const invokes = serviceStatements(statementsOfRole(template, mediaConvertRoleId), 'execute-api:');
      expect(invokes).toEqual([
        {
          Effect: 'Allow',
          Action: 'execute-api:Invoke',
          Resource: { 'Fn::Join': ['', [`arn:aws:execute-api:${PRIMARY}:${ACCOUNT}:`, { Ref: apiId }, '/v1/POST/speke/v2']] },
        },
      ]);
    });

    describe('as IAM decides, with the deployed policies', () => {
      const resolver = deployed(prod);
      const stack = resolver.stack(encoding.stackName, PRIMARY);
      const apiArn = `arn:aws:execute-api:${PRIMARY}:${ACCOUNT}:${resolver.ref(stack, apiId)}`;
      // API Gateway reads `execute-api:/*` in a resource policy as every method of this API.
      const resourcePolicy = JSON.parse(JSON.stringify(resolver.resolve(stack, template.toJSON().Resources[apiId].Properties.Policy)).replaceAll('"execute-api:/', `"${apiArn}/`));
      const mediaConvertRole = resolver.attribute(stack, mediaConvertRoleId, 'Arn');
      const mediaConvertPolicies = statementsOfRole(template, mediaConvertRoleId);
      const administrator = [{ Effect: 'Allow', Action: '*', Resource: '*' }];

      const invoke = async (roleArn: string, statements: unknown[], methodAndPath: string) => {
        const result = await runSimulation(
          {
            request: {
              principal: `${roleArn.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/')}/job`,
              action: 'execute-api:Invoke',
              resource: { resource: `${apiArn}/v1/${methodAndPath}`, accountId: ACCOUNT },
              contextVariables: { 'aws:PrincipalArn': roleArn, 'aws:PrincipalAccount': roleArn.split(':')[4] },
            },
            identityPolicies: [{ name: 'identity', policy: { Version: '2012-10-17', Statement: resolver.resolve(stack, statements) } }],
            resourcePolicy,
            serviceControlPolicies: [],
            resourceControlPolicies: [],
          },
          {},
        );
        return result.resultType === 'error' ? result.errors.message : result.overallResult;
      };

      it('allows MediaConvert\'s role to POST a SPEKE request, and nothing else', async () => {
        await expect(invoke(mediaConvertRole, mediaConvertPolicies, 'POST/speke/v2')).resolves.toBe('Allowed');
        await expect(invoke(mediaConvertRole, mediaConvertPolicies, 'GET/speke/v2')).resolves.toBe('ImplicitlyDenied');
      });

      it('denies an administrator of the account, and any principal of another account, explicitly', async () => {
        await expect(invoke(`arn:aws:iam::${ACCOUNT}:role/administrator`, administrator, 'POST/speke/v2')).resolves.toBe('ExplicitlyDenied');
        await expect(invoke('arn:aws:iam::210987654321:role/nearstream-mediaconvert', administrator, 'POST/speke/v2')).resolves.toBe('ExplicitlyDenied');
      });
    });
  });

  describe.each(envs)('the key provider function in %s', (env, synthesized) => {
    const template = synthesized.template(synthesized.environment.encoding);

    it('names both regions\' content keys by alias and stores keys in the control table under contentkeys# only', () => {
      expect(functionOf(template, 'key-provider').properties.Environment.Variables).toMatchObject({
        CONTENT_KEY_KMS_KEY_ID: `arn:aws:kms:${PRIMARY}:${ACCOUNT}:${alias(env)}`,
        CONTENT_KEY_REPLICAS: `${SECONDARY}=arn:aws:kms:${SECONDARY}:${ACCOUNT}:${alias(env)}`,
        CONTROL_TABLE_NAME: `nearstream-${env}-control`,
      });
      expect(serviceStatements(statementsOf(template, 'key-provider'), 'dynamodb:')).toEqual([
        {
          Effect: 'Allow',
          Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'],
          Resource: `arn:aws:dynamodb:${PRIMARY}:${ACCOUNT}:table/nearstream-${env}-control`,
          Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['contentkeys#*'] } },
        },
      ]);
    });

    it('may make and open data keys with the primary region\'s content key and only wrap them with the secondary\'s, held by alias and purpose', () => {
      expect(serviceStatements(statementsOf(template, 'key-provider'), 'kms:')).toEqual([
        { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: `arn:aws:kms:${PRIMARY}:${ACCOUNT}:key/*`, Condition: onlyContentKeys(env) },
        { Effect: 'Allow', Action: 'kms:Encrypt', Resource: `arn:aws:kms:${SECONDARY}:${ACCOUNT}:key/*`, Condition: onlyContentKeys(env) },
      ]);
    });
  });

  describe('the content-key KMS keys', () => {
    /** The key aliased to the content-key alias in a stack, with its resource. */
    const contentKeyIn = (synthesized: SynthesizedEnvironment, stack: Stack, env: string) => {
      const template = synthesized.template(stack);
      const aliases = Object.values(template.findResources('AWS::KMS::Alias', { Properties: { AliasName: alias(env) } }) as Record<string, Resource>);
      expect(aliases).toHaveLength(1);
      const keyId = aliases[0].Properties.TargetKeyId['Fn::GetAtt'][0];
      return { keyId, key: template.findResources('AWS::KMS::Key')[keyId] as Resource };
    };
    const stateful = (environment: NearstreamEnvironment) => [
      ['Data', environment.data],
      ['OriginReplica', environment.originReplica],
    ] as const;

    it('exist in the Data stack in the primary region and the OriginReplica stack in the secondary, under the same alias, rotating yearly', () => {
      const { environment } = prod;
      expect([environment.data.region, environment.originReplica.region]).toEqual([PRIMARY, SECONDARY]);
      for (const [, stack] of stateful(environment)) {
        const { key } = contentKeyIn(prod, stack, 'prod');
        expect(key.Properties).toMatchObject({ EnableKeyRotation: true, PendingWindowInDays: 30 });
      }
      for (const stack of [environment.encoding, ...environment.controlPlanes]) {
        prod.template(stack).resourcePropertiesCountIs('AWS::KMS::Alias', { AliasName: alias('prod') }, 0);
      }
    });

    it('keep their logical ids, so a refactor cannot replace a key and leave every protected title unopenable', () => {
      for (const [, stack] of stateful(prod.environment)) {
        expect(contentKeyIn(prod, stack, 'prod').keyId).toBe('ContentKeysKey3B5A41B9');
      }
    });

    it.each([
      ['Retain', 'prod', prod],
      ['Delete', 'dev, an ephemeral environment', dev],
    ])('get the deletion policy %s in %s', (policy, _label, synthesized) => {
      const env = synthesized.environment.config.name;
      for (const [, stack] of stateful(synthesized.environment)) {
        const { key } = contentKeyIn(synthesized, stack, env);
        expect([key.DeletionPolicy, key.UpdateReplacePolicy]).toEqual([policy, policy]);
      }
    });
  });

  describe.each([0, 1])('the license route in control plane #%i', (index) => {
    const plane = prod.environment.controlPlanes[index];
    const template = prod.template(plane);
    const license = plane.playback.functions.license;

    it('is POST /license/{system} behind the viewers\' JWT authorizer, integrated with the license function', () => {
      const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route', { Properties: { RouteKey: 'POST /license/{system}' } }) as Record<string, Resource>);
      expect(routes).toHaveLength(1);
      const [route] = routes;
      expect(route.Properties.AuthorizationType).toBe('JWT');
      expect((template.findResources('AWS::ApiGatewayV2::Authorizer')[route.Properties.AuthorizerId.Ref] as Resource).Properties.AuthorizerType).toBe('JWT');
      const integrationId = route.Properties.Target['Fn::Join'][1][1].Ref;
      expect((template.findResources('AWS::ApiGatewayV2::Integration')[integrationId] as Resource).Properties.IntegrationUri).toEqual(plane.resolve(license.function.functionArn));
    });

    it('runs a function that may only Decrypt with its own region\'s content key, held by alias and purpose', () => {
      const statements = statementsOf(template, 'license');
      expect(serviceStatements(statements, 'kms:')).toEqual([
        { Effect: 'Allow', Action: 'kms:Decrypt', Resource: `arn:aws:kms:${plane.region}:${ACCOUNT}:key/*`, Condition: onlyContentKeys('prod') },
      ]);
      expect(statements.flatMap(actionsOf).filter((action) => /^(kms:(GenerateDataKey|Encrypt|ReEncrypt|\*)|\*)/.test(action))).toEqual([]);
      expect(functionOf(template, 'license').properties.Environment.Variables.CONTENT_KEY_KMS_KEY_ID).toBe(`arn:aws:kms:${plane.region}:${ACCOUNT}:${alias('prod')}`);
    });

    it('runs a function that reads the table, and only sessions, accounts, titles and content keys', () => {
      expect(serviceStatements(statementsOf(template, 'license'), 'dynamodb:')).toEqual([
        {
          Effect: 'Allow',
          Action: ['dynamodb:GetItem', 'dynamodb:Query'],
          Resource: `arn:aws:dynamodb:${plane.region}:${ACCOUNT}:table/nearstream-prod-control`,
          Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['session#*', 'account#*', 'title#*', 'contentkeys#*'] } },
        },
      ]);
    });
  });

  describe('commercial license services', () => {
    it.each([0, 1])('are handed to play and license in control plane #%i as LICENSE_SERVICES, and license may read exactly their secrets', (index) => {
      const template = prod.template(prod.environment.controlPlanes[index]);

      for (const service of ['play', 'license']) {
        expect(JSON.parse(functionOf(template, service).properties.Environment.Variables.LICENSE_SERVICES)).toEqual(LICENSE_SERVICES);
      }
      const secretReads = serviceStatements(statementsOf(template, 'license'), 'secretsmanager:');
      expect(secretReads.flatMap((statement) => [statement.Resource].flat()).sort()).toEqual(Object.values(LICENSE_SERVICES).map((service) => service.secretArn).sort());
      expect(secretReads.flatMap(actionsOf).every((action) => ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'].includes(action))).toBe(true);
    });

    it.each([0, 1])('are absent without the context: no LICENSE_SERVICES and no secret for license in control plane #%i', (index) => {
      const template = dev.template(dev.environment.controlPlanes[index]);

      for (const service of ['play', 'license']) {
        expect(functionOf(template, service).properties.Environment.Variables).not.toHaveProperty('LICENSE_SERVICES');
      }
      expect(serviceStatements(statementsOf(template, 'license'), 'secretsmanager:')).toEqual([]);
    });
  });

  describe('the encoding workflow', () => {
    const ingestVariables = (synthesized: SynthesizedEnvironment) => functionOf(synthesized.template(synthesized.environment.encoding), 'encoding-ingest').properties.Environment.Variables;

    it('protects uploads by default in prod, not in dev, and in dev with -c contentProtection=on', () => {
      const devProtected = synthEnvironment({ name: 'dev', account: ACCOUNT, contentProtection: 'on' });

      expect(ingestVariables(prod).PROTECTION_BY_DEFAULT).toBe('on');
      expect(ingestVariables(dev).PROTECTION_BY_DEFAULT).toBe('off');
      expect(ingestVariables(devProtected).PROTECTION_BY_DEFAULT).toBe('on');
    });

    it('points ingest at the key provider\'s SPEKE URL on stage v1, signalling ClearKey', () => {
      const { encoding } = prod.environment;
      const apiId = logicalIdOf(encoding, encoding.keyProvider.api.restApiId);

      const variables = ingestVariables(prod);

      expect(variables.DRM_SYSTEMS).toBe('clearkey');
      const [stageId] = Object.keys(prod.template(encoding).findResources('AWS::ApiGateway::Stage', { Properties: { RestApiId: { Ref: apiId }, StageName: 'v1' } }));
      expect(variables.KEY_PROVIDER_URL).toEqual({
        'Fn::Join': ['', ['https://', { Ref: apiId }, `.execute-api.${PRIMARY}.`, { Ref: 'AWS::URLSuffix' }, '/', { Ref: stageId }, '/speke/v2']],
      });
    });

    it('lets the completion step list a title\'s key ids with a Query on contentkeys# and use no content key', () => {
      const template = prod.template(prod.environment.encoding);
      const statements = statementsOf(template, 'encoding-complete');

      expect(serviceStatements(statements, 'dynamodb:')).toContainEqual({
        Effect: 'Allow',
        Action: 'dynamodb:Query',
        Resource: `arn:aws:dynamodb:${PRIMARY}:${ACCOUNT}:table/nearstream-prod-control`,
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['contentkeys#*'] } },
      });
      // It is given no content key, and its only KMS access is its failure topic's key, named by reference: no key/* and no alias condition.
      expect(functionOf(template, 'encoding-complete').properties.Environment.Variables).not.toHaveProperty('CONTENT_KEY_KMS_KEY_ID');
      for (const statement of serviceStatements(statements, 'kms:')) {
        expect(statement.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^WorkflowFailureTopicKey/), 'Arn'] });
        expect(statement.Condition).toBeUndefined();
      }
    });
  });

  describe('configuration', () => {
    const problemsOf = (input: Parameters<typeof resolveEnvironment>[0]) => {
      try {
        resolveEnvironment(input);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).problems;
      }
      throw new Error(`resolveEnvironment accepted ${JSON.stringify(input)}`);
    };

    it('refuses a contentProtection other than on or off, naming the field and the value', () => {
      expect(problemsOf({ name: 'dev', contentProtection: 'yes' })).toEqual([{ field: 'contentProtection', rule: expect.stringContaining("'on' or 'off' (got 'yes')") }]);
    });

    it.each([
      ['not JSON', '{widevine:', /not valid JSON/],
      ['a system the platform licenses itself', JSON.stringify({ clearkey: LICENSE_SERVICES.widevine }), /only widevine, playready, fairplay/],
      ['a plain-http URL and a secret that is no ARN', JSON.stringify({ widevine: { url: 'http://license.example.com', secretArn: 'widevine-secret' } }), /widevine\.url: .*widevine\.secretArn: /],
    ])('refuses a licenseServices that is %s, naming the field', (_case, licenseServices, rule) => {
      expect(problemsOf({ name: 'dev', licenseServices })).toEqual([{ field: 'licenseServices', rule: expect.stringMatching(rule) }]);
    });
  });
});
