import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { CfnInstanceProfile, ManagedPolicy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { CfnComponent, CfnDistributionConfiguration, CfnImagePipeline, CfnImageRecipe, CfnInfrastructureConfiguration, CfnLifecyclePolicy } from 'aws-cdk-lib/aws-imagebuilder';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { AwsCustomResource, AwsCustomResourcePolicy, PhysicalResourceId } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { buildApplianceBundle, packApplianceBundle } from '../../appliance-image/build';
import { nagBucketArn, nagPseudo } from '../compliance';
import { ImageBuildNetwork } from './image-build-network';

export interface ApplianceImagePipelineProps {
  /** Prefix of every physical name, e.g. `nearstream-prod`. */
  readonly namePrefix: string;
  /** Regions the AMI is copied to; the first is the build region. */
  readonly regions: readonly string[];
  /** The SSM parameter each region's AMI id is published to. */
  readonly amiParameterName: string;
  /**
   * What happens to the deploy-time build trigger's log group when the stack goes away.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /**
   * Build an image when the stack deploys, on every new bundle and weekly. AMIs and their snapshots
   * are not CloudFormation resources: an environment meant to expire turns this off, so destroying
   * it leaves no image behind (its pipeline can still be started by hand).
   * @default true
   */
  readonly automaticBuilds?: boolean;
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
   * When the pipeline rebuilds the image from the newest Debian AMI (security updates included).
   * The first image is built when the stack is deployed, and again whenever the bundle changes.
   * @default 'cron(0 3 ? * SUN *)' (weekly)
   */
  readonly schedule?: string;
  /** @default 5 */
  readonly imagesKept?: number;
  /**
   * An image launched this recently is never deleted by the lifecycle policy, however many newer
   * images there are: the fleet's launch template may still point at it.
   * @default Duration.days(90)
   */
  readonly keepImagesLaunchedWithin?: Duration;
}

/** The Image Builder component document: build (install), validate, and test phases. */
export function applianceComponentDocument(bundle: { bucket: string; key: string }, nodeVersion: string): string {
  const bash = (name: string, commands: string[]) => ({ name, action: 'ExecuteBash', inputs: { commands } });
  return JSON.stringify(
    {
      name: 'nearstream-appliance',
      description: 'Installs the Nearstream appliance (agent, nginx edge with njs, units) with its own idempotent install.sh.',
      schemaVersion: '1.0',
      phases: [
        {
          name: 'build',
          steps: [
            { name: 'DownloadBundle', action: 'S3Download', inputs: [{ source: `s3://${bundle.bucket}/${bundle.key}`, destination: '/tmp/nearstream-appliance.tar.gz' }] },
            bash('Install', [
              'set -euo pipefail',
              'case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) echo "unsupported architecture $(uname -m)"; exit 1 ;; esac',
              // .tar.gz, not .tar.xz: Debian's cloud image need not have xz-utils, and install.sh is tested with this form.
              `release="node-v${nodeVersion}-linux-$arch.tar.gz"`,
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
    const assetObjects = `${nagBucketArn(this, `cdk-hnb659fds-assets-${nagPseudo(stack.account, 'AWS::AccountId')}-${stack.region}`)}/*`;
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
      // Debian's AMI has no SSM agent: Image Builder installs one to drive the build and, unless
      // told otherwise, removes it before taking the image. It stays: Session Manager is the only
      // way into an appliance (the fleet opens no SSH).
      additionalInstanceConfiguration: { systemsManagerAgent: { uninstallAfterBuild: false } },
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

    // Its own network: an account need not have a default VPC, and Image Builder uses it when
    // given no subnet.
    const network = new ImageBuildNetwork(this, 'Network');
    const infrastructure = new CfnInfrastructureConfiguration(this, 'Infrastructure', {
      name: `${props.namePrefix}-appliance`,
      instanceProfileName: profile.ref,
      subnetId: network.subnetId,
      securityGroupIds: [network.securityGroupId],
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

    const automaticBuilds = props.automaticBuilds ?? true;
    this.pipeline = new CfnImagePipeline(this, 'Pipeline', {
      name: `${props.namePrefix}-appliance`,
      description: 'Builds, validates and tests the appliance AMI; copies it to every region',
      imageRecipeArn: recipe.attrArn,
      infrastructureConfigurationArn: infrastructure.attrArn,
      distributionConfigurationArn: distribution.attrArn,
      imageTestsConfiguration: { imageTestsEnabled: true, timeoutMinutes: 60 },
      enhancedImageMetadataEnabled: true,
      // The lifecycle policy selects Image Builder images by these tags (the AMI tags above are the EC2 side's).
      imageTags: imageTag,
      // Each build resolves Debian's SSM parameter to its newest AMI. A dependency-update start
      // condition would never fire here (it compares semantic versions, which an `ssm:` parent and
      // a fixed component version never change), so the schedule builds unconditionally.
      schedule: automaticBuilds
        ? { scheduleExpression: props.schedule ?? 'cron(0 3 ? * SUN *)', pipelineExecutionStartCondition: 'EXPRESSION_MATCH_ONLY' }
        : undefined,
      status: 'ENABLED',
    });
    if (automaticBuilds) {
      // The first image, and a new one whenever the bundle changes, without waiting for the schedule:
      // the fleet's AMI parameter exists only once a build has run. The bundle version is the
      // idempotency token, so a repeated deploy starts no second build of the same bundle.
      // Its own log group, so an ephemeral environment's destroy removes it (CDK's default is kept forever).
      const buildLogs = new LogGroup(this, 'BuildOnDeployLogs', {
        retention: props.logRetention ?? RetentionDays.ONE_MONTH,
        removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
      });
      Validations.of(buildLogs).acknowledge(
        { id: 'cdk-validator-cfnguard::cloudwatch_log_group_encrypted_check', reason: 'Logs of the one deploy-time StartImagePipelineExecution call: a pipeline ARN and an execution id, no viewer or content data.' },
        { id: 'cdk-validator-cfnguard::cloudwatch_log_group_retention_period_check', reason: 'The environment\'s log retention (a year only in prod): these logs record one deploy-time call.' },
      );
      const firstBuild = new AwsCustomResource(this, 'BuildOnDeploy', {
        onCreate: startBuild(this.pipeline.attrArn, version),
        onUpdate: startBuild(this.pipeline.attrArn, version),
        policy: AwsCustomResourcePolicy.fromStatements([
          new PolicyStatement({ actions: ['imagebuilder:StartImagePipelineExecution'], resources: [this.pipeline.attrArn] }),
        ]),
        installLatestAwsSdk: false,
        logGroup: buildLogs,
      });
      firstBuild.node.addDependency(this.pipeline);
      const provider = stack.node.tryFindChild(AWS_CUSTOM_RESOURCE_PROVIDER_ID);
      if (provider) {
        const deployTimeOnly = 'CDK\'s AwsCustomResource provider, which makes one StartImagePipelineExecution call while CloudFormation deploys and serves nothing';
        Validations.of(provider).acknowledge(
          { id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', reason: `${deployTimeOnly}; this AWS policy lets it write only its own logs.` },
          { id: 'cdk-validator-cfnguard::cloudwatch_log_group_encrypted_check', reason: `${deployTimeOnly}; its logs hold the call's request and response, a pipeline ARN and an execution id, no viewer or content data.` },
          { id: 'cdk-validator-cfnguard::lambda_inside_vpc_check', reason: `${deployTimeOnly}; it reaches only the Image Builder API and needs no VPC.` },
        );
      }
    }

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
      policyDetails: [
        {
          action: { type: 'DELETE', includeResources: { amis: true, snapshots: true } },
          filter: { type: 'COUNT', value: imagesKept },
          exclusionRules: {
            amis: {
              lastLaunched: { value: (props.keepImagesLaunchedWithin ?? Duration.days(90)).toDays(), unit: 'DAYS' },
              // The AMI a fleet's config names: tag it so, and no count retires it.
              tagMap: { [KEEP_IMAGE_TAG]: 'true' },
            },
          },
        },
      ],
      resourceSelection: { tagMap: imageTag },
      status: 'ENABLED',
    });
  }
}

/** An AMI carrying this tag with value `true` is never retired by the lifecycle policy. */
export const KEEP_IMAGE_TAG = 'nearstream:keep';

/** The id CDK gives the singleton function behind every AwsCustomResource of a stack. */
const AWS_CUSTOM_RESOURCE_PROVIDER_ID = 'AWS679f53fac002430cb0da5b7982bd2287';

function startBuild(pipelineArn: string, bundleVersion: string) {
  return {
    service: 'Imagebuilder',
    action: 'startImagePipelineExecution',
    parameters: { imagePipelineArn: pipelineArn, clientToken: `nearstream-${bundleVersion}` },
    physicalResourceId: PhysicalResourceId.of(`appliance-build-${bundleVersion}`),
  };
}
