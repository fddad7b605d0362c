import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { restrictGrantsToAwsServices } from './key-policies';

export interface LogEncryptionKeyProps {
  /** `alias/<aliasName>` names the key in the console. */
  readonly aliasName: string;
  /** Follows the environment kind: production keeps the key, or its logs become unreadable. */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * A customer managed KMS key for one region's CloudWatch log groups, with rotation on and a key
 * policy that lets CloudWatch Logs use it only for log groups of this account and region.
 */
export class LogEncryptionKey extends Construct {
  readonly key: Key;

  constructor(scope: Construct, id: string, props: LogEncryptionKeyProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.key = new Key(this, 'Key', {
      alias: props.aliasName,
      description: 'Encrypts the control plane\'s CloudWatch log groups in this region',
      enableKeyRotation: true,
      pendingWindow: Duration.days(7),
      removalPolicy: props.removalPolicy,
    });
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchLogsOfThisRegion',
        principals: [new ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': stack.formatArn({
              service: 'logs',
              resource: 'log-group',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    restrictGrantsToAwsServices(this.key);
  }
}
