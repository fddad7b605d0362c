import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { NotificationTopic } from '../../lib/constructs/notification-topic';

function topicIn(publishers: ConstructorParameters<typeof NotificationTopic>[2]['publishers']) {
  const stack = new Stack(new App(), 'Bare', { env: { account: '123456789012', region: 'eu-west-1' } });
  const topic = new NotificationTopic(stack, 'Alarms', { displayName: 'alarms', publishers, removalPolicy: RemovalPolicy.DESTROY });
  return { stack, topic };
}

describe('NotificationTopic', () => {
  it('encrypts with its own rotating key, not the AWS managed SNS key', () => {
    const { stack } = topicIn(['cloudwatch-alarms']);
    const template = Template.fromStack(stack);
    const [keyId] = Object.keys(template.findResources('AWS::KMS::Key'));
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } });
  });

  it('lets CloudWatch alarms encrypt messages with the key, and nothing for Auto Scaling unless asked', () => {
    const template = Template.fromStack(topicIn(['cloudwatch-alarms']).stack);
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Sid: 'AllowCloudWatchAlarmsToPublish', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] }),
        ]),
      },
    });
    expect(JSON.stringify(template.toJSON())).not.toContain('AWSServiceRoleForAutoScaling');
  });

  it('admits Auto Scaling\'s service-linked role by condition, so the key deploys before the role exists', () => {
    const template = Template.fromStack(topicIn(['auto-scaling']).stack);
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'AllowAutoScalingServiceLinkedRoleToPublish',
            Principal: { AWS: '*' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Condition: {
              StringEquals: { 'aws:PrincipalAccount': '123456789012' },
              ArnEquals: { 'aws:PrincipalArn': Match.anyValue() },
            },
          }),
        ]),
      },
    });
    expect(JSON.stringify(template.toJSON())).toContain(':iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling');
  });

  it('grants a publisher the topic and the key use publishing needs', () => {
    const { stack, topic } = topicIn(['cloudwatch-alarms']);
    const publisher = new Role(stack, 'Publisher', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    topic.grantPublish(publisher);
    const statements = JSON.stringify(Template.fromStack(stack).findResources('AWS::IAM::Policy'));
    expect(statements).toContain('sns:Publish');
    expect(statements).toContain('kms:GenerateDataKey*');
    expect(statements).toContain('kms:Decrypt');
  });
});
