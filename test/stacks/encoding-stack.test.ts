import { Match, Template } from 'aws-cdk-lib/assertions';
import { jobSettings, TEMPLATE_DESTINATION } from '../../lambda/encoding/ladder';
import { VIDEO_SUFFIXES } from '../../lib/constructs/encoding-workflow';
import { synthEnvironment } from '../support/synth';

type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown };

/** The state machine whose logical id starts with `prefix`, its definition parsed, intrinsics shown as `<LogicalId.Attr>` or `<Ref>`. */
function definitionOf(template: Template, prefix: string): { States: Record<string, Record<string, unknown>>; StartAt: string } {
  const [machine] = Object.entries(template.findResources('AWS::StepFunctions::StateMachine')).filter(([id]) => id.startsWith(prefix));
  const body = machine[1].Properties.DefinitionString;
  const parts: unknown[] = typeof body === 'string' ? [body] : body['Fn::Join'][1];
  const text = parts
    .map((part) => (typeof part === 'string' ? part : 'Ref' in (part as object) ? `<${(part as { Ref: string }).Ref}>` : `<${(part as { 'Fn::GetAtt': string[] })['Fn::GetAtt'].join('.')}>`))
    .join('');
  return JSON.parse(text);
}

/** The statements of every policy attached to the role whose logical id starts with `rolePrefix`. */
function statementsOf(template: Template, rolePrefix: string): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) => (policy.Properties.Roles as { Ref: string }[]).some((role) => role.Ref.startsWith(rolePrefix)))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
}

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

  it('completes titles from this environment\'s MediaConvert COMPLETE and ERROR events only, through the completion state machine', () => {
    encoding.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.mediaconvert'],
        'detail-type': ['MediaConvert Job State Change'],
        detail: { status: ['COMPLETE', 'ERROR'], userMetadata: { nearstreamEnvironment: ['dev'] } },
      },
      Targets: [
        Match.objectLike({
          Arn: { Ref: Match.stringLikeRegexp('^WorkflowCompletionStateMachine') },
          DeadLetterConfig: Match.anyValue(),
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 86400 },
        }),
      ],
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
    const [machine] = Object.entries(encoding.findResources('AWS::StepFunctions::StateMachine')).filter(([id]) => id.startsWith('WorkflowStateMachine'));
    const definition = JSON.stringify(machine[1].Properties.DefinitionString);
    expect(definition).toContain('\\"Retry\\":[');
    expect(definition).toContain('\\"ErrorEquals\\":[\\"States.ALL\\"],\\"IntervalSeconds\\":10,\\"MaxAttempts\\":3,\\"BackoffRate\\":3');
    expect(definition).toContain('\\"Catch\\":[{\\"ErrorEquals\\":[\\"States.ALL\\"],\\"ResultPath\\":\\"$.error\\",\\"Next\\":\\"RejectUpload\\"}]');
    encoding.hasResourceProperties('AWS::StepFunctions::StateMachine', { TracingConfiguration: { Enabled: true } });
  });

  describe('completion', () => {
    const definition = definitionOf(encoding, 'WorkflowCompletionStateMachine');
    const origin = (suffix = '') => ({ 'Fn::Join': ['', ['arn:aws:s3:::nearstream-dev-', { Ref: 'AWS::AccountId' }, `-us-east-1-origin${suffix}`]] });
    const functionId = (description: string) =>
      Object.keys(encoding.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp(description) } }))[0];

    it('folds each job event, and only after a title\'s last job hashes its objects, then publishes its inventory before it is available', () => {
      expect(definition.StartAt).toBe('JobEventOrTitle?');
      expect(definition.States['JobEventOrTitle?'].Choices).toEqual([
        { Variable: '$.detail', IsPresent: true, Next: 'FoldJob' },
        { Variable: '$.titleId', IsPresent: true, Next: 'HashTitleObjects' },
      ]);
      expect(definition.States.FoldJob).toMatchObject({ Resource: `<${functionId('^Encoding: fold finished')}.Arn>`, Next: 'InventoryDue?' });
      expect(definition.States['InventoryDue?']).toMatchObject({
        Choices: [{ Variable: '$.inventoryDue', BooleanEquals: true, Next: 'HashTitleObjects' }],
        Default: 'JobRecorded',
      });
      expect(definition.States.HashTitleObjects.Next).toBe('PublishInventory');
      expect(definition.States.PublishInventory).toMatchObject({
        Resource: `<${functionId('^Encoding: write a title')}.Arn>`,
        Parameters: { 'titleId.$': '$.titleId' },
        Next: 'TitleAvailable',
      });
      expect(definition.States.TitleAvailable.Type).toBe('Succeed');
    });

    it('hashes each object of titles/<id>/ in its own invocation: a Distributed Map of 100-object batches, 10 batches and 5 objects each at a time', () => {
      const map = definition.States.HashTitleObjects;
      expect(map).toMatchObject({
        Type: 'Map',
        ItemReader: {
          Resource: 'arn:<AWS::Partition>:states:::s3:listObjectsV2',
          Parameters: { Bucket: 'nearstream-dev-<AWS::AccountId>-us-east-1-origin', 'Prefix.$': "States.Format('titles/{}/', $.titleId)" },
        },
        ItemSelector: { 'titleId.$': '$.titleId', 'key.$': '$$.Map.Item.Value.Key' },
        ItemBatcher: { MaxItemsPerBatch: 100 },
        MaxConcurrency: 10,
        ResultPath: null,
        ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, StartAt: 'HashBatch' },
      });
      const batch = (map.ItemProcessor as { States: Record<string, Record<string, unknown>> }).States.HashBatch;
      expect(batch).toMatchObject({
        Type: 'Map',
        ItemsPath: '$.Items',
        MaxConcurrency: 5,
        // One small entry per batch: the Distributed Map's result stays tiny however many objects a title has.
        ResultSelector: { 'hashed.$': 'States.ArrayLength($)' },
        ItemProcessor: { ProcessorConfig: { Mode: 'INLINE' }, StartAt: 'HashObject' },
      });
      const hashObject = (batch.ItemProcessor as { States: Record<string, Record<string, unknown>> }).States.HashObject;
      expect(hashObject).toMatchObject({ Resource: `<${functionId('^Encoding: SHA-256 of one encoded object')}.Arn>`, End: true });
      expect(hashObject.Retry).toContainEqual({ ErrorEquals: ['States.ALL'], IntervalSeconds: 5, MaxAttempts: 4, BackoffRate: 2, JitterStrategy: 'FULL' });
      encoding.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp('^Encoding: SHA-256 of one encoded object'),
        Timeout: 900,
        MemorySize: 1024,
      });
    });

    it('lets the hash function read only titles/ objects and write only digest items', () => {
      const statements = statementsOf(encoding, 'WorkflowCompletionHashFunctionRole').filter((statement) => !/^(logs|xray):/.test([statement.Action].flat()[0]));
      expect(statements).toEqual([
        expect.objectContaining({ Action: 'dynamodb:PutItem', Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['digest#*'] } } }),
        expect.objectContaining({ Action: 's3:GetObject', Resource: origin('/titles/*') }),
        expect.objectContaining({ Action: 'kms:Decrypt', Condition: { StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } } }),
      ]);
    });

    it('lets the publish function list titles/, read only the manifests, write only inventory.json and the rendition objects, keep digests and change only title items', () => {
      const statements = statementsOf(encoding, 'WorkflowCompletionPublishFunctionRole').filter((statement) => !/^(logs|xray):/.test([statement.Action].flat()[0]));
      expect(statements).toEqual([
        expect.objectContaining({ Action: ['dynamodb:PutItem', 'dynamodb:Query'], Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['digest#*'] } } }),
        expect.objectContaining({ Action: ['dynamodb:GetItem', 'dynamodb:PutItem'], Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['title#*'] } } }),
        expect.objectContaining({ Action: 's3:ListBucket', Resource: origin(), Condition: { StringLike: { 's3:prefix': ['titles/*'] } } }),
        expect.objectContaining({
          Action: 's3:PutObject',
          Resource: expect.arrayContaining(['/titles/*/inventory.json', '/titles/*/renditions.json', '/titles/*/index.cap*.m3u8', '/titles/*/index.cap*.mpd'].map(origin)),
        }),
        expect.objectContaining({ Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Condition: { StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } } }),
        expect.objectContaining({ Action: 's3:GetObject', Resource: ['/titles/*/index.m3u8', '/titles/*/index.mpd'].map(origin) }),
      ]);
      const writes = statements.find((statement) => statement.Action === 's3:PutObject')!.Resource as unknown[];
      expect(writes).toHaveLength(4);
    });

    it('lets the state machine invoke only its three functions, list only titles/ and run only its own map executions', () => {
      const statements = statementsOf(encoding, 'WorkflowCompletionStateMachineRole');
      const actions = statements.flatMap((statement) => [statement.Action].flat());
      expect(actions.filter((action) => !/^(logs|xray):/.test(action)).sort()).toEqual([
        'lambda:InvokeFunction',
        's3:ListBucket',
        'states:DescribeExecution',
        'states:RedriveExecution',
        'states:StartExecution',
        'states:StopExecution',
      ]);
      const invoke = statements.find((statement) => statement.Action === 'lambda:InvokeFunction')!;
      const invoked = new Set((invoke.Resource as object[]).map((resource) => JSON.stringify(resource).match(/"(Workflow\w+Function\w+)"/)![1]));
      expect([...invoked].sort()).toEqual(
        [functionId('^Encoding: fold finished'), functionId('^Encoding: SHA-256'), functionId('^Encoding: write a title')].sort(),
      );
      expect(statements.find((statement) => statement.Action === 's3:ListBucket')).toMatchObject({ Resource: origin(), Condition: { StringLike: { 's3:prefix': ['titles/*'] } } });
      const [machineId] = Object.keys(encoding.findResources('AWS::StepFunctions::StateMachine')).filter((id) => id.startsWith('WorkflowCompletionStateMachine'));
      expect(statements.find((statement) => statement.Action === 'states:StartExecution')).toMatchObject({ Resource: { Ref: machineId } });
      for (const statement of statements.filter((candidate) => /^states:(Describe|Stop|Redrive)/.test([candidate.Action].flat()[0]))) {
        expect(statement.Resource).toEqual({
          'Fn::Join': ['', ['arn:aws:states:us-east-1:', { Ref: 'AWS::AccountId' }, ':execution:', { 'Fn::Select': [6, { 'Fn::Split': [':', { Ref: machineId }] }] }, expect.stringMatching(/^(:\*|\/HashTitleObjects:\*)$/)]],
        });
      }
    });

    it('tells the failure topic when a completion fails or times out, since its title then stays processing', () => {
      encoding.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmActions: [{ Ref: Match.stringLikeRegexp('^WorkflowFailureTopic') }],
        Metrics: Match.arrayWith([
          Match.objectLike({ Expression: 'failed + timedOut' }),
          Match.objectLike({ Id: 'failed', MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'ExecutionsFailed' }) }) }),
          Match.objectLike({ Id: 'timedOut', MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'ExecutionsTimedOut' }) }) }),
        ]),
        Threshold: 0,
      });
    });
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
