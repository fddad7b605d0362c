import { Match } from 'aws-cdk-lib/assertions';
import { synthEnvironment } from '../support/synth';

describe('ApplianceImageStack', () => {
  const dev = synthEnvironment({ name: 'dev' });
  const image = dev.template(dev.environment.applianceImage);

  function componentDocument(): { phases: { name: string; steps: { name: string; action: string; inputs: unknown }[] }[] } {
    const [component] = Object.values(image.findResources('AWS::ImageBuilder::Component'));
    // The document names the asset bucket and key, which are tokens: read it with placeholders.
    const data = component.Properties.Data as string | { 'Fn::Join': [string, unknown[]] };
    const text = typeof data === 'string' ? data : data['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : 'TOKEN')).join('');
    return JSON.parse(text);
  }

  it('runs the bundle install in build, nginx and unit checks in validate, a signed fetch in test', () => {
    const phases = componentDocument().phases;
    expect(phases.map((phase) => phase.name)).toEqual(['build', 'validate', 'test']);
    const commands = (phase: string) => JSON.stringify(phases.find((p) => p.name === phase)!.steps);
    expect(commands('build')).toContain('S3Download');
    expect(commands('build')).toContain('/tmp/nearstream-appliance/install.sh --node-tarball');
    expect(commands('build')).toContain('SHASUMS256.txt');
    expect(commands('validate')).toContain('nginx -t');
    expect(commands('validate')).toContain('systemctl is-enabled nearstream-configure.service nginx.service');
    expect(commands('validate')).toContain('nearstream-install: no change');
    expect(commands('test')).toContain('nearstream-agent sign-url');
    expect(commands('test')).toMatch(/= 200.*= 403/);
  });

  it('names component and recipe by the bundle content, so an update never reuses an immutable version', () => {
    const [component] = Object.values(image.findResources('AWS::ImageBuilder::Component'));
    const [recipe] = Object.values(image.findResources('AWS::ImageBuilder::ImageRecipe'));
    const hash = dev.environment.applianceImage.image.bundle.assetHash.slice(0, 12);
    expect(component.Properties.Name).toBe(`nearstream-dev-appliance-${hash}`);
    expect(recipe.Properties.Name).toBe(`nearstream-dev-appliance-${hash}`);
    // The same sources make the same bundle, byte for byte: a synth without changes makes no new version.
    const again = synthEnvironment({ name: 'dev' });
    expect(again.environment.applianceImage.image.bundle.assetHash).toBe(dev.environment.applianceImage.image.bundle.assetHash);
  });

  it('builds on Debian 12 with an encrypted root volume, IMDSv2 only, and terminates failed builds', () => {
    image.hasResourceProperties('AWS::ImageBuilder::ImageRecipe', {
      ParentImage: 'ssm:/aws/service/debian/release/bookworm/latest/amd64',
      BlockDeviceMappings: [Match.objectLike({ Ebs: Match.objectLike({ Encrypted: true }) })],
    });
    image.hasResourceProperties('AWS::ImageBuilder::InfrastructureConfiguration', {
      TerminateInstanceOnFailure: true,
      InstanceMetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1 },
    });
  });

  it('copies the AMI to both regions and publishes its id to an SSM parameter in each', () => {
    image.hasResourceProperties('AWS::ImageBuilder::DistributionConfiguration', {
      Distributions: ['us-east-1', 'us-west-2'].map((region) => ({
        Region: region,
        AmiDistributionConfiguration: Match.objectLike({ AmiTags: { 'nearstream:image': 'nearstream-dev-appliance' } }),
        SsmParameterConfigurations: [{ ParameterName: '/nearstream/dev/appliance/ami-id', DataType: 'aws:ec2:image' }],
      })),
    });
  });

  it('rebuilds weekly from the newest Debian AMI unconditionally, with tests on, and keeps recent, recently launched and kept images', () => {
    image.hasResourceProperties('AWS::ImageBuilder::ImagePipeline', {
      Schedule: { ScheduleExpression: 'cron(0 3 ? * SUN *)', PipelineExecutionStartCondition: 'EXPRESSION_MATCH_ONLY' },
      ImageTestsConfiguration: { ImageTestsEnabled: true, TimeoutMinutes: 60 },
      ImageTags: { 'nearstream:image': 'nearstream-dev-appliance' },
      Status: 'ENABLED',
    });
    image.hasResourceProperties('AWS::ImageBuilder::LifecyclePolicy', {
      ResourceType: 'AMI_IMAGE',
      PolicyDetails: [
        {
          Action: { Type: 'DELETE', IncludeResources: { Amis: true, Snapshots: true } },
          Filter: { Type: 'COUNT', Value: 5 },
          ExclusionRules: { Amis: { LastLaunched: { Unit: 'DAYS', Value: 90 }, TagMap: { 'nearstream:keep': 'true' } } },
        },
      ],
      ResourceSelection: { TagMap: { 'nearstream:image': 'nearstream-dev-appliance' } },
    });
  });

  it('starts the first build at deploy, and one per new bundle, with the bundle version as idempotency token', () => {
    const [build] = Object.values(image.findResources('Custom::AWS'));
    const create = JSON.stringify(build.Properties.Create);
    const hash = dev.environment.applianceImage.image.bundle.assetHash.slice(0, 12);
    expect(create).toContain('startImagePipelineExecution');
    expect(create).toContain(`nearstream-${hash}`);
    expect(JSON.stringify(build.Properties.Update)).toContain(`appliance-build-${hash}`);
    const [pipelineId] = Object.keys(image.findResources('AWS::ImageBuilder::ImagePipeline'));
    expect(JSON.stringify(build.DependsOn)).toContain(pipelineId);
    image.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: [{ Action: 'imagebuilder:StartImagePipelineExecution', Effect: 'Allow', Resource: { 'Fn::GetAtt': [pipelineId, 'Arn'] } }] },
    });
  });

  it('keeps the SSM agent in the image, the only way into an appliance', () => {
    image.hasResourceProperties('AWS::ImageBuilder::ImageRecipe', {
      AdditionalInstanceConfiguration: { SystemsManagerAgent: { UninstallAfterBuild: false } },
    });
  });

  it('builds in its own subnet behind a group with nothing in and only web ports out, needing no default VPC', () => {
    const [groupId] = Object.keys(image.findResources('AWS::EC2::SecurityGroup'));
    const [subnetId] = Object.keys(image.findResources('AWS::EC2::Subnet'));
    image.hasResourceProperties('AWS::ImageBuilder::InfrastructureConfiguration', {
      SubnetId: { Ref: subnetId },
      SecurityGroupIds: [{ 'Fn::GetAtt': [groupId, 'GroupId'] }],
    });
    const [group] = Object.values(image.findResources('AWS::EC2::SecurityGroup'));
    expect(group.Properties.SecurityGroupIngress).toBeUndefined();
    expect(group.Properties.SecurityGroupEgress.map((rule: { FromPort: number }) => rule.FromPort).sort()).toEqual([443, 80]);
  });

  it('writes the component document as Image Builder documents it: schema 1.0 as a string, the .tar.gz release', () => {
    const document = componentDocument() as unknown as { schemaVersion: unknown };
    expect(document.schemaVersion).toBe('1.0');
    expect(JSON.stringify(document)).toContain('.tar.gz');
    expect(JSON.stringify(document)).not.toContain('.tar.xz');
  });

  it('lets build instances read only the bundle from the asset bucket, beside the Image Builder minimum', () => {
    const policies = Object.values(image.findResources('AWS::IAM::Policy'));
    const statements = policies.flatMap((policy) => policy.Properties.PolicyDocument.Statement);
    const buildStatements = statements.filter((statement: { Action: string | string[] }) => statement.Action !== 'imagebuilder:StartImagePipelineExecution');
    expect(buildStatements.every((statement: { Action: string | string[] }) => [statement.Action].flat().every((action) => action.startsWith('s3:')))).toBe(true);
    expect(JSON.stringify(statements)).not.toContain('s3:Put');
  });
});
