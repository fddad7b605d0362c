import { Aws, CfnOutput, CfnResource, Stack, StackProps, Tags, Validations } from 'aws-cdk-lib';
import { AttributeType, Billing, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { CONTROL_TABLE_SCHEMA } from '../../lambda/shared/control-table';
import { nagBucketArn } from '../compliance';
import { EnvironmentConfig, ViewerAuthSettings } from '../config/environment';
import { ENVIRONMENT_TAGS } from '../config/lifetime';
import { EnvironmentNaming } from '../config/naming';
import { ContentKeyEncryptionKey } from '../constructs/content-key-encryption-key';
import { retentionOf } from '../config/retention';
import { LogEncryptionKey } from '../constructs/log-encryption-key';
import { OriginTier } from '../constructs/origin-tier';
import { SecureBucket } from '../constructs/secure-bucket';
import { ViewerIdentity } from '../constructs/viewer-identity';

export interface DataStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  /**
   * The secondary region's origin replica, which the origin bucket replicates to: its key's ARN
   * (the bucket's name derives from the environment).
   */
  readonly originReplicaKeyArn: string;
}

/** What the control planes of both regions need from the data stack at deploy time. */
export interface SharedDataOutputs {
  /** Who signs viewers' JWTs: the platform's Cognito pool, or the configured OIDC issuer. */
  readonly viewerAuth: ViewerAuthSettings;
  /**
   * The origin tier's CloudFront domain. The key pair id is not here: it changes when the key
   * rotates, so the play functions read it from the signing secret with the private key.
   */
  readonly origin: { readonly domainName: string };
}

/**
 * Everything stateful, in the primary region, replicated to the secondary: the control plane's
 * global table, the URL-signing secret, the viewer user pool, and the origin bucket with its
 * CloudFront tier and signing key. Production and staging retain and protect them; an ephemeral
 * environment destroys them with the stack.
 *
 * Logical ids here are pinned (and a test holds them): renaming a construct must never make
 * CloudFormation replace a production table or secret.
 */
export class DataStack extends Stack {
  readonly controlTable: TableV2;
  readonly urlSigningSecret: Secret;
  readonly originTier: OriginTier;
  /** Where titles are uploaded for encoding. */
  readonly sourceBucket: SecureBucket;
  readonly viewerIdentity?: ViewerIdentity;
  readonly shared: SharedDataOutputs;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { config } = props;
    const naming = new EnvironmentNaming(config);
    const { removalPolicy, protect: keep } = retentionOf(config);

    // Content keys' KMS key in this region (the other stateful stack holds the other region's).
    new ContentKeyEncryptionKey(this, 'ContentKeys', { aliasName: naming.contentKeyAlias, removalPolicy });

    this.controlTable = new TableV2(this, 'ControlTable', {
      tableName: naming.controlTableName,
      partitionKey: { name: CONTROL_TABLE_SCHEMA.partitionKey, type: AttributeType.STRING },
      sortKey: { name: CONTROL_TABLE_SCHEMA.sortKey, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      encryption: TableEncryptionV2.awsManagedKey(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: CONTROL_TABLE_SCHEMA.timeToLiveAttribute,
      deletionProtection: keep,
      removalPolicy,
      replicas: [{ region: config.secondaryRegion }],
      globalSecondaryIndexes: [
        {
          indexName: CONTROL_TABLE_SCHEMA.index.name,
          partitionKey: { name: CONTROL_TABLE_SCHEMA.index.partitionKey, type: AttributeType.STRING },
          sortKey: { name: CONTROL_TABLE_SCHEMA.index.sortKey, type: AttributeType.STRING },
        },
      ],
    });
    pinLogicalId(this.controlTable, 'ControlTable');

    this.urlSigningSecret = new Secret(this, 'UrlSigningSecret', {
      secretName: naming.urlSigningSecretName,
      description: `Keys that sign segment-URL tokens for ${naming.prefix}; read by the control plane and appliances`,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ activeKeyId: 'k1' }),
        generateStringKey: 'k1',
        passwordLength: 64,
        excludePunctuation: true,
      },
      replicaRegions: [{ region: config.secondaryRegion }],
      removalPolicy,
    });
    pinLogicalId(this.urlSigningSecret, 'UrlSigningSecret');
    Validations.of(this.urlSigningSecret).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SMG4',
      reason: 'Signing keys rotate through key ids in the token format (old and new key valid together), not through a Secrets Manager rotation Lambda that would invalidate live tokens.',
    });

    const logKey = new LogEncryptionKey(this, 'LogKey', { aliasName: `alias/${naming.prefix}/data-logs`, removalPolicy }).key;
    this.originTier = new OriginTier(this, 'OriginTier', {
      namePrefix: naming.prefix,
      signingSecretName: naming.originSigningSecretName,
      secondaryRegion: config.secondaryRegion,
      signingKeys: config.originSigningKeys,
      removalPolicy,
      logRetentionDays: config.logRetentionDays,
      logEncryptionKey: logKey,
      bucketName: naming.mediaBucketName(Aws.ACCOUNT_ID, config.primaryRegion, 'origin'),
      replicateTo: {
        destination: Bucket.fromBucketAttributes(this, 'OriginReplicaBucket', {
          bucketName: naming.mediaBucketName(Aws.ACCOUNT_ID, config.secondaryRegion, 'origin'),
          region: config.secondaryRegion,
        }),
        kmsKey: Key.fromKeyArn(this, 'OriginReplicaKey', props.originReplicaKeyArn),
        sseKmsEncryptedObjects: true,
        priority: 1,
        deleteMarkerReplication: true,
      },
    });
    pinLogicalId(this.originTier.bucket, 'OriginBucket');
    const replicationRole = this.originTier.bucket.node.findChild('ReplicationRole');
    const replicationReason =
      'S3 replication copies every object version of the origin to its replica; object-level actions on bucket/* and the S3-defined KMS data-key actions are what replication requires.';
    Validations.of(replicationRole).acknowledge(
      ...[
        'Action::kms:GenerateDataKey*',
        'Action::kms:ReEncrypt*',
        'Resource::<OriginBucket.Arn>/*',
        `Resource::${nagBucketArn(this, naming.mediaBucketName('<AWS::AccountId>', config.secondaryRegion, 'origin'))}/*`,
      ].map((finding) => ({ id: `AwsSolutions::AwsSolutions-IAM5[${finding}]`, reason: replicationReason })),
    );

    this.sourceBucket = new SecureBucket(this, 'Source', {
      bucketName: naming.mediaBucketName(Aws.ACCOUNT_ID, config.primaryRegion, 'source'),
      purpose: `${naming.prefix}'s uploads awaiting encoding`,
      accessLogs: this.originTier.logBucket,
      accessLogsPrefix: 'source-bucket/',
      removalPolicy,
      noncurrentVersionDays: 7,
      objectLockExemption: 'Uploads are masters awaiting encoding; they are replaced and deleted as titles are re-delivered. Versioning keeps replaced uploads for 7 days.',
    });
    pinLogicalId(this.sourceBucket.bucket, 'SourceBucket');
    pinLogicalId(this.originTier.signingSecret, 'OriginSigningSecret');
    pinLogicalId(this.originTier.keyStore, 'OriginKeyStore');
    const firstPublicKey = this.originTier.publicKeys.get(1);
    if (firstPublicKey) {
      // Control planes deployed before the play functions read the key pair id from the signing
      // secret import generation 1's id from this stack; CloudFormation refuses to delete an export
      // still imported, and the data stack deploys before them. Keeping the export while generation
      // 1 is trusted lets them move off it; retiring generation 1 removes it.
      this.exportValue(firstPublicKey.publicKeyId);
    }

    let viewerAuth = config.viewerAuth;
    if (!viewerAuth) {
      this.viewerIdentity = new ViewerIdentity(this, 'ViewerIdentity', {
        userPoolName: `${naming.prefix}-viewers`,
        removalPolicy,
        deletionProtection: keep,
        email: config.viewerEmail,
      });
      // CloudFormation does not copy stack tags onto user pools; the smoke test's role is scoped to
      // its environment's pool by this tag.
      Tags.of(this.viewerIdentity.userPool).add(ENVIRONMENT_TAGS.environment, config.name);
      pinLogicalId(this.viewerIdentity.userPool, 'ViewerUserPool');
      viewerAuth = { issuerUrl: this.viewerIdentity.issuerUrl, audiences: [this.viewerIdentity.playerClient.userPoolClientId] };
      new CfnOutput(this, 'ViewerUserPoolId', { value: this.viewerIdentity.userPool.userPoolId });
      new CfnOutput(this, 'PlayerClientId', { value: this.viewerIdentity.playerClient.userPoolClientId });
    }
    this.shared = {
      viewerAuth,
      origin: { domainName: this.originTier.distribution.distributionDomainName },
    };
    new CfnOutput(this, 'ControlTableName', { value: naming.controlTableName, description: 'The control table (a global table, replicated to the secondary region)' });
    new CfnOutput(this, 'OriginBucketName', { value: this.originTier.bucket.bucketName });
    new CfnOutput(this, 'SourceBucketName', { value: this.sourceBucket.bucket.bucketName, description: 'Upload titles here to encode them' });
    new CfnOutput(this, 'OriginDomainName', { value: this.originTier.distribution.distributionDomainName });
  }
}

function pinLogicalId(construct: Construct, logicalId: string): void {
  (construct.node.defaultChild as CfnResource).overrideLogicalId(logicalId);
}
