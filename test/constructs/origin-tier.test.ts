import { Match } from 'aws-cdk-lib/assertions';
import { OriginSigningKeySettings } from '../../lib/config/environment';
import { bareOriginTier } from '../support/bare-origin-tier';

/** The tier alone in a bare stack, with the signing key generations given. */
function originTier(signingKeys?: OriginSigningKeySettings) {
  const { tier, template } = bareOriginTier(signingKeys);
  const idOf = (type: string, properties?: unknown) => {
    const ids = Object.keys(template.findResources(type, properties === undefined ? undefined : { Properties: properties }));
    expect(ids).toHaveLength(1);
    return ids[0];
  };
  const publicKeyId = (generation: number) =>
    idOf('AWS::CloudFront::PublicKey', { PublicKeyConfig: Match.objectLike({ Comment: `nearstream-test origin tier, generation ${generation}` }) });
  return { tier, template, idOf, publicKeyId };
}

describe('OriginTier signing keys', () => {
  it('trusts and signs with generation 1 by default: one key pair, one public key in the key group', () => {
    const { template, idOf, publicKeyId } = originTier();

    template.resourceCountIs('Custom::CloudFrontKeyPair', 1);
    template.hasResourceProperties('Custom::CloudFrontKeyPair', { Generation: '1', KeyStoreId: { Ref: Match.stringLikeRegexp('^OriginTierKeyStore') } });
    template.hasResourceProperties('AWS::CloudFront::KeyGroup', { KeyGroupConfig: Match.objectLike({ Items: [{ Ref: publicKeyId(1) }] }) });
    template.hasResourceProperties('Custom::CloudFrontSigningKey', { Generation: '1', KeyPairId: { Ref: publicKeyId(1) } });
    expect(idOf('AWS::CloudFront::PublicKey')).toMatch(/^OriginTierPublicKey[0-9A-F]{8}$/);
  });

  it('trusts both generations during an overlap, each with its own key pair and public key, and signs with the active one', () => {
    const { template, publicKeyId } = originTier({ trustedGenerations: [1, 2], activeGeneration: 2 });

    template.resourceCountIs('AWS::CloudFront::PublicKey', 2);
    for (const generation of [1, 2]) {
      const [keyPairId] = Object.keys(template.findResources('Custom::CloudFrontKeyPair', { Properties: { Generation: String(generation) } }));
      template.hasResourceProperties('AWS::CloudFront::PublicKey', {
        PublicKeyConfig: Match.objectLike({ EncodedKey: { 'Fn::GetAtt': [keyPairId, 'PublicKeyPem'] }, Comment: Match.stringLikeRegexp(`generation ${generation}$`) }),
      });
    }
    template.hasResourceProperties('AWS::CloudFront::KeyGroup', {
      KeyGroupConfig: Match.objectLike({ Items: [{ Ref: publicKeyId(1) }, { Ref: publicKeyId(2) }] }),
    });
    template.hasResourceProperties('Custom::CloudFrontSigningKey', { Generation: '2', KeyPairId: { Ref: publicKeyId(2) } });
  });

  it('keeps generation 2 and later under construct ids of their own, so adding or retiring one never touches another', () => {
    const overlap = originTier({ trustedGenerations: [1, 2], activeGeneration: 1 });
    const retired = originTier({ trustedGenerations: [2], activeGeneration: 2 });

    expect(retired.publicKeyId(2)).toBe(overlap.publicKeyId(2));
    expect(overlap.publicKeyId(2)).toMatch(/^OriginTierPublicKeyGen2/);
    retired.template.resourceCountIs('Custom::CloudFrontKeyPair', 1);
    retired.template.hasResourceProperties('Custom::CloudFrontKeyPair', { Generation: '2' });
  });

  it('writes the signing secret only after the public key is in the key group and the distribution trusts it', () => {
    const { template, idOf } = originTier({ trustedGenerations: [1, 2], activeGeneration: 2 });

    const [signingKey] = Object.values(template.findResources('Custom::CloudFrontSigningKey'));
    expect(signingKey.DependsOn).toEqual(expect.arrayContaining([idOf('AWS::CloudFront::KeyGroup'), idOf('AWS::CloudFront::Distribution')]));
    expect(signingKey.Properties.SigningSecretId).toEqual({ Ref: idOf('AWS::SecretsManager::Secret', Match.objectLike({ Name: 'nearstream/test/origin-signing-key' })) });
  });

  it('checks, before the key group changes, that it keeps trusting the key that signs now', () => {
    const { template, idOf, publicKeyId } = originTier({ trustedGenerations: [1, 2], activeGeneration: 1 });

    const trustCheck = idOf('Custom::CloudFrontTrustCheck');
    template.hasResourceProperties('Custom::CloudFrontTrustCheck', { TrustedKeyPairIds: [{ Ref: publicKeyId(1) }, { Ref: publicKeyId(2) }] });
    expect(template.findResources('AWS::CloudFront::KeyGroup')[idOf('AWS::CloudFront::KeyGroup')].DependsOn).toEqual([trustCheck]);
  });

  it('keeps every generation\'s private key in an unreplicated store that only the key function may use; only the signing secret replicates', () => {
    const { template, idOf } = originTier();

    const store = idOf('AWS::SecretsManager::Secret', Match.objectLike({ Description: Match.stringLikeRegexp('labelled generation-<n>') }));
    const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>;
    expect(resources[store].Properties.ReplicaRegions).toBeUndefined();
    template.hasResourceProperties('AWS::SecretsManager::Secret', { Name: 'nearstream/test/origin-signing-key', ReplicaRegions: [{ Region: 'us-west-2' }] });
    const policiesOnStore = Object.values(resources).filter((resource) => resource.Type === 'AWS::IAM::Policy' && JSON.stringify(resource.Properties).includes(store));
    expect(policiesOnStore).toHaveLength(1);
    expect(JSON.stringify(policiesOnStore[0].Properties.Roles)).toContain('OriginTierKeyPairFunction');
  });

  it('refuses an active generation the key group would not trust', () => {
    expect(() => originTier({ trustedGenerations: [2], activeGeneration: 1 })).toThrow('signingKeys.activeGeneration 1 must be one of trustedGenerations (2)');
  });
});
