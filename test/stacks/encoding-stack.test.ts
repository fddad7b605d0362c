import { Match } from 'aws-cdk-lib/assertions';
import { jobSettings, TEMPLATE_DESTINATION } from '../../lambda/encoding/ladder';
import { VIDEO_SUFFIXES } from '../../lib/constructs/encoding-workflow';
import { synthEnvironment } from '../support/synth';

describe('EncodingStack', () => {
  const dev = synthEnvironment({ name: 'dev' });
  const encoding = dev.template(dev.environment.encoding);
  const data = dev.template(dev.environment.data);
  const replica = dev.template(dev.environment.originReplica);

  it('deploys the job templates rendered from the typed ladder, as PascalCase settings', () => {
    for (const kind of ['fixed', 'automated', 'av1'] as const) {
      encoding.hasResourceProperties('AWS::MediaConvert::JobTemplate', {
        Name: `nearstream-dev-${kind}`,
        SettingsJson: JSON.parse(JSON.stringify(jobSettings(kind, () => TEMPLATE_DESTINATION))),
      });
    }
  });

  it('starts the workflow on a video upload to the source bucket, any suffix case, with retries and a dead-letter queue', () => {
    encoding.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: {
          bucket: { name: [{ 'Fn::Join': ['', ['nearstream-dev-', { Ref: 'AWS::AccountId' }, '-us-east-1-source']] }] },
          object: { key: VIDEO_SUFFIXES.map((suffix) => ({ suffix: { 'equals-ignore-case': suffix } })) },
        },
      },
      Targets: [
        Match.objectLike({
          Arn: { Ref: Match.stringLikeRegexp('StateMachine') },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('DeadLetters'), 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 86400 },
        }),
      ],
    });
  });

  it('completes titles from this environment\'s MediaConvert COMPLETE and ERROR events only', () => {
    encoding.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.mediaconvert'],
        'detail-type': ['MediaConvert Job State Change'],
        detail: { status: ['COMPLETE', 'ERROR'], userMetadata: { nearstreamEnvironment: ['dev'] } },
      },
      Targets: [Match.objectLike({ DeadLetterConfig: Match.anyValue(), RetryPolicy: Match.anyValue() })],
    });
  });

  it('lets MediaConvert read only the source bucket and write only the origin\'s titles/ prefix', () => {
    const role = Object.entries(encoding.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith('LadderServiceRole'))![1];
    const statements = role.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[];
    const s3 = statements.filter((statement) => JSON.stringify(statement.Action).includes('s3:'));
    expect(s3.map((statement) => [statement.Action, JSON.stringify(statement.Resource)])).toEqual([
      ['s3:GetObject', expect.stringContaining('-us-east-1-source/*')],
      ['s3:PutObject', expect.stringContaining('-us-east-1-origin/titles/*')],
    ]);
    encoding.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'mediaconvert.amazonaws.com' } })] },
    });
  });

  it('scopes iam:PassRole to the MediaConvert role and service', () => {
    const passRole = Object.values(encoding.findResources('AWS::IAM::Policy'))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
      .filter((statement) => statement.Action === 'iam:PassRole');
    expect(passRole).toHaveLength(1);
    expect(passRole[0]).toMatchObject({
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^LadderServiceRole/), 'Arn'] },
      Condition: { StringEquals: { 'iam:PassedToService': 'mediaconvert.amazonaws.com' } },
    });
  });

  it('retries the ingest step and routes every failure to the reject step', () => {
    const [machine] = Object.values(encoding.findResources('AWS::StepFunctions::StateMachine'));
    const definition = JSON.stringify(machine.Properties.DefinitionString);
    expect(definition).toContain('\\"Retry\\":[');
    expect(definition).toContain('\\"ErrorEquals\\":[\\"States.ALL\\"],\\"IntervalSeconds\\":10,\\"MaxAttempts\\":3,\\"BackoffRate\\":3');
    expect(definition).toContain('\\"Catch\\":[{\\"ErrorEquals\\":[\\"States.ALL\\"],\\"ResultPath\\":\\"$.error\\",\\"Next\\":\\"RejectUpload\\"}]');
    encoding.hasResourceProperties('AWS::StepFunctions::StateMachine', { TracingConfiguration: { Enabled: true } });
  });

  it('replicates the origin to a KMS-encrypted bucket in the secondary region', () => {
    data.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: { 'Fn::Join': ['', ['nearstream-dev-', { Ref: 'AWS::AccountId' }, '-us-east-1-origin']] },
      ReplicationConfiguration: {
        Rules: [
          Match.objectLike({
            Status: 'Enabled',
            Destination: Match.objectLike({ Bucket: Match.anyValue(), EncryptionConfiguration: { ReplicaKmsKeyID: Match.anyValue() } }),
            SourceSelectionCriteria: { SseKmsEncryptedObjects: { Status: 'Enabled' } },
          }),
        ],
      },
    });
    expect(dev.environment.originReplica.region).toBe('us-west-2');
    replica.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: { 'Fn::Join': ['', ['nearstream-dev-', { Ref: 'AWS::AccountId' }, '-us-west-2-origin']] },
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: { ServerSideEncryptionConfiguration: [Match.objectLike({ ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }) })] },
    });
    expect(dev.environment.data.dependencies).toContain(dev.environment.originReplica);
  });

  it('keeps uploads in a versioned, KMS-encrypted, private, access-logged bucket that reports to EventBridge', () => {
    data.hasResource('AWS::S3::Bucket', {
      Properties: Match.objectLike({
        BucketName: { 'Fn::Join': ['', ['nearstream-dev-', { Ref: 'AWS::AccountId' }, '-us-east-1-source']] },
        VersioningConfiguration: { Status: 'Enabled' },
        NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
        LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'source-bucket/' }),
      }),
    });
    expect(Object.keys(data.findResources('AWS::S3::Bucket'))).toEqual(expect.arrayContaining(['OriginBucket', 'SourceBucket']));
  });
});
