import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ICloudAssemblySource, Toolkit } from '@aws-cdk/toolkit-lib';
import { App } from 'aws-cdk-lib';
import { addComplianceChecks } from '../../lib/compliance';
import { EnvironmentConfig } from '../../lib/config/environment';
import { NearstreamEnvironment } from '../../lib/nearstream-environment';

export interface EnvironmentAssemblyOptions {
  readonly config: EnvironmentConfig;
  /**
   * Bundle the Lambda functions. Without bundling the functions' code assets get placeholder
   * hashes, so a deploy would ship no code and a diff against a deployed environment would show
   * every function as changed; fine for destroy, tests, and a diff against nothing.
   * @default true
   */
  readonly bundling?: boolean;
  /** @default - a temporary directory, removed when the assembly is disposed */
  readonly outdir?: string;
}

/** The feature flags and context of `cdk.json`: the environment command builds the app `cdk deploy` builds. */
export function cdkJsonContext(): Record<string, unknown> {
  const file = path.join(__dirname, '..', '..', 'cdk.json');
  return JSON.parse(fs.readFileSync(file, 'utf8')).context ?? {};
}

/**
 * A cloud assembly source holding one whole environment, built in this process the way
 * `bin/nearstream.ts` builds it: the same construct and id (so the same stack names), the same
 * context and feature flags, the same compliance checks. No context lookups (the app needs none;
 * a lookup would fail rather than call AWS) and no default-environment lookup (which calls STS):
 * synth and diff work offline.
 */
export function environmentAssembly(toolkit: Toolkit, options: EnvironmentAssemblyOptions): Promise<ICloudAssemblySource> {
  const { config, bundling = true, outdir } = options;
  return toolkit.fromAssemblyBuilder(
    async (props) => {
      const app = new App({
        outdir: props.outdir,
        context: { ...cdkJsonContext(), ...props.context, ...(bundling ? {} : { 'aws:cdk:bundling-stacks': [] }) },
      });
      new NearstreamEnvironment(app, `Nearstream-${config.name}`, { config });
      addComplianceChecks(app);
      return app.synth();
    },
    {
      outdir,
      disposeOutdir: outdir === undefined,
      lookups: false,
      resolveDefaultEnvironment: false,
      // The builder passes outdir and context to the App itself, so the toolkit need not set them
      // through this process's environment, where they would outlive the synth.
      clobberEnv: false,
    },
  );
}
