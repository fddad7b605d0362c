import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Key } from 'aws-cdk-lib/aws-kms';
import { BlockPublicAccess, Bucket, BucketEncryption, IBucket, ObjectOwnership, ReplicationRule } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { enableEventBridge } from './access-log-bucket';
import { restrictGrantsToAwsServices } from './key-policies';

export interface SecureBucketProps {
  /** What the bucket holds, for the key's description. */
  readonly purpose: string;
  /** Where its server access logs go. */
  readonly accessLogs: IBucket;
  readonly accessLogsPrefix: string;
  /** Follows the environment kind. */
  readonly removalPolicy: RemovalPolicy;
  /** Why the objects cannot be locked; Control Tower's CT.S3.PR.9 wants Object Lock. */
  readonly objectLockExemption: string;
  /**
   * @default - CloudFormation generates a name
   */
  readonly bucketName?: string;
  /**
   * Days an overwritten or deleted object version is kept.
   * @default 30
   */
  readonly noncurrentVersionDays?: number;
  /**
   * @default - no replication
   */
  readonly replicationRules?: ReplicationRule[];
}

/**
 * A bucket holding the platform's media: encrypted with its own rotating KMS key (bucket keys on),
 * versioned, TLS-only, private, access-logged, its events on EventBridge.
 */
export class SecureBucket extends Construct {
  readonly bucket: Bucket;
  readonly key: Key;

  constructor(scope: Construct, id: string, props: SecureBucketProps) {
    super(scope, id);
    this.key = new Key(this, 'Key', {
      description: `Encrypts ${props.purpose}`,
      enableKeyRotation: true,
      pendingWindow: Duration.days(7),
      removalPolicy: props.removalPolicy,
    });
    restrictGrantsToAwsServices(this.key);
    this.bucket = new Bucket(this, 'Bucket', {
      bucketName: props.bucketName,
      encryption: BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: props.accessLogsPrefix,
      lifecycleRules: [
        { noncurrentVersionExpiration: Duration.days(props.noncurrentVersionDays ?? 30), abortIncompleteMultipartUploadAfter: Duration.days(7) },
      ],
      replicationRules: props.replicationRules,
      removalPolicy: props.removalPolicy,
      autoDeleteObjects: props.removalPolicy === RemovalPolicy.DESTROY,
    });
    enableEventBridge(this.bucket);
    Validations.of(this.bucket).acknowledge({ id: 'cdk-validator-cfnguard::s3_bucket_object_lock_enabled_check', reason: props.objectLockExemption });
  }
}
