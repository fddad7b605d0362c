import { CfnOutput } from 'aws-cdk-lib';
import { CfnRole, IRole, PolicyDocument, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { CfnProfile, CfnTrustAnchor } from 'aws-cdk-lib/aws-rolesanywhere';
import { Construct } from 'constructs';
import { RolesAnywhereSettings } from '../config/appliance-settings';

/**
 * The certificate subject field that names an appliance's cluster. A bare-metal node's certificate
 * carries its cluster id here (`OU=isp-a-nyc`), which scopes what the node may read.
 */
export const CLUSTER_CERTIFICATE_TAG = '${aws:PrincipalTag/x509Subject/OU}';

export interface BareMetalTrustProps {
  /** `nearstream-<env>`: names the trust anchor, profile and role. */
  readonly namePrefix: string;
  readonly settings: RolesAnywhereSettings;
}

/**
 * IAM Roles Anywhere for appliances outside AWS: a trust anchor on the CA that issues their
 * certificates, one role that only Roles Anywhere can assume, and only through that anchor with a
 * certificate naming a cluster, and a profile that hands out one-hour sessions of it. The node's
 * `node.json` names the three ARNs; AWS's signing helper does the rest.
 */
export class BareMetalTrust extends Construct {
  readonly role: IRole;
  readonly trustAnchorArn: string;
  readonly profileArn: string;

  constructor(scope: Construct, id: string, props: BareMetalTrustProps) {
    super(scope, id);
    const { certificateBundlePem, acmPcaArn } = props.settings;
    const anchor = new CfnTrustAnchor(this, 'TrustAnchor', {
      name: `${props.namePrefix}-appliances`,
      enabled: true,
      source: certificateBundlePem
        ? { sourceType: 'CERTIFICATE_BUNDLE', sourceData: { x509CertificateData: certificateBundlePem } }
        : { sourceType: 'AWS_ACM_PCA', sourceData: { acmPcaArn } },
    });

    const service = new ServicePrincipal('rolesanywhere.amazonaws.com');
    const role = new Role(this, 'Role', {
      assumedBy: service,
      description: `Bare-metal appliances of ${props.namePrefix}, authenticated by certificate through IAM Roles Anywhere`,
    });
    // Roles Anywhere needs three actions in one statement; the default trust allows any anchor, so
    // replace it: only this anchor, only certificates that name a cluster.
    (role.node.defaultChild as CfnRole).assumeRolePolicyDocument = new PolicyDocument({
      statements: [
        new PolicyStatement({
          principals: [service],
          actions: ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'],
          conditions: {
            ArnEquals: { 'aws:SourceArn': anchor.attrTrustAnchorArn },
            StringLike: { 'aws:PrincipalTag/x509Subject/OU': '?*' },
          },
        }),
      ],
    });
    this.role = role;

    const profile = new CfnProfile(this, 'Profile', {
      name: `${props.namePrefix}-appliances`,
      enabled: true,
      roleArns: [role.roleArn],
      durationSeconds: 3600,
      attributeMappings: [{ certificateField: 'x509Subject', mappingRules: [{ specifier: 'CN' }, { specifier: 'OU' }] }],
    });
    this.trustAnchorArn = anchor.attrTrustAnchorArn;
    this.profileArn = profile.attrProfileArn;

    new CfnOutput(this, 'TrustAnchorArn', { value: this.trustAnchorArn, description: 'rolesAnywhere.trustAnchorArn in a bare-metal node.json' });
    new CfnOutput(this, 'ProfileArn', { value: this.profileArn, description: 'rolesAnywhere.profileArn in a bare-metal node.json' });
    new CfnOutput(this, 'RoleArn', { value: role.roleArn, description: 'rolesAnywhere.roleArn in a bare-metal node.json' });
  }
}
