import { Fn, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { EnvironmentConfig, regionsOf } from '../config/environment';
import { EnvironmentNaming } from '../config/naming';
import { retentionOf } from '../config/retention';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { ApplianceImagePipeline } from '../constructs/appliance-image-pipeline';

export interface ApplianceImageStackProps extends StackProps {
  readonly config: EnvironmentConfig;
}

/** The appliance AMI's build, in the primary region, distributed to both regions. */
export class ApplianceImageStack extends Stack {
  readonly image: ApplianceImagePipeline;

  constructor(scope: Construct, id: string, props: ApplianceImageStackProps) {
    super(scope, id, props);
    const naming = new EnvironmentNaming(props.config);
    this.image = new ApplianceImagePipeline(this, 'ApplianceImage', {
      namePrefix: naming.prefix,
      regions: regionsOf(props.config),
      amiParameterName: naming.applianceAmiParameterName,
      logRemovalPolicy: retentionOf(props.config).removalPolicy,
      logRetention: props.config.logRetentionDays as RetentionDays,
      automaticBuilds: props.config.lifetime === undefined,
    });
  }

  /**
   * The build network's one zone by position (`Fn::GetAZs`): with an account configured, CDK would
   * otherwise look the zones up, and synth would depend on an AWS call.
   */
  override get availabilityZones(): string[] {
    return [Fn.select(0, Fn.getAzs())];
  }
}
