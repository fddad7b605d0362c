import * as path from 'node:path';
import { CustomResource, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  HttpVersion,
  KeyGroup,
  PriceClass,
  PublicKey,
  ResponseHeadersPolicy,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { Bucket, ReplicationRule } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { AccessLogBucket } from './access-log-bucket';
import { NearstreamFunction } from './nearstream-function';
import { SecureBucket } from './secure-bucket';

export interface OriginTierProps {
  /** Prefix of the tier's physical names, `nearstream-<env>`. */
  readonly namePrefix: string;
  /** Name of the secret holding CloudFront's private signing key. */
  readonly signingSecretName: string;
  /** The signing secret replicates here so both regions' play functions can sign. */
  readonly secondaryRegion: string;
  /** Follows the environment kind for buckets and the secret. */
  readonly removalPolicy: RemovalPolicy;
  readonly logRetentionDays: number;
  readonly logEncryptionKey: IKey;
  /** The origin bucket's name, derived from the environment so other stacks can name it. */
  readonly bucketName: string;
  /**
   * Where the origin bucket replicates to, so the secondary region's appliances fill locally.
   * @default - no replication
   */
  readonly replicateTo?: ReplicationRule;
  /**
   * Bump to rotate the signing key pair. Signed URLs already handed out stop working when the
   * old public key leaves the key group.
   * @default 1
   */
  readonly keyGeneration?: number;
}

/**
 * The last-resort source of every title: the origin bucket behind CloudFront with origin access
 * control, reachable only with CloudFront signed URLs or cookies from this tier's own key pair.
 * The bucket is versioned, encrypted, TLS-only and private; the distribution and the bucket log
 * to a separate log bucket.
 */
export class OriginTier extends Construct {
  readonly bucket: Bucket;
  /** The customer managed key of the origin bucket; readers need kms:Decrypt on it. */
  readonly encryptionKey: IKey;
  readonly logBucket: AccessLogBucket;
  readonly distribution: Distribution;
  readonly signingSecret: Secret;
  readonly publicKey: PublicKey;

  constructor(scope: Construct, id: string, props: OriginTierProps) {
    super(scope, id);

    this.logBucket = new AccessLogBucket(this, 'LogBucket', { removalPolicy: props.removalPolicy });
    const origin = new SecureBucket(this, 'Origin', {
      bucketName: props.bucketName,
      purpose: `${props.namePrefix}'s origin bucket: encoded titles and fill manifests`,
      accessLogs: this.logBucket,
      accessLogsPrefix: 'origin-bucket/',
      removalPolicy: props.removalPolicy,
      objectLockExemption:
        'Encoded titles are rewritten on re-encode and deleted when a licence ends; Object Lock would forbid both. Versioning keeps overwritten objects for 30 days.',
      replicationRules: props.replicateTo ? [props.replicateTo] : undefined,
    });
    this.bucket = origin.bucket;
    this.encryptionKey = origin.key;
    Validations.of(origin).acknowledge({
      id: 'Annotation::@aws-cdk/aws-cloudfront-origins:wildcardKeyPolicyForOac',
      reason: 'The origin key lets CloudFront decrypt for distributions of this account only; naming the one distribution would make key, bucket and distribution a CloudFormation cycle.',
    });

    this.signingSecret = new Secret(this, 'SigningSecret', {
      secretName: props.signingSecretName,
      description: `CloudFront private key that signs ${props.namePrefix} origin-tier URLs; written by the key-pair resource`,
      replicaRegions: [{ region: props.secondaryRegion }],
      removalPolicy: props.removalPolicy,
    });
    Validations.of(this.signingSecret).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SMG4',
      reason: 'The pair rotates by bumping keyGeneration, which also swaps the public key in the key group; a rotation Lambda could not update CloudFront.',
    });

    const keyPairFunction = new NearstreamFunction(this, 'KeyPairFunction', {
      entry: path.join(__dirname, '..', '..', 'lambda', 'origin-key', 'handler.ts'),
      description: 'Custom::CloudFrontKeyPair: generates the origin signing key pair into its secret',
      serviceName: 'origin-key',
      logRetentionDays: props.logRetentionDays,
      logRemovalPolicy: props.removalPolicy,
      logEncryptionKey: props.logEncryptionKey,
      timeout: Duration.minutes(1),
    });
    this.signingSecret.grantWrite(keyPairFunction.role);
    this.signingSecret.grantRead(keyPairFunction.role);
    const keyPair = new CustomResource(this, 'KeyPair', {
      serviceToken: keyPairFunction.function.functionArn,
      resourceType: 'Custom::CloudFrontKeyPair',
      properties: { SecretId: this.signingSecret.secretArn, Generation: String(props.keyGeneration ?? 1) },
    });
    this.publicKey = new PublicKey(this, 'PublicKey', {
      encodedKey: keyPair.getAttString('PublicKeyPem'),
      comment: `${props.namePrefix} origin tier, generation ${props.keyGeneration ?? 1}`,
    });
    const keyGroup = new KeyGroup(this, 'KeyGroup', { items: [this.publicKey] });

    this.distribution = new Distribution(this, 'Distribution', {
      comment: `${props.namePrefix} origin tier`,
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
        cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: ResponseHeadersPolicy.CORS_ALLOW_ALL_ORIGINS,
        trustedKeyGroups: [keyGroup],
      },
      httpVersion: HttpVersion.HTTP2_AND_3,
      priceClass: PriceClass.PRICE_CLASS_ALL,
      enableLogging: true,
      logBucket: this.logBucket,
      logFilePrefix: 'cloudfront/',
    });
    Validations.of(this.distribution).acknowledge(
      {
        id: 'AwsSolutions::AwsSolutions-CFR1',
        reason: 'Licensing windows are enforced per title by the control plane before it signs; a geo block here would also refuse paying travellers.',
      },
      {
        id: 'AwsSolutions::AwsSolutions-CFR2',
        reason: 'Every request must carry a CloudFront signature from this tier\'s key; WAF would add per-request cost without adding an access check.',
      },
    );
    const defaultCertificate =
      'The tier serves on its *.cloudfront.net name with CloudFront\'s default certificate, which fixes the TLS policy and SNI; players reach it only through signed URLs the control plane hands out.';
    Validations.of(this.distribution).acknowledge(
      { id: 'AwsSolutions::AwsSolutions-CFR4', reason: defaultCertificate },
      { id: 'cdk-validator-cfnguard::cloudfront_custom_ssl_certificate_check', reason: defaultCertificate },
      { id: 'cdk-validator-cfnguard::cloudfront_sni_enabled_check', reason: defaultCertificate },
      { id: 'cdk-validator-cfnguard::cloudfront_security_policy_check', reason: defaultCertificate },
      {
        id: 'cdk-validator-cfnguard::cloudfront_default_root_object_configured_check',
        reason: 'The origin holds title directories only; there is no root document, and every path needs a signature anyway.',
      },
      {
        id: 'cdk-validator-cfnguard::cloudfront_origin_failover_enabled_check',
        reason: 'The origin bucket is replicated to the secondary region, but failing over to that replica needs a second OAC-signed origin whose key policy admits this distribution; until that is built a single origin serves.',
      },
    );
  }
}

