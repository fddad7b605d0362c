import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AnyPrincipal, Grant, IGrantable, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { restrictGrantsToAwsServices } from './key-policies';

/** AWS services that publish to a Nearstream topic on their own, not through a role of ours. */
export type TopicPublisherService = 'cloudwatch-alarms' | 'auto-scaling';

export interface NotificationTopicProps {
  /** Shown in the console and in email subjects. */
  readonly displayName: string;
  /** Services that publish to the topic: the key's policy admits exactly these. */
  readonly publishers: readonly TopicPublisherService[];
  /** Follows the environment kind: the key goes with the topic in ephemeral environments. */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * An SNS topic that AWS services can actually deliver to: encrypted with its own customer managed
 * key (the AWS managed `alias/aws/sns` key admits no service principal, so CloudWatch alarms and
 * Auto Scaling notifications to a topic under it are dropped) whose policy lets the named
 * publishers encrypt messages, and nothing else.
 */
export class NotificationTopic extends Construct {
  readonly topic: Topic;
  readonly key: Key;

  constructor(scope: Construct, id: string, props: NotificationTopicProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.key = new Key(this, 'Key', {
      description: `Encrypts the SNS topic "${props.displayName}"`,
      enableKeyRotation: true,
      pendingWindow: Duration.days(7),
      removalPolicy: props.removalPolicy,
    });
    restrictGrantsToAwsServices(this.key);
    const publishActions = ['kms:Decrypt', 'kms:GenerateDataKey*'];
    if (props.publishers.includes('cloudwatch-alarms')) {
      this.key.addToResourcePolicy(
        new PolicyStatement({
          sid: 'AllowCloudWatchAlarmsToPublish',
          principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
          actions: publishActions,
          resources: ['*'],
        }),
      );
    }
    if (props.publishers.includes('auto-scaling')) {
      // Auto Scaling publishes as its service-linked role. Named in a condition rather than as the
      // principal: a key policy naming a role that does not exist yet (a fresh account, before its
      // first Auto Scaling group) is refused at deploy time.
      this.key.addToResourcePolicy(
        new PolicyStatement({
          sid: 'AllowAutoScalingServiceLinkedRoleToPublish',
          principals: [new AnyPrincipal()],
          actions: publishActions,
          resources: ['*'],
          conditions: {
            StringEquals: { 'aws:PrincipalAccount': stack.account },
            ArnEquals: {
              'aws:PrincipalArn': stack.formatArn({
                service: 'iam',
                region: '',
                resource: 'role',
                resourceName: 'aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling',
              }),
            },
          },
        }),
      );
    }
    this.topic = new Topic(this, 'Topic', {
      displayName: props.displayName,
      enforceSSL: true,
      masterKey: this.key,
    });
  }

  /** Lets `grantee` publish, with the use of the topic's key that publishing needs. */
  grantPublish(grantee: IGrantable): Grant {
    const grant = this.topic.grantPublish(grantee);
    const principal = grantee.grantPrincipal;
    if (Construct.isConstruct(principal)) {
      Validations.of(principal).acknowledge({
        id: 'AwsSolutions::AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
        reason: 'Publishing to an encrypted topic needs data keys from the topic\'s own key; the grant names that one key.',
      });
    }
    return grant;
  }
}

