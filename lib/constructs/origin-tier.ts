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
import { OriginSigningKeySettings } from '../config/environment';
import { AccessLogBucket } from './access-log-bucket';
import { NearstreamFunction } from './nearstream-function';
import { OriginRenditionGuard } from './origin-rendition-guard';
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
   * Which key pair generations the distribution trusts and which one signs. Rotate in three
   * deploys: trust the new generation, make it active, retire the old one once the URLs it signed
   * have expired.
   * @default - generation 1, trusted and active
   */
  readonly signingKeys?: OriginSigningKeySettings;
}

/**
 * The last-resort source of every title: the origin bucket behind CloudFront with origin access
 * control, reachable only with CloudFront signed URLs or cookies from this tier's own key pair.
 * The bucket is versioned, encrypted, TLS-only and private; the distribution and the bucket log
 * to a separate log bucket.
 *
 * The signing key pair rotates by generation. Each trusted generation has its own key pair resource
 * (private key kept in the key store) and its own CloudFront public key in the key group; the
 * signing secret, which replicates to the secondary region, holds only the active generation's key
 * pair id and private key, written after the key group and the distribution trust it.
 */
export class OriginTier extends Construct {
  readonly bucket: Bucket;
  /** The customer managed key of the origin bucket; readers need kms:Decrypt on it. */
  readonly encryptionKey: IKey;
  readonly logBucket: AccessLogBucket;
  readonly distribution: Distribution;
  /** The active generation's key pair id and private key, which the play functions sign with. */
  readonly signingSecret: Secret;
  /** Every trusted generation's private key, one labelled version each; only the key resources read it. */
  readonly keyStore: Secret;
  /** The CloudFront public key of each trusted generation. */
  readonly publicKeys: ReadonlyMap<number, PublicKey>;

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

    const signingKeys = props.signingKeys ?? { trustedGenerations: [1], activeGeneration: 1 };
    if (!signingKeys.trustedGenerations.includes(signingKeys.activeGeneration)) {
      throw new Error(
        `signingKeys.activeGeneration ${signingKeys.activeGeneration} must be one of trustedGenerations (${signingKeys.trustedGenerations.join(', ')})`,
      );
    }
    const rotation =
      'The key pair rotates by generation (trust, activate, retire), which also changes the CloudFront key group; a Secrets Manager rotation Lambda could not update CloudFront.';
    this.signingSecret = new Secret(this, 'SigningSecret', {
      secretName: props.signingSecretName,
      description: `Key pair id and private key of the active CloudFront key that signs ${props.namePrefix} origin-tier URLs; written by the signing-key resource`,
      replicaRegions: [{ region: props.secondaryRegion }],
      removalPolicy: props.removalPolicy,
    });
    Validations.of(this.signingSecret).acknowledge({ id: 'AwsSolutions::AwsSolutions-SMG4', reason: rotation });
    // No fixed name: nothing outside this construct looks it up, and a deploy retried after a
    // rollback that retained a new store must not collide with it.
    this.keyStore = new Secret(this, 'KeyStore', {
      description: `Private keys of the trusted ${props.namePrefix} CloudFront signing generations, one version labelled generation-<n> each; read only by the key resources`,
      removalPolicy: props.removalPolicy,
    });
    Validations.of(this.keyStore).acknowledge({ id: 'AwsSolutions::AwsSolutions-SMG4', reason: rotation });

    const keyFunction = new NearstreamFunction(this, 'KeyPairFunction', {
      entry: path.join(__dirname, '..', '..', 'lambda', 'origin-key', 'handler.ts'),
      description: 'Custom::CloudFrontKeyPair, TrustCheck and SigningKey: the origin signing key generations',
      serviceName: 'origin-key',
      logRetentionDays: props.logRetentionDays,
      logRemovalPolicy: props.removalPolicy,
      logEncryptionKey: props.logEncryptionKey,
      timeout: Duration.minutes(1),
    });
    for (const secret of [this.signingSecret, this.keyStore]) {
      secret.grantRead(keyFunction.role);
      secret.grantWrite(keyFunction.role);
    }
    const keyResource = (id: string, resourceType: string, properties: Record<string, unknown>) =>
      new CustomResource(this, id, { serviceToken: keyFunction.function.functionArn, resourceType, properties });

    this.publicKeys = new Map(
      signingKeys.trustedGenerations.map((generation) => {
        // Generation 1 keeps the construct ids it was first deployed with, so an environment created
        // before generations existed keeps its key pair and public key.
        const suffix = generation === 1 ? '' : `Gen${generation}`;
        const keyPair = keyResource(`KeyPair${suffix}`, 'Custom::CloudFrontKeyPair', {
          KeyStoreId: this.keyStore.secretArn,
          Generation: String(generation),
        });
        const publicKey = new PublicKey(this, `PublicKey${suffix}`, {
          encodedKey: keyPair.getAttString('PublicKeyPem'),
          comment: `${props.namePrefix} origin tier, generation ${generation}`,
        });
        return [generation, publicKey];
      }),
    );
    const trusted = [...this.publicKeys.values()];
    const trustCheck = keyResource('TrustCheck', 'Custom::CloudFrontTrustCheck', {
      SigningSecretId: this.signingSecret.secretArn,
      TrustedKeyPairIds: trusted.map((publicKey) => publicKey.publicKeyId),
    });
    const keyGroup = new KeyGroup(this, 'KeyGroup', { items: trusted });
    keyGroup.node.addDependency(trustCheck);

    const renditionGuard = new OriginRenditionGuard(this, 'RenditionGuard', { namePrefix: props.namePrefix });
    this.distribution = new Distribution(this, 'Distribution', {
      comment: `${props.namePrefix} origin tier`,
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
        cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: ResponseHeadersPolicy.CORS_ALLOW_ALL_ORIGINS,
        trustedKeyGroups: [keyGroup],
        functionAssociations: [renditionGuard.association()],
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

    const signingKey = keyResource('SigningKey', 'Custom::CloudFrontSigningKey', {
      KeyStoreId: this.keyStore.secretArn,
      SigningSecretId: this.signingSecret.secretArn,
      Generation: String(signingKeys.activeGeneration),
      KeyPairId: this.publicKeys.get(signingKeys.activeGeneration)!.publicKeyId,
    });
    signingKey.node.addDependency(keyGroup, this.distribution);
  }
}

