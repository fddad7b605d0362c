import { Aws, CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { EnvironmentConfig } from '../config/environment';
import { EnvironmentNaming } from '../config/naming';
import { ContentKeyEncryptionKey } from '../constructs/content-key-encryption-key';
import { retentionOf } from '../config/retention';
import { AccessLogBucket } from '../constructs/access-log-bucket';
import { SecureBucket } from '../constructs/secure-bucket';

export interface OriginReplicaStackProps extends StackProps {
  readonly config: EnvironmentConfig;
}

/**
 * The secondary region's copy of the origin, kept by S3 replication from the primary, so that
 * appliances homed in either region fill from their own region. Stateful: retained and named
 * like the data stack's resources.
 */
export class OriginReplicaStack extends Stack {
  readonly bucket: Bucket;
  readonly key: IKey;

  constructor(scope: Construct, id: string, props: OriginReplicaStackProps) {
    super(scope, id, props);
    const { config } = props;
    const naming = new EnvironmentNaming(config);
    const { removalPolicy } = retentionOf(config);
    // Content keys' KMS key in this region (the other stateful stack holds the other region's).
    new ContentKeyEncryptionKey(this, 'ContentKeys', { aliasName: naming.contentKeyAlias, removalPolicy });

    const logs = new AccessLogBucket(this, 'LogBucket', { removalPolicy });
    const replica = new SecureBucket(this, 'OriginReplica', {
      purpose: `${naming.prefix}'s origin replica in ${this.region}`,
      bucketName: naming.mediaBucketName(Aws.ACCOUNT_ID, this.region, 'origin'),
      accessLogs: logs,
      accessLogsPrefix: 'origin-replica/',
      removalPolicy,
      objectLockExemption: 'A replica of the origin: it must follow the origin\'s rewrites and deletions, which Object Lock would forbid.',
    });
    this.bucket = replica.bucket;
    this.key = replica.key;
    new CfnOutput(this, 'OriginReplicaBucketName', { value: this.bucket.bucketName });
  }
}
