import { resolveEnvironment } from '../../lib/config/environment';
import { EnvironmentNaming } from '../../lib/config/naming';

const naming = (name: string, domainName?: string) =>
  new EnvironmentNaming(resolveEnvironment({ name, domainName, hostedZoneId: domainName && 'Z0123456789ABC', viewerEmailFrom: 'no-reply@example.com' }));

describe('EnvironmentNaming', () => {
  it('derives every physical name from the environment name', () => {
    const pr42 = naming('pr-42');
    expect(pr42.stackName('data')).toBe('nearstream-pr-42-data');
    expect(pr42.stackName('control-plane', 'us-west-2')).toBe('nearstream-pr-42-control-plane-us-west-2');
    expect(pr42.controlTableName).toBe('nearstream-pr-42-control');
    expect(pr42.urlSigningSecretName).toBe('nearstream/pr-42/url-signing-key');
  });

  it('keeps every bucket name within S3\'s 63 characters for the longest environment name, account and region', () => {
    const longest = naming('a'.repeat(16));
    const lengths = (['origin', 'source', 'steer'] as const).map((purpose) => longest.mediaBucketName('123456789012', 'ap-southeast-5', purpose).length);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(63);
  });

  it('gives two environments no name in common', () => {
    const names = (n: EnvironmentNaming) => [
      n.stackName('data'),
      n.stackName('control-plane', 'us-east-1'),
      n.controlTableName,
      n.urlSigningSecretName,
      n.sharedApiHostname,
      n.regionalApiHostname('us-east-1'),
    ];
    const first = names(naming('pr-41', 'example.com'));
    const second = names(naming('pr-42', 'example.com'));
    expect(first.filter((name) => second.includes(name))).toEqual([]);
  });

  it('serves production on the domain itself', () => {
    const prod = naming('prod', 'example.com');
    expect(prod.sharedApiHostname).toBe('api.example.com');
    expect(prod.regionalApiHostname('us-east-1')).toBe('api-us-east-1.example.com');
  });

  it('serves an ephemeral environment under its own subdomain of the shared zone', () => {
    const pr42 = naming('pr-42', 'example.com');
    expect(pr42.sharedApiHostname).toBe('api.pr-42.example.com');
    expect(pr42.regionalApiHostname('us-west-2')).toBe('api-us-west-2.pr-42.example.com');
  });

  it('has no hostnames without a domain', () => {
    expect(naming('dev').sharedApiHostname).toBeUndefined();
    expect(naming('dev').regionalApiHostname('us-east-1')).toBeUndefined();
  });
});
