import { Stack, StackProps } from 'aws-cdk-lib';
import { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { EnvironmentConfig } from '../config/environment';
import { EnvironmentNaming } from '../config/naming';
import { retentionOf } from '../config/retention';
import { EncodingLadder } from '../constructs/encoding-ladder';
import { EncodingWorkflow } from '../constructs/encoding-workflow';
import { KeyProviderApi } from '../constructs/key-provider-api';
import { LogEncryptionKey } from '../constructs/log-encryption-key';
import { importMediaBucket } from '../constructs/media-bucket-ref';

export interface EncodingStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  /** The key of the data stack's upload bucket (the bucket is found by its derived name). */
  readonly sourceKey: IKey;
  /** The key of the data stack's origin bucket. */
  readonly originKey: IKey;
}

/** The cold path, in the primary region: MediaConvert templates and the upload-to-catalog workflow. */
export class EncodingStack extends Stack {
  readonly ladder: EncodingLadder;
  readonly workflow: EncodingWorkflow;
  /** The SPEKE v2 key provider protected titles are encrypted with. */
  readonly keyProvider: KeyProviderApi;

  constructor(scope: Construct, id: string, props: EncodingStackProps) {
    super(scope, id, props);
    const { config } = props;
    const naming = new EnvironmentNaming(config);
    const logRemovalPolicy = retentionOf(config).removalPolicy;
    const logKey = new LogEncryptionKey(this, 'LogKey', { aliasName: `alias/${naming.prefix}/encoding-logs`, removalPolicy: logRemovalPolicy }).key;

    const source = importMediaBucket(this, naming, 'source', props.sourceKey);
    const origin = importMediaBucket(this, naming, 'origin', props.originKey);

    this.ladder = new EncodingLadder(this, 'Ladder', { namePrefix: naming.prefix, source, origin });
    const functionDefaults = { logRetentionDays: config.logRetentionDays, logRemovalPolicy, logEncryptionKey: logKey };
    const controlTable = TableV2.fromTableName(this, 'ControlTable', naming.controlTableName);
    this.keyProvider = new KeyProviderApi(this, 'KeyProvider', {
      prefix: naming.prefix,
      controlTable,
      contentKeyAlias: naming.contentKeyAlias,
      replicaRegion: config.secondaryRegion,
      mediaConvertRole: this.ladder.serviceRole,
      licenseBaseUrl: naming.sharedApiHostname ? `https://${naming.sharedApiHostname}` : undefined,
      functionDefaults,
      logEncryptionKey: logKey,
      logRemovalPolicy,
    });
    this.workflow = new EncodingWorkflow(this, 'Workflow', {
      environmentName: config.name,
      ladder: this.ladder,
      source,
      origin,
      controlTable,
      settings: config.encoding,
      protection: { keyProviderUrl: this.keyProvider.spekeUrl, byDefault: config.contentProtection.byDefault },
      functionDefaults,
    });
  }
}
