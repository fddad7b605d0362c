import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Match } from 'aws-cdk-lib/assertions';
import { synthEnvironment } from '../support/synth';

describe('playback API infrastructure', () => {
  const dev = synthEnvironment(
    { name: 'dev' },
    {
      extend: (environment) => {
        const secondary = environment.controlPlanes[1];
        const applianceRole = new Role(secondary, 'TestApplianceRole', { assumedBy: new ServicePrincipal('ec2.amazonaws.com') });
        secondary.grantApplianceAccess(applianceRole);
      },
    },
  );
  const data = dev.template(dev.environment.data);
  const [primary, secondary] = dev.environment.controlPlanes.map((stack) => dev.template(stack));

  it.each([
    ['primary', 0],
    ['secondary', 1],
  ])('puts viewer routes behind the JWT authorizer and fleet routes behind IAM in the %s region', (_label, index) => {
    const template = [primary, secondary][index];
    const [authorizerId] = Object.keys(template.findResources('AWS::ApiGatewayV2::Authorizer', { Properties: { AuthorizerType: 'JWT' } }));
    for (const routeKey of ['GET /titles', 'GET /titles/{titleId}', 'POST /play', 'POST /events', 'GET /home']) {
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
        RouteKey: routeKey,
        AuthorizationType: 'JWT',
        AuthorizerId: { Ref: authorizerId },
      });
    }
    for (const routeKey of ['POST /fleet/register', 'POST /fleet/report', 'GET /fleet/manifest']) {
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: routeKey, AuthorizationType: 'AWS_IAM' });
    }
  });

  it('trusts the primary region\'s Cognito pool in both regions, with the player client as audience', () => {
    const issuer = (template: typeof primary) =>
      Object.values(template.findResources('AWS::ApiGatewayV2::Authorizer'))[0].Properties.JwtConfiguration;
    expect(JSON.stringify(issuer(primary).Issuer)).toContain('https://cognito-idp.us-east-1.amazonaws.com/');
    expect(JSON.stringify(issuer(secondary).Issuer)).toContain('https://cognito-idp.us-east-1.amazonaws.com/');
    expect(issuer(secondary).Audience).toHaveLength(1);
    data.hasResourceProperties('AWS::Cognito::UserPoolClient', { GenerateSecret: false });
  });

  it('uses a configured OIDC issuer instead of creating a user pool', () => {
    const oidc = synthEnvironment({ name: 'pr-9', jwtIssuer: 'https://login.example.com/', jwtAudiences: ['tv-app', 'web-app'] });
    oidc.template(oidc.environment.data).resourceCountIs('AWS::Cognito::UserPool', 0);
    oidc.template(oidc.environment.controlPlanes[1]).hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      JwtConfiguration: { Issuer: 'https://login.example.com/', Audience: ['tv-app', 'web-app'] },
    });
  });

  it('serves the origin bucket through CloudFront with origin access control and signed access only', () => {
    data.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultCacheBehavior: Match.objectLike({
          ViewerProtocolPolicy: 'https-only',
          TrustedKeyGroups: [{ Ref: Match.stringLikeRegexp('KeyGroup') }],
        }),
        Origins: [Match.objectLike({ OriginAccessControlId: Match.anyValue(), S3OriginConfig: { OriginAccessIdentity: '' } })],
        Logging: Match.objectLike({ Bucket: Match.anyValue() }),
      }),
    });
    data.hasResourceProperties('AWS::CloudFront::PublicKey', {
      PublicKeyConfig: Match.objectLike({ EncodedKey: { 'Fn::GetAtt': [Match.stringLikeRegexp('KeyPair'), 'PublicKeyPem'] } }),
    });
    data.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudfront.amazonaws.com' },
            Action: 's3:GetObject',
            Condition: { StringEquals: { 'AWS:SourceArn': Match.anyValue() } },
          }),
        ]),
      },
    });
  });

  it('keeps the origin bucket private, versioned and KMS-encrypted, and its key pair\'s private half in a replicated secret', () => {
    data.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [Match.objectLike({ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: Match.anyValue() } })] },
      LoggingConfiguration: Match.objectLike({ DestinationBucketName: Match.anyValue() }),
    });
    data.hasResourceProperties('AWS::SecretsManager::Secret', { Name: 'nearstream/dev/origin-signing-key', ReplicaRegions: [{ Region: 'us-west-2' }] });
    data.hasResourceProperties('Custom::CloudFrontKeyPair', { KeyStoreId: { Ref: 'OriginKeyStore' }, Generation: '1' });
    data.hasResourceProperties('Custom::CloudFrontSigningKey', { SigningSecretId: { Ref: 'OriginSigningSecret' }, Generation: '1' });
  });

  it('gives appliance roles execute-api:Invoke on the fleet routes only', () => {
    const policy = Object.entries(secondary.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith('TestApplianceRole'))![1];
    const statements: { Action: string; Resource: unknown }[] = policy.Properties.PolicyDocument.Statement;
    expect(new Set(statements.map((statement) => statement.Action))).toEqual(new Set(['execute-api:Invoke']));
    const granted = statements.flatMap((statement) => [statement.Resource].flat());
    expect(granted).toHaveLength(3);
    const resources = JSON.stringify(granted);
    for (const route of ['/$default/POST/fleet/register', '/$default/POST/fleet/report', '/$default/GET/fleet/manifest']) {
      expect(resources).toContain(route);
    }
    expect(resources).not.toMatch(/play|titles|events|home|\/\*/);
  });

  it('throttles /home to a quarter of the stage, so it cannot crowd out /play', () => {
    primary.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      RouteSettings: { 'GET /home': { ThrottlingRateLimit: 25, ThrottlingBurstLimit: 50 } },
    });
  });

  it('creates the stage only after the /home route its settings name, which API Gateway requires', () => {
    const [homeRouteId] = Object.keys(primary.findResources('AWS::ApiGatewayV2::Route', { Properties: { RouteKey: 'GET /home' } }));
    const [stage] = Object.values(primary.findResources('AWS::ApiGatewayV2::Stage'));
    expect(stage.DependsOn).toContain(homeRouteId);
  });

  it('answers browsers\' preflight for the viewer routes, without credentials', () => {
    primary.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: {
        AllowOrigins: ['*'],
        AllowMethods: ['GET', 'POST', 'OPTIONS'],
        AllowHeaders: ['authorization', 'content-type'],
        AllowCredentials: Match.absent(),
        MaxAge: 86400,
      },
    });
  });

  it('allows only the configured web origins when they are given', () => {
    const locked = synthEnvironment({ name: 'dev', corsOrigins: ['https://watch.example.com', 'http://localhost:5173'] });
    locked.template(locked.environment.controlPlanes[1]).hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: Match.objectLike({ AllowOrigins: ['https://watch.example.com', 'http://localhost:5173'] }),
    });
  });

  it('gives the play function its signing configuration and the lease and session settings, the key pair id coming with the key from the secret', () => {
    secondary.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'play',
          URL_SIGNING_SECRET_NAME: 'nearstream/dev/url-signing-key',
          ORIGIN_SIGNING_SECRET_NAME: 'nearstream/dev/origin-signing-key',
          ORIGIN_DOMAIN_NAME: Match.anyValue(),
          ORIGIN_KEY_PAIR_ID: Match.absent(),
          STREAM_LEASE_SECONDS: '300',
          SESSION_TTL_SECONDS: '14400',
        }),
      },
      MemorySize: 1024,
    });
    for (const template of [primary, secondary]) {
      expect(JSON.stringify(template.toJSON())).not.toMatch(/PublicKey/);
    }
  });
});
