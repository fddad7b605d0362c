import { Match } from 'aws-cdk-lib/assertions';
import { synthEnvironment } from '../support/synth';

type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown };

describe('the steering snapshot of each region', () => {
  const dev = synthEnvironment({ name: 'dev' });
  const regions = dev.environment.controlPlanes.map((stack) => [dev.template(stack), stack.region] as const);

  const statementsOf = (template: (typeof regions)[number][0], roleHint: string) =>
    Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(roleHint))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
  /** The snapshot's two objects (holdings, health) in the region's steering bucket. */
  const snapshotArn = (template: (typeof regions)[number][0]) => {
    const [bucketId] = Object.keys(template.findResources('AWS::S3::Bucket', { Properties: { BucketName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([Match.stringLikeRegexp('-steer$')])]) }) } }));
    return ['/steering/snapshot.bin', '/steering/snapshot.bin.health'].map((key) => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, key]] }));
  };

  it('is built by a function EventBridge Scheduler starts every minute, which rebuilds it every 10 s', () => {
    for (const [template] of regions) {
      const [functionId, builder] = Object.entries(template.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('steering snapshot') } }))[0];
      expect(builder.Properties.Environment.Variables).toMatchObject({ STEERING_SNAPSHOT_KEY: 'steering/snapshot.bin', STEERING_SNAPSHOT_SECONDS: '10' });
      expect(builder.Properties.Timeout).toBe(65);
      template.hasResourceProperties('AWS::Scheduler::Schedule', {
        ScheduleExpression: 'rate(1 minute)',
        Target: Match.objectLike({ Arn: { 'Fn::GetAtt': [functionId, 'Arn'] } }),
      });
    }
  });

  it('lives in an unversioned, encrypted, private bucket of its own region', () => {
    for (const [template, region] of regions) {
      template.hasResourceProperties('AWS::S3::Bucket', {
        BucketName: { 'Fn::Join': ['', ['nearstream-dev-', { Ref: 'AWS::AccountId' }, `-${region}-steer`]] },
        VersioningConfiguration: Match.absent(),
        BucketEncryption: { ServerSideEncryptionConfiguration: [Match.objectLike({ BucketKeyEnabled: true, ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }) })] },
        PublicAccessBlockConfiguration: Match.objectLike({ BlockPublicAcls: true, RestrictPublicBuckets: true }),
      });
    }
  });

  it('lets the builder read fleet items only, and read and write the one snapshot object', () => {
    for (const [template] of regions) {
      const statements = statementsOf(template, 'SteeringBuilder');
      const table = statements.find((statement) => JSON.stringify(statement.Action).includes('dynamodb:'))!;
      expect([table.Action].flat().sort()).toEqual(['dynamodb:BatchGetItem', 'dynamodb:Query']);
      expect(table.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['fleet#*', 'appliance#*', 'placement#*'] } });
      expect(statements.filter((statement) => JSON.stringify(statement.Action).includes('s3:GetObject'))).toEqual([
        expect.objectContaining({ Action: ['s3:GetObject', 's3:PutObject'], Resource: snapshotArn(template) }),
      ]);
      const actions = statements.flatMap((statement) => [statement.Action].flat());
      expect(actions.filter((action) => /^(s3:Delete|dynamodb:(Put|Update|Delete|BatchWrite))/.test(action))).toEqual([]);
    }
  });

  it('lets the play function read the snapshot object and no longer query the fleet', () => {
    for (const [template] of regions) {
      const [play] = Object.values(template.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('^POST /play') } }));
      expect(play.Properties.Environment.Variables).toMatchObject({ STEERING_SNAPSHOT_KEY: 'steering/snapshot.bin' });
      const reads = statementsOf(template, 'PlayFunction').filter((statement) => JSON.stringify(statement.Action).includes('s3:'));
      expect(reads).toEqual([expect.objectContaining({ Action: 's3:GetObject', Resource: snapshotArn(template) })]);
    }
  });
});
