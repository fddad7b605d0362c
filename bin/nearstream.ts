#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { addComplianceChecks } from '../lib/compliance';
import { ConfigError } from '../lib/config/config-error';
import { EnvironmentInput, resolveEnvironment } from '../lib/config/environment';
import { NearstreamEnvironment } from '../lib/nearstream-environment';

/** The only place that reads CDK context: everything below takes a resolved EnvironmentConfig. */
function environmentInput(app: App): EnvironmentInput {
  const text = (key: string): string | undefined => {
    const value: unknown = app.node.tryGetContext(key);
    return value === undefined || value === null || value === '' ? undefined : String(value);
  };
  return {
    name: text('env') ?? 'dev',
    account: text('account') ?? process.env.CDK_DEFAULT_ACCOUNT,
    primaryRegion: text('primaryRegion'),
    secondaryRegion: text('secondaryRegion'),
    domainName: text('domain'),
    hostedZoneId: text('hostedZoneId'),
    jwtIssuer: text('jwtIssuer'),
    jwtAudiences: text('jwtAudience')?.split(',').map((audience) => audience.trim()).filter(Boolean),
  };
}

const app = new App();
try {
  const config = resolveEnvironment(environmentInput(app));
  new NearstreamEnvironment(app, `Nearstream-${config.name}`, { config });
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
addComplianceChecks(app);
app.synth();
