import { Match } from 'aws-cdk-lib/assertions';
import { synthEnvironment } from '../support/synth';

type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown };

describe('nightly fill planning', () => {
  const dev = synthEnvironment({ name: 'dev' });
  const [primary, secondary] = dev.environment.controlPlanes.map((stack) => dev.template(stack));

  function planner(template: typeof primary) {
    const [functionId] = Object.keys(template.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('^Nightly fill plan') } }));
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((policy) => JSON.stringify(policy.Properties.Roles).includes('FillPlanningFunction'))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
    return { functionId, statements };
  }

  it('runs daily an hour before the fill windows open, from EventBridge Scheduler, with retries', () => {
    const { functionId } = planner(primary);
    primary.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 1 * * ? *)',
      State: 'ENABLED',
      Target: Match.objectLike({ Arn: { 'Fn::GetAtt': [functionId, 'Arn'] }, RetryPolicy: Match.objectLike({ MaximumRetryAttempts: 2 }) }),
    });
    const [role] = Object.values(primary.findResources('AWS::IAM::Role', { Properties: { Description: Match.stringLikeRegexp('Scheduler invokes the nightly fill plan') } }));
    expect(role.Properties.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({ Service: 'scheduler.amazonaws.com' });
  });

  it('may read the control table, titles\' inventories and manifests (no other object, no listing), and write only manifests, in its own region\'s origin', () => {
    for (const [template, region] of [[primary, 'us-east-1'], [secondary, 'us-west-2']] as const) {
      const { statements } = planner(template);
      const actions = statements.flatMap((statement) => [statement.Action].flat()).sort();
      expect(actions).toEqual(
        expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 's3:GetObject', 's3:PutObject', 'kms:Decrypt', 'kms:GenerateDataKey']),
      );
      expect([...new Set(actions.filter((action) => action.startsWith('s3:')))].sort()).toEqual(['s3:GetObject', 's3:PutObject']);
      expect(actions.filter((action) => /^(s3:Delete|dynamodb:(Delete|Update|BatchWrite))/.test(action))).toEqual([]);
      const tableWrite = statements.find((statement) => statement.Action === 'dynamodb:PutItem')!;
      expect(tableWrite.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['cluster#*', 'placement#*'] } });
      const kms = statements.find((statement) => JSON.stringify(statement.Action).includes('kms:GenerateDataKey'))!;
      expect(kms.Condition).toEqual({ StringEquals: { 'kms:ViaService': `s3.${region}.amazonaws.com` } });
      const objectArn = (suffix: string) => ({ 'Fn::Join': ['', ['arn:aws:s3:::nearstream-dev-', { Ref: 'AWS::AccountId' }, `-${region}-origin/${suffix}`]] });
      const gets = statements.filter((statement) => statement.Action === 's3:GetObject');
      expect(gets).toEqual([expect.objectContaining({ Resource: objectArn('titles/*/inventory.json') })]);
      // The current manifest is read back to know what each cluster holds.
      const manifests = statements.filter((statement) => JSON.stringify(statement.Action) === JSON.stringify(['s3:GetObject', 's3:PutObject']));
      expect(manifests).toEqual([expect.objectContaining({ Resource: objectArn('manifests/*') })]);
    }
  });
});
