#!/usr/bin/env node
import * as fs from 'node:fs';
import { App } from 'aws-cdk-lib';
import { addComplianceChecks } from '../lib/compliance';
import { ConfigError } from '../lib/config/config-error';
import { EnvironmentInput, resolveEnvironment } from '../lib/config/environment';
import { resolvePipeline } from '../lib/config/pipeline';
import { NearstreamEnvironment } from '../lib/nearstream-environment';
import { PipelineStack } from '../lib/stacks/pipeline-stack';

/**
 * Every context key Nearstream reads. The pipeline renders the ones given into its own `cdk synth`,
 * so the app it rebuilds from the repository is exactly the app that created it.
 */
const CONTEXT_KEYS = [
  'env', 'account', 'primaryRegion', 'secondaryRegion', 'domain', 'hostedZoneId', 'jwtIssuer', 'jwtAudience', 'corsOrigins',
  'viewerEmailFrom', 'viewerEmailSesRegion', 'applianceAmi', 'appliancesPerRegion', 'applianceInstanceType',
  'applianceAvailabilityZones', 'rolesAnywhereCaFile', 'rolesAnywherePcaArn', 'originKeyGenerations', 'originKeyActive',
  'creator', 'expiresAt', 'chaos', 'chaosMeanMinutes', 'chaosTimezone', 'chaosOptOut', 'contentProtection', 'licenseServices', 'environments', 'pipelineConnectionArn', 'pipelineRepository', 'pipelineBranch', 'pipelinePullRequests',
] as const;

/** Context as one string per key (an object, such as `environments` from cdk.json, as JSON). */
function contextText(app: App, key: string): string | undefined {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === null || value === '') {
    return undefined;
  }
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/**
 * Per-environment settings: `environments` (in cdk.json, or `-c environments='{"prod": {...}}'`)
 * maps an environment name to context keys that apply to it alone, over the top-level ones.
 */
function environmentOverrides(app: App, name: string): Record<string, unknown> {
  const text = contextText(app, 'environments');
  if (text === undefined) {
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError(name, [{ field: 'environments', rule: 'must be a JSON object of environment name → { context key: value }' }]);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(name, [{ field: 'environments', rule: 'must be a JSON object of environment name → { context key: value }' }]);
  }
  const own = (parsed as Record<string, unknown>)[name];
  if (own === undefined) {
    return {};
  }
  if (typeof own !== 'object' || own === null || Array.isArray(own)) {
    throw new ConfigError(name, [{ field: `environments.${name}`, rule: 'must be an object of context keys and values' }]);
  }
  return own as Record<string, unknown>;
}

/** The only place that reads CDK context: everything below takes a resolved EnvironmentConfig. */
function environmentInput(app: App, name: string, options: { withLifetime: boolean }): EnvironmentInput {
  const overrides = environmentOverrides(app, name);
  const text = (key: string): string | undefined => {
    const value = overrides[key];
    if (value !== undefined && value !== null && value !== '') {
      return String(value);
    }
    return contextText(app, key);
  };
  /** A number the config then checks (a non-number becomes NaN, which it names). */
  const count = (key: string): number | undefined => (text(key) === undefined ? undefined : Number(text(key)));
  return {
    name,
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
    chaos: text('chaos'),
    chaosMeanMinutes: count('chaosMeanMinutes'),
    chaosTimezone: text('chaosTimezone'),
    chaosOptOut: text('chaosOptOut')?.split(',').map((cluster) => cluster.trim()).filter(Boolean),
    contentProtection: text('contentProtection'),
    licenseServices: overrides.licenseServices !== undefined && typeof overrides.licenseServices === 'object' ? JSON.stringify(overrides.licenseServices) : text('licenseServices'),
    // Only the environment `env` names carries a lifetime: the pipeline's staging and prod never expire.
    creator: options.withLifetime ? text('creator') : undefined,
    expiresAt: options.withLifetime ? text('expiresAt') : undefined,
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
  const name = contextText(app, 'env') ?? 'dev';
  const config = resolveEnvironment(environmentInput(app, name, { withLifetime: true }), { requireLifetime: true });
  new NearstreamEnvironment(app, `Nearstream-${config.name}`, { config });
  const pipeline = resolvePipeline(
    {
      pipelineConnectionArn: contextText(app, 'pipelineConnectionArn'),
      pipelineRepository: contextText(app, 'pipelineRepository'),
      pipelineBranch: contextText(app, 'pipelineBranch'),
      pipelinePullRequests: contextText(app, 'pipelinePullRequests'),
    },
    config.account,
    config.primaryRegion,
  );
  if (pipeline) {
    const synthContext = Object.fromEntries(
      CONTEXT_KEYS.flatMap((key) => {
        const value = contextText(app, key);
        return value === undefined ? [] : [[key, value]];
      }),
    );
    new PipelineStack(app, 'NearstreamPipeline', {
      pipeline,
      staging: resolveEnvironment(environmentInput(app, 'staging', { withLifetime: false })),
      prod: resolveEnvironment(environmentInput(app, 'prod', { withLifetime: false })),
      synthContext,
      env: { account: pipeline.account, region: pipeline.region },
      stackName: 'nearstream-pipeline',
      description: `Nearstream: the delivery pipeline from ${pipeline.repository}@${pipeline.branch} to staging and prod`,
      terminationProtection: true,
    });
  }
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
addComplianceChecks(app);
app.synth();
