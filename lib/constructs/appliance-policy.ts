import { Stack, Validations } from 'aws-cdk-lib';
import { IRole, Policy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { TITLE_KEY_PREFIX } from '../../lambda/encoding/ladder';
import { manifestPrefix } from '../../lambda/shared/fill-manifest';
import { MediaBucketRef } from './encoding-ladder';

export interface AppliancePolicyProps {
  /** The role appliances act as: an EC2 instance role or the Roles Anywhere role. */
  readonly role: IRole;
  /** The origin bucket of the appliances' region, which they fill from, and its key. */
  readonly origin: MediaBucketRef;
  /** The URL-signing key ring nginx checks tokens with. */
  readonly keyringSecret: ISecret;
  /**
   * The cluster whose manifests the role may read: a cluster id, or an IAM policy variable that
   * names the caller's cluster (such as `${aws:PrincipalTag/x509Subject/OU}` for a certificate).
   */
  readonly clusterId: string;
}

/**
 * What every appliance may do with AWS, and nothing more: read encoded titles and its own cluster's
 * fill manifests from its region's origin, decrypt them through S3 only, and read the URL-signing
 * key ring. Calling the fleet API is granted by the control plane (`grantApplianceAccess`).
 */
export class AppliancePolicy extends Policy {
  constructor(scope: Construct, id: string, props: AppliancePolicyProps) {
    super(scope, id, { roles: [props.role] });
    const region = Stack.of(this).region;
    const { bucket, key, nagArn } = props.origin;
    const prefixes = [`${TITLE_KEY_PREFIX}*`, `${manifestPrefix(props.clusterId)}*`];
    this.addStatements(
      new PolicyStatement({
        sid: 'ReadTitlesAndOwnManifests',
        actions: ['s3:GetObject'],
        resources: prefixes.map((prefix) => bucket.arnForObjects(prefix)),
      }),
      new PolicyStatement({
        sid: 'DecryptOriginThroughS3',
        actions: ['kms:Decrypt'],
        resources: [key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${region}.amazonaws.com` } },
      }),
    );
    props.keyringSecret.grantRead(props.role);
    const reason =
      'Object wildcards are bounded to two prefixes of the origin: titles/* (every encoded title, any of which a plan may place on an appliance) and manifests/<its own cluster>/* (its plans, no other cluster\'s).';
    Validations.of(this).acknowledge(
      ...prefixes.map((prefix) => ({
        // cdk-nag prints an IAM policy variable `${x}` as `<x>`.
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::${nagArn}/${prefix.replace(/\$\{([^}]+)\}/g, '<$1>')}]`,
        reason,
      })),
    );
  }
}
