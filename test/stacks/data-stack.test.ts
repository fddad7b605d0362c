import { Match } from 'aws-cdk-lib/assertions';
import { synthEnvironment } from '../support/synth';

describe('DataStack', () => {
  const prod = synthEnvironment({ name: 'prod', viewerEmailFrom: 'no-reply@example.com', primaryRegion: 'eu-west-1', secondaryRegion: 'eu-central-1' });
  const prodData = prod.template(prod.environment.data);
  const ephemeral = synthEnvironment({ name: 'pr-42' });

  it('lives in the primary region', () => {
    expect(prod.environment.data.region).toBe('eu-west-1');
    expect(prod.environment.data.stackName).toBe('nearstream-prod-data');
  });

  it('replicates every table to exactly the configured regions', () => {
    const tables = prodData.findResources('AWS::DynamoDB::GlobalTable');
    expect(Object.keys(tables).length).toBeGreaterThan(0);
    for (const table of Object.values(tables)) {
      const regions = table.Properties.Replicas.map((replica: { Region: string }) => replica.Region);
      expect(regions.sort()).toEqual(['eu-central-1', 'eu-west-1']);
    }
  });

  it('protects every production table and replica, with point-in-time recovery', () => {
    for (const table of Object.values(prodData.findResources('AWS::DynamoDB::GlobalTable'))) {
      expect(table.DeletionPolicy).toBe('Retain');
      expect(table.UpdateReplacePolicy).toBe('Retain');
      for (const replica of table.Properties.Replicas) {
        expect(replica.DeletionProtectionEnabled).toBe(true);
        expect(replica.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
      }
    }
  });

  it('encrypts the control table with KMS and expires items through expiresAt', () => {
    prodData.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      TableName: 'nearstream-prod-control',
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    });
  });

  it('replicates the URL-signing secret to the secondary region and retains it in prod', () => {
    prodData.hasResource('AWS::SecretsManager::Secret', {
      DeletionPolicy: 'Retain',
      Properties: {
        Name: 'nearstream/prod/url-signing-key',
        ReplicaRegions: [{ Region: 'eu-central-1' }],
        GenerateSecretString: Match.objectLike({ GenerateStringKey: 'k1', SecretStringTemplate: '{"activeKeyId":"k1"}' }),
      },
    });
  });

  it('pins the logical ids of stateful resources so a refactor cannot replace them', () => {
    expect(Object.keys(prodData.findResources('AWS::DynamoDB::GlobalTable'))).toEqual(['ControlTable']);
    expect(Object.keys(prodData.findResources('AWS::SecretsManager::Secret')).sort()).toEqual(['OriginKeyStore', 'OriginSigningSecret', 'UrlSigningSecret']);
    expect(Object.keys(prodData.findResources('AWS::S3::Bucket'))).toContain('OriginBucket');
    expect(Object.keys(prodData.findResources('AWS::Cognito::UserPool'))).toEqual(['ViewerUserPool']);
  });

  it('keeps generation 1\'s key pair and public key under the logical ids environments deployed before key generations have', () => {
    expect(Object.keys(prodData.findResources('Custom::CloudFrontKeyPair'))).toEqual(['OriginTierKeyPairB6C9C6D1']);
    expect(Object.keys(prodData.findResources('AWS::CloudFront::PublicKey'))).toEqual(['OriginTierPublicKey02977D3C']);
  });

  it('keeps exporting generation 1\'s key pair id while it is trusted, for control planes deployed before the key id moved into the secret', () => {
    const exportsOf = (template: typeof prodData) =>
      Object.values(template.toJSON().Outputs as Record<string, { Export?: { Name: string } }>).flatMap((output) => (output.Export ? [output.Export.Name] : []));
    const retired = synthEnvironment({ name: 'pr-43', originKeyGenerations: [2] });

    expect(exportsOf(prodData)).toContain('nearstream-prod-data:ExportsOutputRefOriginTierPublicKey02977D3C964EE80F');
    expect(exportsOf(retired.template(retired.environment.data)).filter((name) => name.includes('PublicKey'))).toEqual([]);
  });

  it('leaves nothing behind in an ephemeral environment: no Retain anywhere, no deletion protection', () => {
    for (const stack of [ephemeral.environment.data, ...ephemeral.environment.controlPlanes]) {
      const resources = ephemeral.template(stack).toJSON().Resources as Record<string, Record<string, unknown>>;
      for (const [logicalId, resource] of Object.entries(resources)) {
        expect({ logicalId, policy: resource.DeletionPolicy }).not.toEqual({ logicalId, policy: 'Retain' });
        expect({ logicalId, policy: resource.UpdateReplacePolicy }).not.toEqual({ logicalId, policy: 'Retain' });
      }
    }
    ephemeral.template(ephemeral.environment.data).hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      Replicas: Match.arrayWith([Match.objectLike({ DeletionProtectionEnabled: false })]),
    });
  });

  it('turns on termination protection for production stacks only', () => {
    expect(prod.environment.data.terminationProtection).toBe(true);
    expect(ephemeral.environment.data.terminationProtection).toBe(false);
  });
});
