import { Validations } from 'aws-cdk-lib';
import { IpAddresses, Peer, Port, SecurityGroup, SubnetType, Vpc } from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

/**
 * Where Image Builder runs the appliance's build and test instances: one public subnet (the
 * instances fetch Debian packages, Node.js and talk to SSM; no NAT gateway to pay for) and a
 * security group with nothing in and only web ports out. Without it Image Builder needs the
 * account's default VPC, which many organisations delete.
 */
export class ImageBuildNetwork extends Construct {
  readonly subnetId: string;
  readonly securityGroupId: string;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const vpc = new Vpc(this, 'Vpc', {
      ipAddresses: IpAddresses.cidr('10.81.0.0/24'),
      maxAzs: 1,
      natGateways: 0,
      subnetConfiguration: [{ name: 'Build', subnetType: SubnetType.PUBLIC, cidrMask: 26, mapPublicIpOnLaunch: true }],
    });
    const group = new SecurityGroup(this, 'BuildGroup', {
      vpc,
      description: 'Appliance image build and test instances: nothing in; HTTPS and HTTP out',
      allowAllOutbound: false,
    });
    group.addEgressRule(Peer.anyIpv4(), Port.tcp(443), 'SSM, S3, nodejs.org');
    group.addEgressRule(Peer.anyIpv4(), Port.tcp(80), 'Debian mirrors (apt verifies signed indexes)');
    this.subnetId = vpc.publicSubnets[0].subnetId;
    this.securityGroupId = group.securityGroupId;

    const buildOnly = 'Holds only Image Builder build and test instances, which live for the length of a build and are logged by Image Builder; nothing serves from this network.';
    Validations.of(vpc).acknowledge(
      { id: 'AwsSolutions::AwsSolutions-VPC7', reason: buildOnly },
      { id: 'cdk-validator-cfnguard::subnet_auto_assign_public_ip_disabled_check', reason: `${buildOnly} A public address is how a build instance reaches SSM and the mirrors without a NAT gateway.` },
    );
  }
}
