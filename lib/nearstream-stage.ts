import { Stage, StageProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { EnvironmentConfig } from './config/environment';
import { NearstreamEnvironment } from './nearstream-environment';

export interface NearstreamStageProps extends StageProps {
  readonly config: EnvironmentConfig;
}

/**
 * A whole environment as a deployable unit of its own cloud assembly: what the pipeline adds for
 * staging, prod and each ephemeral environment. It holds exactly the `NearstreamEnvironment` that
 * `cdk deploy` deploys, so both paths produce the same stacks with the same names.
 */
export class NearstreamStage extends Stage {
  readonly environment: NearstreamEnvironment;

  constructor(scope: Construct, id: string, props: NearstreamStageProps) {
    super(scope, id, props);
    this.environment = new NearstreamEnvironment(this, 'Environment', { config: props.config });
  }
}
