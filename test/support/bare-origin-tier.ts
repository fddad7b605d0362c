import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { OriginSigningKeySettings } from '../../lib/config/environment';
import { OriginTier } from '../../lib/constructs/origin-tier';

/** The origin tier alone in a bare stack, with the signing key generations given, and its template. */
export function bareOriginTier(signingKeys?: OriginSigningKeySettings): { tier: OriginTier; template: Template } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Tier', { env: { account: '123456789012', region: 'us-east-1' } });
  const tier = new OriginTier(stack, 'OriginTier', {
    namePrefix: 'nearstream-test',
    signingSecretName: 'nearstream/test/origin-signing-key',
    secondaryRegion: 'us-west-2',
    removalPolicy: RemovalPolicy.DESTROY,
    logRetentionDays: 7,
    logEncryptionKey: new Key(stack, 'LogKey'),
    bucketName: 'nearstream-test-origin',
    signingKeys,
  });
  return { tier, template: Template.fromStack(stack) };
}
