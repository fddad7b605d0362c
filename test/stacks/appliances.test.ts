import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { nodeSettingsSchema, renderNodeFiles } from '../../appliance-image/agent/src/node-settings';
import { APPLIANCE_TAGS } from '../../lib/constructs/appliance-fleet';
import { synthEnvironment } from '../support/synth';

const AMIS = { 'us-east-1': 'ami-0123456789abcdef0', 'us-west-2': 'ami-0fedcba9876543210' };
const CA_BUNDLE = '-----BEGIN CERTIFICATE-----\nMIIBtestcertificate\n-----END CERTIFICATE-----\n';
const EDGE_TEMPLATE = fs.readFileSync(path.join(__dirname, '..', '..', 'appliance-image', 'nginx', 'nearstream-edge.conf.template'), 'utf8');

type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown };

/** Every statement of every inline policy attached to the role with this logical id. */
function statementsOf(template: Template, roleId: string): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
}

/** A template value with CloudFormation intrinsics replaced by readable placeholders. */
function flatten(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  const object = value as Record<string, unknown>;
  if ('Fn::Join' in object) {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
    return parts.map(flatten).join(separator);
  }
  // The API id from the control plane stack: an export in the same region, a stack output across regions.
  if ('Fn::ImportValue' in object || 'Fn::GetStackOutput' in object) {
    return 'abc123';
  }
  if ('Ref' in object) {
    return object.Ref === 'AWS::URLSuffix' ? 'amazonaws.com' : object.Ref === 'AWS::AccountId' ? '123456789012' : `ref-${String(object.Ref)}`;
  }
  throw new Error(`unexpected intrinsic ${JSON.stringify(value)}`);
}

describe('appliances stacks', () => {
  it('are not created unless the environment has a fleet or bare-metal trust', () => {
    const dev = synthEnvironment({ name: 'dev' });
    expect(dev.environment.appliances).toEqual([]);
  });

  it('spans two Availability Zones where config says a region has only two', () => {
    const twoZones = synthEnvironment({ name: 'dev', applianceAmis: AMIS, applianceAvailabilityZones: 2 });
    const [group] = Object.values(twoZones.template(twoZones.environment.appliances[0]).findResources('AWS::AutoScaling::AutoScalingGroup'));
    expect(group.Properties.VPCZoneIdentifier).toHaveLength(2);
    expect(group.Properties.AvailabilityZones).toHaveLength(2);
  });

  describe('with an EC2 fleet and Roles Anywhere', () => {
    const dev = synthEnvironment({ name: 'dev', applianceAmis: AMIS, rolesAnywhereCaBundle: CA_BUNDLE });
    const [east, west] = dev.environment.appliances.map((stack) => dev.template(stack));

    it('launches each region from the AMI config names for it, IMDSv2 only, on an encrypted gp3 volume', () => {
      for (const [template, ami] of [[east, AMIS['us-east-1']], [west, AMIS['us-west-2']]] as const) {
        template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
          LaunchTemplateData: Match.objectLike({
            ImageId: ami,
            InstanceType: 'c6in.xlarge',
            MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1 },
            BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeType: 'gp3', VolumeSize: 516, DeleteOnTermination: true } }],
          }),
        });
      }
      // A literal id, not an SSM lookup: a rebuilt image reaches the fleet only through config.
      expect(JSON.stringify(east.toJSON().Resources)).not.toMatch(/AWS::SSM::Parameter::Value|resolve:ssm/);
    });

    it('spreads a fixed-size group over three Availability Zones, tagged for FIS', () => {
      const [group] = Object.values(east.findResources('AWS::AutoScaling::AutoScalingGroup'));
      expect(group.Properties).toMatchObject({ MinSize: '2', MaxSize: '2', HealthCheckType: 'EC2' });
      expect(group.Properties.VPCZoneIdentifier).toHaveLength(3);
      expect(group.Properties.AvailabilityZones).toEqual([0, 1, 2].map((index) => ({ 'Fn::Select': [index, { 'Fn::GetAZs': '' }] })));
      expect(group.UpdatePolicy.AutoScalingRollingUpdate).toMatchObject({ MaxBatchSize: 1, MinInstancesInService: 1 });
      const tags = Object.fromEntries((group.Properties.Tags as { Key: string; Value: string; PropagateAtLaunch: boolean }[]).map((tag) => [tag.Key, tag]));
      expect(tags[APPLIANCE_TAGS.chaos]).toEqual({ Key: 'nearstream:chaos', Value: 'opt-in', PropagateAtLaunch: true });
      expect(tags[APPLIANCE_TAGS.cluster]).toEqual({ Key: 'nearstream:cluster', Value: 'ec2-us-east-1', PropagateAtLaunch: true });
      expect(tags[APPLIANCE_TAGS.environment].Value).toBe('dev');
      expect(tags[APPLIANCE_TAGS.role].Value).toBe('appliance');
    });

    it('opens only the serving port to the internet and lets out only HTTPS, and HTTP for apt', () => {
      const groups = Object.values(east.findResources('AWS::EC2::SecurityGroup'));
      expect(groups).toHaveLength(1);
      expect(groups[0].Properties.SecurityGroupIngress).toEqual([
        { CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 80, ToPort: 80, Description: 'players fetch segments' },
      ]);
      expect(groups[0].Properties.SecurityGroupEgress).toEqual([
        expect.objectContaining({ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443 }),
        expect.objectContaining({ CidrIp: '0.0.0.0/0', FromPort: 80, ToPort: 80, Description: 'Debian security updates (apt)' }),
      ]);
      expect(east.findResources('AWS::EC2::SecurityGroupIngress')).toEqual({});
    });

    it('lets the instance role read titles and its own cluster\'s manifests, decrypt through S3, read the key ring and call the fleet routes, nothing else', () => {
      const [roleId] = Object.keys(east.findResources('AWS::IAM::Role', { Properties: { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'ec2.amazonaws.com' } })] } } }));
      const statements = statementsOf(east, roleId);
      const byAction = (action: string) => statements.filter((statement) => [statement.Action].flat().includes(action));

      expect(statements.flatMap((statement) => [statement.Action].flat()).sort()).toEqual([
        'execute-api:Invoke',
        'kms:Decrypt',
        's3:GetObject',
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
      ]);
      expect((byAction('s3:GetObject')[0].Resource as unknown[]).map(flatten).sort()).toEqual([
        'arn:aws:s3:::nearstream-dev-123456789012-us-east-1-origin/manifests/ec2-us-east-1/*',
        'arn:aws:s3:::nearstream-dev-123456789012-us-east-1-origin/titles/*',
      ]);
      expect(byAction('kms:Decrypt')[0].Condition).toEqual({ StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } });
      expect(flatten(byAction('secretsmanager:GetSecretValue')[0].Resource)).toBe(
        'arn:aws:secretsmanager:us-east-1:123456789012:secret:nearstream/dev/url-signing-key-??????',
      );
      expect((byAction('execute-api:Invoke')[0].Resource as unknown[]).map(flatten).map((arn) => arn.replace(/^.*\$default/, '')).sort()).toEqual([
        '/GET/fleet/manifest',
        '/POST/fleet/register',
        '/POST/fleet/report',
      ]);
      const [role] = Object.values(east.findResources('AWS::IAM::Role', { Properties: { Description: Match.stringLikeRegexp('fill from the origin') } }));
      expect(JSON.stringify(role.Properties.ManagedPolicyArns)).toContain('AmazonSSMManagedInstanceCore');
    });

    it('reads the secondary region\'s own origin replica, not the primary', () => {
      const [roleId] = Object.keys(west.findResources('AWS::IAM::Role', { Properties: { Description: Match.stringLikeRegexp('fill from the origin') } }));
      const read = statementsOf(west, roleId).find((statement) => statement.Action === 's3:GetObject')!;
      expect((read.Resource as unknown[]).map(flatten)).toContain('arn:aws:s3:::nearstream-dev-123456789012-us-west-2-origin/manifests/ec2-us-west-2/*');
    });

    it('trusts bare-metal nodes only through its trust anchor, with a certificate that names a cluster, scoped to that cluster\'s manifests', () => {
      east.hasResourceProperties('AWS::RolesAnywhere::TrustAnchor', {
        Enabled: true,
        Source: { SourceType: 'CERTIFICATE_BUNDLE', SourceData: { X509CertificateData: CA_BUNDLE } },
      });
      const [anchorId] = Object.keys(east.findResources('AWS::RolesAnywhere::TrustAnchor'));
      const [roleId, role] = Object.entries(east.findResources('AWS::IAM::Role', { Properties: { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'rolesanywhere.amazonaws.com' } })] } } }))[0];
      expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
        {
          Effect: 'Allow',
          Principal: { Service: 'rolesanywhere.amazonaws.com' },
          Action: ['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession'],
          Condition: {
            ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [anchorId, 'TrustAnchorArn'] } },
            StringLike: { 'aws:PrincipalTag/x509Subject/OU': '?*' },
          },
        },
      ]);
      east.hasResourceProperties('AWS::RolesAnywhere::Profile', {
        RoleArns: [{ 'Fn::GetAtt': [roleId, 'Arn'] }],
        DurationSeconds: 3600,
        AttributeMappings: [{ CertificateField: 'x509Subject', MappingRules: [{ Specifier: 'CN' }, { Specifier: 'OU' }] }],
      });
      const read = statementsOf(east, roleId).find((statement) => statement.Action === 's3:GetObject')!;
      expect((read.Resource as unknown[]).map(flatten)).toContain(
        'arn:aws:s3:::nearstream-dev-123456789012-us-east-1-origin/manifests/${aws:PrincipalTag/x509Subject/OU}/*',
      );
    });

    it('renders user data that cloud-init turns into node settings the appliance accepts', () => {
      const [template] = Object.values(east.findResources('AWS::EC2::LaunchTemplate'));
      const userData = flatten(template.Properties.LaunchTemplateData.UserData['Fn::Base64']);
      const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-userdata-'));
      fs.writeFileSync(path.join(scratch, 'user-data'), userData);
      fs.writeFileSync(
        path.join(scratch, 'instance-data.json'),
        JSON.stringify({ v1: { instance_id: 'i-0abc123def4567890', region: 'us-east-1' }, ds: { meta_data: { public_ipv4: '203.0.113.7' } } }),
      );

      // cloud-init itself renders the Jinja template and checks the cloud-config schema.
      const rendered = spawnSync('cloud-init', ['devel', 'render', 'user-data', '--instance-data', 'instance-data.json'], { cwd: scratch, encoding: 'utf8' });
      expect(rendered.stderr).not.toMatch(/CI_MISSING_JINJA_VAR|Traceback/);
      expect(rendered.status).toBe(0);
      fs.writeFileSync(path.join(scratch, 'cloud-config.yaml'), rendered.stdout);
      const schema = spawnSync('cloud-init', ['schema', '--config-file', 'cloud-config.yaml'], { cwd: scratch, encoding: 'utf8' });
      expect(schema.stdout + schema.stderr).toMatch(/Valid cloud-config/);

      const content = rendered.stdout.split('    content: |\n')[1].split('\n').map((line) => line.slice(6)).join('\n');
      const settings = nodeSettingsSchema.parse(JSON.parse(content));
      expect(settings).toMatchObject({
        applianceId: 'i-0abc123def4567890',
        clusterId: 'ec2-us-east-1',
        region: 'us-east-1',
        baseUrl: 'http://203.0.113.7',
        controlPlaneUrl: 'https://abc123.execute-api.us-east-1.amazonaws.com/',
        originBucket: 'nearstream-dev-123456789012-us-east-1-origin',
        keyringSecretId: 'nearstream/dev/url-signing-key',
        prefixes: ['0.0.0.0/0', '::/0'],
        listen: '0.0.0.0:80',
      });
      expect(settings.diskCeilingBytes).toBeLessThan(settings.capacity.diskBytes);
      // The node's own configure step renders every file from them.
      const files = renderNodeFiles(settings, EDGE_TEMPLATE, '/usr/bin/node');
      expect(Object.keys(files)).toEqual(expect.arrayContaining(['/etc/nearstream/agent.json', '/etc/nginx/conf.d/nearstream-edge.conf']));
      fs.rmSync(scratch, { recursive: true, force: true });
    });
  });
});
