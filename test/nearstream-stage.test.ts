import { App, Stack } from 'aws-cdk-lib';
import { resolveEnvironment } from '../lib/config/environment';
import { NearstreamStage } from '../lib/nearstream-stage';

describe('NearstreamStage', () => {
  it('packs the same environment, with the same stack names and regions, into its own assembly', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stage = new NearstreamStage(app, 'Staging', { config: resolveEnvironment({ name: 'staging', account: '123456789012' }) });

    const assembly = stage.synth();

    expect(assembly.stacks.map((stack) => [stack.stackName, stack.environment.region, stack.environment.account]).sort()).toEqual([
      ['nearstream-staging-appliance-image', 'us-east-1', '123456789012'],
      ['nearstream-staging-control-plane-us-east-1', 'us-east-1', '123456789012'],
      ['nearstream-staging-control-plane-us-west-2', 'us-west-2', '123456789012'],
      ['nearstream-staging-data', 'us-east-1', '123456789012'],
      ['nearstream-staging-encoding', 'us-east-1', '123456789012'],
      ['nearstream-staging-origin-replica-us-west-2', 'us-west-2', '123456789012'],
    ]);
    expect(stage.environment.controlPlanes.every((stack) => stack.dependencies.includes(stage.environment.data as Stack))).toBe(true);
  });
});
