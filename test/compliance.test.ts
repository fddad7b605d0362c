import { Bucket } from 'aws-cdk-lib/aws-s3';
import { PluginReport, synthEnvironment } from './support/synth';

const PLUGINS = ['AwsSolutions', 'cdk-validator-cfnguard'];

/** The reports of the packs Nearstream adds (CDK's own built-in validator reports too). */
function ours(reports: readonly PluginReport[]): PluginReport[] {
  return reports.filter((report) => PLUGINS.includes(report.pluginName));
}

function unacknowledged(reports: readonly PluginReport[]): string[] {
  return reports.flatMap((report) =>
    report.violations.flatMap((violation) =>
      violation.violatingConstructs.map((construct) => `${violation.ruleName} at ${construct.constructPath}`),
    ),
  );
}

describe.each([
  ['dev', { name: 'dev' }],
  [
    'prod with a custom domain, an EC2 fleet, Roles Anywhere on a Private CA and chaos on',
    {
      name: 'prod', viewerEmailFrom: 'no-reply@example.com',
      chaos: 'on',
      account: '123456789012',
      domainName: 'example.com',
      hostedZoneId: 'Z0123456789ABC',
      applianceAmis: { 'us-east-1': 'ami-0123456789abcdef0', 'us-west-2': 'ami-0fedcba9876543210' },
      rolesAnywherePcaArn: 'arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/12345678-1234-1234-1234-123456789012',
    },
  ],
  ['an ephemeral environment with a custom domain and chaos leashed', { name: 'pr-42', domainName: 'example.com', hostedZoneId: 'Z0123456789ABC', chaos: 'leashed' }],
])('cdk-nag AwsSolutions and cfn-guard over %s', (_label, input) => {
  const synthesized = synthEnvironment(input, { compliance: true });

  it('synthesizes with zero unacknowledged findings', () => {
    expect(unacknowledged(synthesized.pluginReports)).toEqual([]);
    expect(synthesized.synthError).toBeUndefined();
  });

  it('ran both rule packs over every stack', () => {
    expect(synthesized.pluginReports.map((report) => report.pluginName)).toEqual(expect.arrayContaining(PLUGINS));
    const checkedStacks = new Set(
      ours(synthesized.pluginReports).flatMap((report) =>
        (report.suppressedViolations ?? []).flatMap((v) => v.violatingConstructs.map((c) => c.constructPath.split('/')[1])),
      ),
    );
    const appliances = 'applianceAmis' in input ? ['Appliances-us-east-1', 'Appliances-us-west-2'] : [];
    expect([...checkedStacks].sort()).toEqual(
      ['ApplianceImage', ...appliances, 'ControlPlane-us-east-1', 'ControlPlane-us-west-2', 'Data', 'Encoding', 'OriginReplica'].sort(),
    );
  });

  it('gives every acknowledgement a specific reason', () => {
    const acknowledged = ours(synthesized.pluginReports).flatMap((report) => report.suppressedViolations ?? []);
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const violation of acknowledged) {
      expect({ rule: violation.ruleName, reason: violation.reason }).toEqual({
        rule: violation.ruleName,
        reason: expect.stringMatching(/^.{60,}$/),
      });
    }
  });
});

describe('the compliance checks', () => {
  it('fail synth on a resource that breaks the rules', () => {
    const synthesized = synthEnvironment(
      { name: 'dev' },
      { compliance: true, extend: (environment) => new Bucket(environment.data, 'CarelessBucket') },
    );
    expect(synthesized.synthError).toContain("Acknowledge with 'AwsSolutions::AwsSolutions-S1'");
    const findings = unacknowledged(synthesized.pluginReports);
    expect(findings).toContain('AwsSolutions-S1 at Nearstream-dev/Data/CarelessBucket/Resource');
    expect(findings).toContain('s3_lifecycle_policy_check at Nearstream-dev/Data/CarelessBucket/Resource');
  });
});
