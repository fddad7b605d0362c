#!/usr/bin/env node
import * as fs from 'node:fs';
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
  /** A number the config then checks (a non-number becomes NaN, which it names). */
  const count = (key: string): number | undefined => (text(key) === undefined ? undefined : Number(text(key)));
  return {
    name: text('env') ?? 'dev',
    account: text('account') ?? process.env.CDK_DEFAULT_ACCOUNT,
    primaryRegion: text('primaryRegion'),
    secondaryRegion: text('secondaryRegion'),
    domainName: text('domain'),
    hostedZoneId: text('hostedZoneId'),
    jwtIssuer: text('jwtIssuer'),
    jwtAudiences: text('jwtAudience')?.split(',').map((audience) => audience.trim()).filter(Boolean),
    corsOrigins: text('corsOrigins')?.split(',').map((origin) => origin.trim()),
    viewerEmailFrom: text('viewerEmailFrom'),
    viewerEmailSesRegion: text('viewerEmailSesRegion'),
    applianceAmis: regionMap(text('applianceAmi')),
    appliancesPerRegion: count('appliancesPerRegion'),
    applianceInstanceType: text('applianceInstanceType'),
    applianceAvailabilityZones: count('applianceAvailabilityZones'),
    rolesAnywhereCaBundle: caBundle(text('rolesAnywhereCaFile')),
    rolesAnywherePcaArn: text('rolesAnywherePcaArn'),
    originKeyGenerations: text('originKeyGenerations')?.split(',').map((generation) => Number(generation.trim())),
    originKeyActive: count('originKeyActive'),
  };
}

/** `us-east-1=ami-0123...,us-west-2=ami-0456...` as a map; the config names what is wrong with it. */
function regionMap(value: string | undefined): Record<string, string> | undefined {
  if (value === undefined) {
    return undefined;
  }
  return Object.fromEntries(
    value.split(',').map((pair) => {
      const [region, ami] = pair.split('=').map((part) => part.trim());
      return [region, ami ?? ''];
    }),
  );
}

/** The CA bundle file's text; an unreadable file stops synth with its path. */
function caBundle(file: string | undefined): string | undefined {
  if (file === undefined) {
    return undefined;
  }
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    console.error(`rolesAnywhereCaFile: cannot read ${file}: ${(error as Error).message}`);
    process.exit(1);
  }
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
