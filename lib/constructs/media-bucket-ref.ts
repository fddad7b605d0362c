import { Aws, Stack } from 'aws-cdk-lib';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { nagBucketArn } from '../compliance';
import { EnvironmentNaming } from '../config/naming';
import { MediaBucketRef } from './encoding-ladder';

/**
 * A media bucket of this stack's region by its derived name (no cross-stack export), with the key
 * that encrypts it and the ARN cdk-nag prints for it.
 */
export function importMediaBucket(scope: Construct, naming: EnvironmentNaming, purpose: 'origin' | 'source', key: IKey): MediaBucketRef {
  const region = Stack.of(scope).region;
  return {
    bucket: Bucket.fromBucketName(scope, `${purpose}Bucket`, naming.mediaBucketName(Aws.ACCOUNT_ID, region, purpose)),
    key,
    nagArn: nagBucketArn(scope, naming.mediaBucketName('<AWS::AccountId>', region, purpose)),
  };
}
