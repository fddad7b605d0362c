import { DeployedStack, TemplateResolver } from './template-resolver';

const data: DeployedStack = {
  stackName: 'env-data',
  region: 'us-east-1',
  account: '123456789012',
  template: {
    Resources: {
      Uploads: { Type: 'AWS::S3::Bucket', Properties: { BucketName: { 'Fn::Join': ['-', ['env', { Ref: 'AWS::AccountId' }, 'uploads']] } } },
      UploadsKey: { Type: 'AWS::KMS::Key' },
      Signing: { Type: 'AWS::SecretsManager::Secret', Properties: { Name: 'env/signing' } },
    },
    Outputs: {
      PublishOutputKeyArn: { Value: { 'Fn::GetAtt': ['UploadsKey', 'Arn'] } },
      UploadsArn: { Value: { 'Fn::GetAtt': ['Uploads', 'Arn'] }, Export: { Name: { 'Fn::Sub': '${AWS::StackName}:UploadsArn' } } },
    },
  },
};

const plane: DeployedStack = {
  stackName: 'env-plane',
  region: 'us-west-2',
  account: '123456789012',
  template: { Resources: { Api: { Type: 'AWS::ApiGatewayV2::Api' }, Role: { Type: 'AWS::IAM::Role' } } },
};

describe('resolving a synthesized environment\'s intrinsics', () => {
  const resolver = new TemplateResolver([data, plane]);

  it('gives named resources their names and ARNs, and Secrets Manager\'s suffix to secrets', () => {
    expect(resolver.resolve(data, { 'Fn::GetAtt': ['Uploads', 'Arn'] })).toBe('arn:aws:s3:::env-123456789012-uploads');
    expect(resolver.resolve(data, { Ref: 'Signing' })).toBe('arn:aws:secretsmanager:us-east-1:123456789012:secret:env/signing-AbCdEf');
  });

  it('follows references across stacks and regions, through cross-region outputs and exports alike', () => {
    const keyArn = resolver.resolve(plane, { 'Fn::GetStackOutput': { StackName: 'env-data', Region: 'us-east-1', OutputName: 'PublishOutputKeyArn' } });
    expect(keyArn).toBe(resolver.attribute(data, 'UploadsKey', 'Arn'));
    expect(keyArn).toMatch(/^arn:aws:kms:us-east-1:123456789012:key\/[0-9a-f]{8}-[0-9a-f]{4}-/);
    expect(resolver.resolve(plane, { 'Fn::ImportValue': 'env-data:UploadsArn' })).toBe('arn:aws:s3:::env-123456789012-uploads');
  });

  it('resolves Sub, Select, Split and pseudo parameters in the stack that holds them', () => {
    expect(resolver.resolve(plane, { 'Fn::Sub': 'arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/*' })).toBe(
      `arn:aws:execute-api:us-west-2:123456789012:${resolver.ref(plane, 'Api')}/*`,
    );
    expect(resolver.resolve(plane, { 'Fn::Select': [1, { 'Fn::Split': ['/', { 'Fn::GetAtt': ['Role', 'Arn'] }] }] })).toBe('env-plane-Role');
    expect(resolver.resolve(plane, { Statement: [{ Condition: { Ref: 'AWS::NoValue' }, Effect: 'Allow' }] })).toEqual({ Statement: [{ Effect: 'Allow' }] });
  });

  it('refuses an intrinsic it cannot resolve, saying where to teach it', () => {
    expect(() => resolver.resolve(plane, { 'Fn::Cidr': ['10.0.0.0/16', 2, 8] })).toThrow(/env-plane uses Fn::Cidr, which test\/support\/iam\/template-resolver.ts cannot resolve/);
  });
});
