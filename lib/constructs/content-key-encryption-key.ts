import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { restrictGrantsToAwsServices } from './key-policies';

export interface ContentKeyEncryptionKeyProps {
  /** `alias/<prefix>/content-keys`: the same in both regions, so functions name their region's key by it. */
  readonly aliasName: string;
  /** Follows the environment kind. Losing the key makes every protected title unplayable: production keeps it. */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * One region's KMS key for content keys: the key provider seals each title's keys under a data
 * key it wraps with this key in both regions (`RegionalKmsKeyWrapper`), and that region's licenses
 * open them with it, so either region serves licenses from its own replica of the table alone. A
 * stateful resource: it lives in the region's stateful stack (data, origin replica).
 */
export class ContentKeyEncryptionKey extends Construct {
  readonly key: Key;

  constructor(scope: Construct, id: string, props: ContentKeyEncryptionKeyProps) {
    super(scope, id);
    this.key = new Key(this, 'Key', {
      alias: props.aliasName,
      description: 'Wraps the data keys that seal Nearstream content keys in this region',
      enableKeyRotation: true,
      pendingWindow: Duration.days(30),
      removalPolicy: props.removalPolicy,
    });
    restrictGrantsToAwsServices(this.key);
  }
}
