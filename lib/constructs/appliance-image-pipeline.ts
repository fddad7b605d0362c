import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Stack, Token, Validations } from 'aws-cdk-lib';
import { CfnInstanceProfile, ManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { CfnComponent, CfnDistributionConfiguration, CfnImagePipeline, CfnImageRecipe, CfnInfrastructureConfiguration, CfnLifecyclePolicy } from 'aws-cdk-lib/aws-imagebuilder';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { buildApplianceBundle, packApplianceBundle } from '../../appliance-image/build';

export interface ApplianceImagePipelineProps {
  /** Prefix of every physical name, e.g. `nearstream-prod`. */
  readonly namePrefix: string;
  /** Regions the AMI is copied to; the first is the build region. */
  readonly regions: readonly string[];
  /** The SSM parameter each region's AMI id is published to. */
  readonly amiParameterName: string;
  /**
   * The base image: Debian 12 from Debian's public SSM parameter, resolved at every build.
   * @default 'ssm:/aws/service/debian/release/bookworm/latest/amd64'
   */
  readonly parentImage?: string;
  /** @default ['c7i.large'] */
  readonly instanceTypes?: readonly string[];
  /**
   * The official Node.js release installed for the agent (nodejs.org, checked against its SHASUMS256).
   * @default '20.20.2'
   */
  readonly nodeVersion?: string;
  /**
   * When the pipeline checks for a new base image (or a new recipe) and builds if there is one.
   * @default 'cron(0 3 * * ? *)' (daily)
   */
  readonly schedule?: string;
  /** @default 5 */
  readonly imagesKept?: number;
}

/** The Image Builder component document: build (install), validate, and test phases. */
export function applianceComponentDocument(bundle: { bucket: string; key: string }, nodeVersion: string): string {
  const bash = (name: string, commands: string[]) => ({ name, action: 'ExecuteBash', inputs: { commands } });
  return JSON.stringify(
    {
      name: 'nearstream-appliance',
      description: 'Installs the Nearstream appliance (agent, nginx edge with njs, units) with its own idempotent install.sh.',
      schemaVersion: 1.0,
      phases: [
        {
          name: 'build',
          steps: [
            { name: 'DownloadBundle', action: 'S3Download', inputs: [{ source: `s3://${bundle.bucket}/${bundle.key}`, destination: '/tmp/nearstream-appliance.tar.gz' }] },
            bash('Install', [
              'set -euo pipefail',
              'case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) echo "unsupported architecture $(uname -m)"; exit 1 ;; esac',
              `release="node-v${nodeVersion}-linux-$arch.tar.xz"`,
              'cd /tmp',
              `curl -fsSLO "https://nodejs.org/dist/v${nodeVersion}/$release"`,
              `curl -fsSLO "https://nodejs.org/dist/v${nodeVersion}/SHASUMS256.txt"`,
              'sha256="$(awk -v f="$release" \'$2 == f { print $1 }\' SHASUMS256.txt)"',
              'test -n "$sha256"',
              'tar -xzf /tmp/nearstream-appliance.tar.gz -C /tmp',
              '/tmp/nearstream-appliance/install.sh --node-tarball "/tmp/$release" --node-sha256 "$sha256"',
              'rm -rf /tmp/nearstream-appliance /tmp/nearstream-appliance.tar.gz "/tmp/$release" /tmp/SHASUMS256.txt',
            ]),
          ],
        },
        {
          name: 'validate',
          steps: [
            bash('NginxAccepts', ['nginx -t']),
            bash('UnitsEnabled', ['systemctl is-enabled nearstream-configure.service nginx.service']),
            bash('AgentRuns', ['/opt/nearstream/node/bin/node --version', '/usr/local/bin/nearstream-agent 2>&1 | grep -q usage']),
            bash('Idempotent', ['/opt/nearstream/install.sh | tee /dev/stderr | grep -qx "nearstream-install: no change"']),
          ],
        },
        {
          name: 'test',
          steps: [
            bash('SignedUrlServed', [
              'set -euo pipefail',
              'cat > /tmp/node.json <<JSON',
              '{"applianceId":"image-test","clusterId":"image-test","region":"us-east-1","controlPlaneUrl":"https://control.invalid","baseUrl":"http://127.0.0.1:8080","prefixes":["192.0.2.0/24"],"capacity":{"egressGbps":1,"diskBytes":1000000000},"originBucket":"image-test","diskCeilingBytes":1000000,"bandwidthCapBytesPerSecond":1000000,"fillWindow":{"startHourUtc":2,"endHourUtc":6},"listen":"127.0.0.1:8080"}',
              'JSON',
              '/opt/nearstream/install.sh --settings /tmp/node.json',
              'key="$(head -c 32 /dev/urandom | base64 | tr -d /+=)"',
              'printf \'{"activeKeyId":"t1","t1":"%s"}\' "$key" > /var/lib/nearstream/keyring/keyring.json',
              'chown nearstream:nearstream /var/lib/nearstream/keyring/keyring.json && chmod 640 /var/lib/nearstream/keyring/keyring.json',
              'install -d -o nearstream -g nearstream /var/cache/nearstream/titles/imagetest/avc1',
              'printf image-test > /var/cache/nearstream/titles/imagetest/avc1/seg-0.m4s',
              'systemctl restart nginx',
              'url="$(nearstream-agent sign-url titles/imagetest/avc1/seg-0.m4s)"',
              'test "$(curl -s -o /dev/null -w "%{http_code}" "$url")" = 200',
              'test "$(curl -s "$url")" = image-test',
              'test "$(curl -s -o /dev/null -w "%{http_code}" "${url%%/t/*}/t/v1.t1.1.image-test.imagetest.1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/titles/imagetest/avc1/seg-0.m4s")" = 403',
            ]),
          ],
        },
      ],
    },
    null,
    2,
  );
}

/**
 * Builds the appliance AMI with EC2 Image Builder from the same bundle and install.sh bare-metal
 * nodes use, copies it to every region and publishes its id to an SSM parameter in each. Component
 * and recipe names carry the bundle's content hash: Image Builder versions are immutable, so a
 * changed bundle makes a new component and recipe instead of colliding with the old version.
 */
export class ApplianceImagePipeline extends Construct {
  readonly pipeline: CfnImagePipeline;
  readonly bundle: Asset;

  constructor(scope: Construct, id: string, props: ApplianceImagePipelineProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-appliance-bundle-'));
    const tarball = packApplianceBundle(buildApplianceBundle(path.join(scratch, 'nearstream-appliance')), path.join(scratch, 'nearstream-appliance.tar.gz'));
    this.bundle = new Asset(this, 'Bundle', { path: tarball });
    // Staging copied the tarball into the cloud assembly; unless staging is off, the scratch copy can go.
    if (this.bundle.assetPath !== tarball) {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
    const version = this.bundle.assetHash.slice(0, 12);
    // How cdk-nag prints the asset bucket: literal partition and account where they are known.
    const known = (value: string, placeholder: string) => (Token.isUnresolved(value) ? placeholder : value);
    const assetObjects = `arn:${known(stack.partition, '<AWS::Partition>')}:s3:::cdk-hnb659fds-assets-${known(stack.account, '<AWS::AccountId>')}-${stack.region}/*`;
    const imageTag = { 'nearstream:image': `${props.namePrefix}-appliance` };
    const imagesKept = props.imagesKept ?? 5;

    const component = new CfnComponent(this, 'Component', {
      name: `${props.namePrefix}-appliance-${version}`,
      version: '1.0.0',
      platform: 'Linux',
      description: `Nearstream appliance bundle ${version}`,
      data: applianceComponentDocument({ bucket: this.bundle.s3BucketName, key: this.bundle.s3ObjectKey }, props.nodeVersion ?? '20.20.2'),
    });

    const recipe = new CfnImageRecipe(this, 'Recipe', {
      name: `${props.namePrefix}-appliance-${version}`,
      version: '1.0.0',
      parentImage: props.parentImage ?? 'ssm:/aws/service/debian/release/bookworm/latest/amd64',
      components: [{ componentArn: component.attrArn }],
      blockDeviceMappings: [{ deviceName: '/dev/xvda', ebs: { encrypted: true, volumeSize: 16, volumeType: 'gp3', deleteOnTermination: true } }],
    });

    const buildRole = new Role(this, 'BuildRole', {
      assumedBy: new ServicePrincipal('ec2.amazonaws.com'),
      description: 'Image Builder build and test instances of the appliance AMI',
      managedPolicies: [
        ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore'),
        ManagedPolicy.fromAwsManagedPolicyName('EC2InstanceProfileForImageBuilder'),
      ],
    });
    this.bundle.grantRead(buildRole);
    Validations.of(buildRole).acknowledge(
      { id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]', reason: 'Image Builder drives build and test instances through Systems Manager; this AWS policy is its documented minimum.' },
      { id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/EC2InstanceProfileForImageBuilder]', reason: 'Image Builder instances report their progress with this AWS policy; Image Builder documents it as the instance role minimum.' },
      { id: 'AwsSolutions::AwsSolutions-IAM5[Action::s3:GetBucket*]', reason: 'Asset.grantRead: read-only actions on the CDK asset bucket, needed to download the appliance bundle.' },
      { id: 'AwsSolutions::AwsSolutions-IAM5[Action::s3:GetObject*]', reason: 'Asset.grantRead: read-only object actions, scoped to the CDK asset bucket, to download the appliance bundle.' },
      { id: 'AwsSolutions::AwsSolutions-IAM5[Action::s3:List*]', reason: 'Asset.grantRead: list actions on the CDK asset bucket only, needed by the S3Download action of the component.' },
      { id: `AwsSolutions::AwsSolutions-IAM5[Resource::${assetObjects}]`, reason: 'Asset.grantRead: objects of the CDK asset bucket, where the appliance bundle is published by cdk deploy.' },
    );
    const profile = new CfnInstanceProfile(this, 'BuildProfile', { roles: [buildRole.roleName] });

    const infrastructure = new CfnInfrastructureConfiguration(this, 'Infrastructure', {
      name: `${props.namePrefix}-appliance`,
      instanceProfileName: profile.ref,
      instanceTypes: [...(props.instanceTypes ?? ['c7i.large'])],
      terminateInstanceOnFailure: true,
      instanceMetadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 1 },
    });

    const distribution = new CfnDistributionConfiguration(this, 'Distribution', {
      name: `${props.namePrefix}-appliance`,
      distributions: props.regions.map((region) => ({
        region,
        // An untyped property: CloudFormation's own casing.
        amiDistributionConfiguration: { Name: `${props.namePrefix}-appliance-{{ imagebuilder:buildDate }}`, AmiTags: imageTag },
        ssmParameterConfigurations: [{ parameterName: props.amiParameterName, dataType: 'aws:ec2:image' }],
      })),
    });

    this.pipeline = new CfnImagePipeline(this, 'Pipeline', {
      name: `${props.namePrefix}-appliance`,
      description: 'Builds, validates and tests the appliance AMI; copies it to every region',
      imageRecipeArn: recipe.attrArn,
      infrastructureConfigurationArn: infrastructure.attrArn,
      distributionConfigurationArn: distribution.attrArn,
      imageTestsConfiguration: { imageTestsEnabled: true, timeoutMinutes: 60 },
      enhancedImageMetadataEnabled: true,
      // The recipe names its base image by Debian's SSM parameter, and Image Builder counts a change
      // of that parameter as a dependency update: a daily check builds only when Debian has
      // published a new AMI (or the recipe changed), and each build starts from that AMI.
      schedule: {
        scheduleExpression: props.schedule ?? 'cron(0 3 * * ? *)',
        pipelineExecutionStartCondition: 'EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE',
      },
      status: 'ENABLED',
    });

    const lifecycleRole = new Role(this, 'LifecycleRole', {
      assumedBy: new ServicePrincipal('imagebuilder.amazonaws.com'),
      description: 'Image Builder lifecycle: retires old appliance AMIs and their snapshots',
      managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName('service-role/EC2ImageBuilderLifecycleExecutionPolicy')],
    });
    Validations.of(lifecycleRole).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/EC2ImageBuilderLifecycleExecutionPolicy]',
      reason: 'Image Builder lifecycle policies run with this AWS service-role policy; it only deregisters images the policy selects by tag.',
    });
    new CfnLifecyclePolicy(this, 'Lifecycle', {
      name: `${props.namePrefix}-appliance`,
      description: `Keeps the newest ${imagesKept} appliance AMIs`,
      executionRole: lifecycleRole.roleArn,
      resourceType: 'AMI_IMAGE',
      policyDetails: [{ action: { type: 'DELETE', includeResources: { amis: true, snapshots: true } }, filter: { type: 'COUNT', value: imagesKept } }],
      resourceSelection: { tagMap: imageTag },
      status: 'ENABLED',
    });
  }
}
