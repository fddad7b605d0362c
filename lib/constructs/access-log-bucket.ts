import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { BlockPublicAccess, Bucket, BucketEncryption, CfnBucket, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface AccessLogBucketProps {
  /** Follows the environment kind. */
  readonly removalPolicy: RemovalPolicy;
  /**
   * Days log objects are kept.
   * @default 90
   */
  readonly retentionDays?: number;
}

/**
 * Where S3 server access logs and CloudFront standard logs land: SSE-S3 (the only encryption S3
 * log delivery accepts), private, expiring, and owned by the account even when written by ACL.
 */
export class AccessLogBucket extends Bucket {
  constructor(scope: Construct, id: string, props: AccessLogBucketProps) {
    super(scope, id, {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_PREFERRED,
      versioned: true,
      lifecycleRules: [{ expiration: Duration.days(props.retentionDays ?? 90), noncurrentVersionExpiration: Duration.days(7) }],
      removalPolicy: props.removalPolicy,
      autoDeleteObjects: props.removalPolicy === RemovalPolicy.DESTROY,
    });
    const thisIsTheLogBucket = 'This is the access-log bucket itself; logging it into itself would loop.';
    Validations.of(this).acknowledge(
      { id: 'AwsSolutions::AwsSolutions-S1', reason: thisIsTheLogBucket },
      { id: 'cdk-validator-cfnguard::s3_bucket_logging_enabled_check', reason: thisIsTheLogBucket },
      {
        id: 'cdk-validator-cfnguard::s3_bucket_acl_prohibited_check',
        reason: 'CloudFront standard logging delivers through the bucket ACL; ObjectOwnership is BucketOwnerPreferred so the account owns every log object.',
      },
      {
        id: 'cdk-validator-cfnguard::s3_bucket_default_encryption_kms_check',
        reason: 'S3 server access logging delivers only to target buckets encrypted with SSE-S3, so this bucket cannot default to SSE-KMS.',
      },
      {
        id: 'cdk-validator-cfnguard::s3_bucket_object_lock_enabled_check',
        reason: 'Access logs expire by lifecycle; Object Lock would block that expiry and adds nothing to their integrity here.',
      },
    );
    enableEventBridge(this);
  }
}

/**
 * Sends a bucket's events to EventBridge through the bucket's own notification configuration,
 * not CDK's notifications custom resource: no extra Lambda, no managed policy.
 */
export function enableEventBridge(bucket: Bucket): void {
  (bucket.node.defaultChild as CfnBucket).notificationConfiguration = { eventBridgeConfiguration: { eventBridgeEnabled: true } };
}
