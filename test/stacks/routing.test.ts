import { Match } from 'aws-cdk-lib/assertions';
import { synthEnvironment } from '../support/synth';

describe('latency routing with a custom domain', () => {
  const prod = synthEnvironment({ name: 'prod', viewerEmailFrom: 'no-reply@example.com', domainName: 'example.com', hostedZoneId: 'Z0123456789ABC' });
  const templates = prod.environment.controlPlanes.map((stack) => ({ region: stack.region, template: prod.template(stack) }));
  const latencyRecords = templates.flatMap(({ template }) =>
    Object.values(template.findResources('AWS::Route53::RecordSet', { Properties: { Name: 'api.example.com.' } })),
  );

  it('has exactly one latency record for api.<domain> per region, each with a unique set identifier', () => {
    expect(latencyRecords.map((record) => record.Properties.Region).sort()).toEqual(['us-east-1', 'us-west-2']);
    const identifiers = latencyRecords.map((record) => record.Properties.SetIdentifier);
    expect(new Set(identifiers).size).toBe(2);
  });

  it.each(['us-east-1', 'us-west-2'])('attaches %s\'s own health check to its latency record', (region) => {
    const { template } = templates.find((entry) => entry.region === region)!;
    const [healthCheckId] = Object.keys(template.findResources('AWS::Route53::HealthCheck'));
    template.hasResourceProperties('AWS::Route53::HealthCheck', {
      HealthCheckConfig: Match.objectLike({
        Type: 'HTTPS',
        FullyQualifiedDomainName: `api-${region}.example.com`,
        ResourcePath: '/health',
        Port: 443,
      }),
    });
    template.hasResourceProperties('AWS::Route53::RecordSet', {
      Name: 'api.example.com.',
      Type: 'A',
      Region: region,
      HealthCheckId: { Ref: healthCheckId },
      AliasTarget: Match.objectLike({ DNSName: Match.anyValue() }),
    });
  });

  it.each(['us-east-1', 'us-west-2'])('serves %s on its regional and the shared name with a DNS-validated certificate', (region) => {
    const { template } = templates.find((entry) => entry.region === region)!;
    template.hasResourceProperties('AWS::CertificateManager::Certificate', {
      DomainName: `api-${region}.example.com`,
      SubjectAlternativeNames: ['api.example.com'],
      ValidationMethod: 'DNS',
      DomainValidationOptions: Match.arrayWith([Match.objectLike({ HostedZoneId: 'Z0123456789ABC' })]),
    });
    for (const name of [`api-${region}.example.com`, 'api.example.com']) {
      template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
        DomainName: name,
        DomainNameConfigurations: [Match.objectLike({ EndpointType: 'REGIONAL', SecurityPolicy: 'TLS_1_2' })],
      });
    }
    template.resourceCountIs('AWS::ApiGatewayV2::ApiMapping', 2);
    template.hasResourceProperties('AWS::Route53::RecordSet', { Name: `api-${region}.example.com.`, Type: 'A' });
    template.hasOutput('SharedApiUrl', { Value: 'https://api.example.com/' });
  });

  it('routes an ephemeral environment under its own subdomain', () => {
    const pr42 = synthEnvironment({ name: 'pr-42', domainName: 'example.com', hostedZoneId: 'Z0123456789ABC' });
    pr42.template(pr42.environment.controlPlanes[1]).hasResourceProperties('AWS::Route53::RecordSet', {
      Name: 'api.pr-42.example.com.',
      Region: 'us-west-2',
    });
  });
});
