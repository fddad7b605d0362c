import { ConfigError } from '../../lib/config/config-error';
import { EnvironmentInput, resolveEnvironment, validateSettings } from '../../lib/config/environment';

function problemsOf(input: EnvironmentInput): { field: string; rule: string }[] {
  try {
    resolveEnvironment(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
}

describe('resolveEnvironment', () => {
  it('defaults to us-east-1 as primary and us-west-2 as secondary', () => {
    const config = resolveEnvironment({ name: 'dev' });
    expect(config.primaryRegion).toBe('us-east-1');
    expect(config.secondaryRegion).toBe('us-west-2');
  });

  it.each([
    ['prod', 'prod'],
    ['staging', 'staging'],
    ['dev', 'ephemeral'],
    ['pr-42', 'ephemeral'],
    ['alice', 'ephemeral'],
  ])('gives %s the %s kind', (name, kind) => {
    expect(resolveEnvironment({ name, viewerEmailFrom: 'no-reply@example.com' }).kind).toBe(kind);
  });

  it('keeps production logs a year and ephemeral ones a week', () => {
    expect(resolveEnvironment({ name: 'prod', viewerEmailFrom: 'no-reply@example.com' }).logRetentionDays).toBe(365);
    expect(resolveEnvironment({ name: 'pr-7' }).logRetentionDays).toBe(7);
  });

  it('takes a custom domain only together with its hosted zone', () => {
    const config = resolveEnvironment({ name: 'prod', viewerEmailFrom: 'no-reply@example.com', domainName: 'example.com', hostedZoneId: 'Z0123456789ABC' });
    expect(config.domain).toEqual({ name: 'example.com', hostedZoneId: 'Z0123456789ABC' });
    expect(resolveEnvironment({ name: 'prod', viewerEmailFrom: 'no-reply@example.com' }).domain).toBeUndefined();
  });

  it('accepts a 12-digit account and custom regions', () => {
    const config = resolveEnvironment({
      name: 'staging',
      account: '123456789012',
      primaryRegion: 'eu-west-1',
      secondaryRegion: 'eu-central-1',
    });
    expect(config).toMatchObject({ account: '123456789012', primaryRegion: 'eu-west-1', secondaryRegion: 'eu-central-1' });
  });

  it('rejects the same region twice, naming secondaryRegion and the rule', () => {
    expect(problemsOf({ name: 'dev', primaryRegion: 'us-west-2', secondaryRegion: 'us-west-2' })).toEqual([
      { field: 'secondaryRegion', rule: expect.stringContaining("must differ from primaryRegion (both are 'us-west-2')") },
    ]);
  });

  it.each(['12345', '1234567890123', '12345678901a'])('rejects account %s as not 12 digits', (account) => {
    expect(problemsOf({ name: 'dev', account })).toEqual([
      { field: 'account', rule: `'${account}' must be exactly 12 digits` },
    ]);
  });

  it.each(['Prod', '42', 'pr_42', 'pr--42', 'pr-', '-pr', 'a-very-long-environment-name', ''])(
    'rejects environment name %p',
    (name) => {
      expect(problemsOf({ name })).toEqual([{ field: 'env', rule: expect.stringContaining('lower-case letters') }]);
    },
  );

  it('rejects a region that is not a region name', () => {
    expect(problemsOf({ name: 'dev', primaryRegion: 'virginia' })).toEqual([
      { field: 'primaryRegion', rule: "'virginia' is not an AWS region name (like us-east-1)" },
    ]);
  });

  it('rejects a domain without a hosted zone, naming hostedZoneId', () => {
    expect(problemsOf({ name: 'prod', viewerEmailFrom: 'no-reply@example.com', domainName: 'example.com' })).toEqual([
      { field: 'hostedZoneId', rule: expect.stringContaining("is required when domain is set") },
    ]);
  });

  it('rejects a hosted zone without a domain, naming domain', () => {
    expect(problemsOf({ name: 'prod', viewerEmailFrom: 'no-reply@example.com', hostedZoneId: 'Z0123456789ABC' })).toEqual([
      { field: 'domain', rule: expect.stringContaining('is required when hostedZoneId is set') },
    ]);
  });

  it('rejects a malformed domain and zone id', () => {
    expect(problemsOf({ name: 'prod', viewerEmailFrom: 'no-reply@example.com', domainName: 'Example..com', hostedZoneId: 'abc' })).toEqual([
      { field: 'domain', rule: expect.stringContaining('must be a lower-case DNS name') },
      { field: 'hostedZoneId', rule: expect.stringContaining('must be a Route 53 zone id') },
    ]);
  });

  it('refuses prod on Cognito without an SES sender, saying why and what to give', () => {
    expect(problemsOf({ name: 'prod' })).toEqual([{ field: 'viewerEmailFrom', rule: expect.stringContaining('is required in prod when viewers sign in with Cognito') }]);
    expect(resolveEnvironment({ name: 'prod', jwtIssuer: 'https://login.example.com', jwtAudiences: ['tv'] }).viewerEmail).toBeUndefined();
    expect(resolveEnvironment({ name: 'staging' }).viewerEmail).toBeUndefined();
  });

  it('sends viewer email through SES in the primary region unless another Cognito allows is named', () => {
    expect(resolveEnvironment({ name: 'prod', viewerEmailFrom: 'no-reply@example.com', primaryRegion: 'eu-central-1', secondaryRegion: 'eu-west-1' }).viewerEmail).toEqual({
      fromAddress: 'no-reply@example.com',
      sesRegion: 'eu-central-1',
    });
    expect(resolveEnvironment({ name: 'dev', viewerEmailFrom: 'no-reply@example.com', viewerEmailSesRegion: 'us-west-2' }).viewerEmail?.sesRegion).toBe('us-west-2');
  });

  it('rejects a sender that is no address, an SES region Cognito cannot use, and a region without a sender', () => {
    expect(problemsOf({ name: 'dev', viewerEmailFrom: 'nobody', viewerEmailSesRegion: 'ap-south-1' })).toEqual([
      { field: 'viewerEmailFrom', rule: expect.stringContaining("'nobody' must be an email address") },
      { field: 'viewerEmailSesRegion', rule: expect.stringContaining("'ap-south-1' cannot send for a user pool in us-east-1") },
    ]);
    expect(problemsOf({ name: 'dev', viewerEmailSesRegion: 'us-west-2' })).toEqual([{ field: 'viewerEmailFrom', rule: 'is required when viewerEmailSesRegion is set' }]);
  });

  it('takes CORS origins as browsers send them, and names each that is not one', () => {
    expect(resolveEnvironment({ name: 'dev' }).corsAllowedOrigins).toEqual(['*']);
    expect(resolveEnvironment({ name: 'dev', corsOrigins: ['https://watch.example.com:8443'] }).corsAllowedOrigins).toEqual(['https://watch.example.com:8443']);
    expect(problemsOf({ name: 'dev', corsOrigins: ['https://watch.example.com/', 'http://watch.example.com', 'javascript:alert(1)'] }).map((problem) => problem.rule)).toEqual([
      expect.stringContaining("'https://watch.example.com/' must be * or an origin"),
      expect.stringContaining("'http://watch.example.com' must be * or an origin"),
      expect.stringContaining("'javascript:alert(1)' must be * or an origin"),
    ]);
    expect(problemsOf({ name: 'dev', corsOrigins: [] })).toEqual([{ field: 'corsOrigins', rule: 'must name at least one origin, or * for any' }]);
  });

  it('trusts and signs with origin key generation 1 unless told, and trusting a second generation leaves the oldest signing', () => {
    expect(resolveEnvironment({ name: 'dev' }).originSigningKeys).toEqual({ trustedGenerations: [1], activeGeneration: 1 });
    expect(resolveEnvironment({ name: 'dev', originKeyGenerations: [1, 2] }).originSigningKeys).toEqual({ trustedGenerations: [1, 2], activeGeneration: 1 });
    expect(resolveEnvironment({ name: 'dev', originKeyGenerations: [1, 2], originKeyActive: 2 }).originSigningKeys.activeGeneration).toBe(2);
  });

  it('rejects origin key generations that are not one or two distinct whole numbers, and an active one that is not trusted', () => {
    expect(problemsOf({ name: 'dev', originKeyGenerations: [1, 2, 3] })).toEqual([
      { field: 'originKeyGenerations', rule: expect.stringContaining('must list one generation, or two while rotating (got 3)') },
    ]);
    expect(problemsOf({ name: 'dev', originKeyGenerations: [2, 2] })).toEqual([{ field: 'originKeyGenerations', rule: 'must not repeat a generation (got 2, 2)' }]);
    expect(problemsOf({ name: 'dev', originKeyGenerations: [Number.NaN, 0] })).toEqual([
      { field: 'originKeyGenerations', rule: 'must be positive whole numbers (got NaN, 0)' },
    ]);
    expect(problemsOf({ name: 'dev', originKeyActive: 2 })).toEqual([
      { field: 'originKeyActive', rule: 'must be one of originKeyGenerations (1); got 2: only a trusted generation can sign' },
    ]);
  });

  it('lists every problem in one message, one field per line', () => {
    expect(() => resolveEnvironment({ name: 'dev', account: 'x', domainName: 'example.com' })).toThrow(
      "Invalid Nearstream config for environment 'dev':\n" +
        "  - account: 'x' must be exactly 12 digits\n" +
        "  - hostedZoneId: is required when domain is set: give the Route 53 zone that holds 'example.com'",
    );
  });
});

describe('validateSettings', () => {
  const valid = resolveEnvironment({ name: 'staging' });

  it('accepts the named environments as defined', () => {
    for (const name of ['dev', 'staging', 'prod']) {
      expect(() => validateSettings(resolveEnvironment({ name, viewerEmailFrom: 'no-reply@example.com' }))).not.toThrow();
    }
  });

  it('rejects a retention CloudWatch Logs does not offer', () => {
    expect(() => validateSettings({ ...valid, logRetentionDays: 10 })).toThrow(/logRetentionDays: must be one of/);
  });

  it('rejects a session longer than a URL token may live', () => {
    expect(() => validateSettings({ ...valid, playback: { ...valid.playback, sessionTtlSeconds: 86_401 } })).toThrow(
      /playback\.sessionTtlSeconds: must be at most 86400 \(MAX_TOKEN_LIFETIME_SECONDS\)/,
    );
    expect(() => validateSettings({ ...valid, playback: { ...valid.playback, sessionTtlSeconds: 86_400 } })).not.toThrow();
  });

  it('rejects a non-positive throttle and an error rate above 100%', () => {
    expect(() =>
      validateSettings({
        ...valid,
        apiThrottle: { ratePerSecond: 0, burst: 10 },
        apiAlarms: { serverErrorRatePercent: 150, p99LatencyMs: 100 },
      }),
    ).toThrow(/apiThrottle\.ratePerSecond: must be a positive whole number \(got 0\)[\s\S]*apiAlarms\.serverErrorRatePercent: must be above 0 and at most 100 \(got 150\)/);
  });
});

describe('appliance settings', () => {
  const amis = { 'us-east-1': 'ami-0123456789abcdef0', 'us-west-2': 'ami-0fedcba9876543210' };
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

  it('has no fleet and no Roles Anywhere unless asked', () => {
    const config = resolveEnvironment({ name: 'dev' });
    expect(config.applianceFleet).toBeUndefined();
    expect(config.rolesAnywhere).toBeUndefined();
  });

  it('turns the fleet on with an AMI per region and fills in the rest', () => {
    const config = resolveEnvironment({ name: 'dev', applianceAmis: amis, appliancesPerRegion: 4, applianceInstanceType: 'm6in.2xlarge' });
    expect(config.applianceFleet).toMatchObject({ amiIds: amis, appliancesPerRegion: 4, instanceType: 'm6in.2xlarge', availabilityZoneCount: 3, servingPort: 80 });
    expect(resolveEnvironment({ name: 'dev', applianceAmis: amis, applianceAvailabilityZones: 2 }).applianceFleet!.availabilityZoneCount).toBe(2);
    expect(() => resolveEnvironment({ name: 'dev', applianceAmis: amis, applianceAvailabilityZones: 7 })).toThrow(/availabilityZoneCount: must be 2-6/);
  });

  it('names the region that has no AMI, and an AMI for a region the environment does not use', () => {
    expect(problemsOf({ name: 'dev', applianceAmis: { 'us-east-1': amis['us-east-1'], 'eu-west-1': 'ami-0123456789abcdef0' } })).toEqual([
      { field: 'applianceAmi', rule: 'has no AMI for us-west-2: give one per region (region=ami-id), as the image pipeline published it' },
      { field: 'applianceAmi', rule: "names eu-west-1, which is not one of this environment's regions (us-east-1, us-west-2)" },
    ]);
  });

  it('rejects a malformed AMI id and instance type, and fleet knobs without AMIs', () => {
    expect(problemsOf({ name: 'dev', applianceAmis: { ...amis, 'us-west-2': 'ami-XYZ' }, applianceInstanceType: 'large' }).map((p) => p.field)).toEqual([
      'applianceAmi',
      'applianceInstanceType',
    ]);
    expect(problemsOf({ name: 'dev', appliancesPerRegion: 3 })).toEqual([
      { field: 'applianceAmi', rule: 'is required for an EC2 fleet: give the appliance AMI of each region, region=ami-id' },
    ]);
    expect(problemsOf({ name: 'dev', applianceAmis: amis, appliancesPerRegion: 0 })).toEqual([
      { field: 'appliancesPerRegion', rule: 'must be a positive whole number (got 0)' },
    ]);
  });

  it('takes a CA bundle or a Private CA for Roles Anywhere, one of them, well formed', () => {
    expect(resolveEnvironment({ name: 'dev', rolesAnywhereCaBundle: pem }).rolesAnywhere).toEqual({ certificateBundlePem: pem, acmPcaArn: undefined });
    expect(problemsOf({ name: 'dev', rolesAnywhereCaBundle: 'not a certificate' })).toEqual([
      { field: 'rolesAnywhereCaBundle', rule: 'must hold at least one PEM certificate (-----BEGIN CERTIFICATE-----)' },
    ]);
    expect(problemsOf({ name: 'dev', rolesAnywherePcaArn: 'arn:aws:acm:us-east-1:123456789012:certificate/x' })[0].field).toBe('rolesAnywherePcaArn');
    const arn = 'arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/12345678-1234-1234-1234-123456789012';
    expect(problemsOf({ name: 'dev', rolesAnywhereCaBundle: pem, rolesAnywherePcaArn: arn })[0].rule).toMatch(/not both/);
  });

  it('rejects fleet knobs out of range', () => {
    const config = resolveEnvironment({ name: 'dev', applianceAmis: amis });
    const fleet = config.applianceFleet!;
    expect(() =>
      validateSettings({ ...config, applianceFleet: { ...fleet, servingPort: 70000, availabilityZoneCount: 1, fillWindow: { startHourUtc: 3, endHourUtc: 3 } } }),
    ).toThrow(/availabilityZoneCount: must be 2-6[\s\S]*fillWindow: startHourUtc and endHourUtc must differ[\s\S]*servingPort: must be a TCP port/);
  });
});
