import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { addComplianceChecks } from '../../lib/compliance';
import { EnvironmentInput, resolveEnvironment } from '../../lib/config/environment';
import { NearstreamEnvironment } from '../../lib/nearstream-environment';

export interface SynthOptions {
  /** Run cdk-nag and cfn-guard as `bin/` does. Slower; only the compliance tests need it. */
  readonly compliance?: boolean;
  /** Adds to the stage before synth, e.g. a deliberately non-compliant resource. */
  readonly extend?: (environment: NearstreamEnvironment) => void;
}

/** The feature flags and context `cdk.json` gives the real app: tests synthesize what users deploy. */
const CDK_JSON_CONTEXT = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8')).context as Record<string, unknown>;

/** An app as `cdk.json` configures the real one, without bundling, writing into a scratch directory. */
export function testApp(prefix: string): { app: App; outdir: string } {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { app: new App({ outdir, context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] } }), outdir };
}

/** Synthesizes `app`, returning the compliance plugins' reports and the error synth failed with, if any. */
export function synthesizeReporting(app: App, outdir: string): { synthError?: string; pluginReports: PluginReport[] } {
  let synthError: string | undefined;
  try {
    app.synth();
  } catch (error) {
    synthError = (error as Error).message;
  }
  const reportFile = path.join(outdir, 'validation-report.json');
  const pluginReports: PluginReport[] = fs.existsSync(reportFile) ? JSON.parse(fs.readFileSync(reportFile, 'utf8')).pluginReports : [];
  return { synthError, pluginReports };
}

/** A violation as CDK's policy validation report lists it. */
export interface ReportedViolation {
  readonly ruleName: string;
  readonly description: string;
  readonly violatingConstructs: readonly { readonly constructPath: string }[];
  readonly acknowledgedId?: string;
  readonly reason?: string;
}

export interface PluginReport {
  readonly pluginName: string;
  readonly violations: readonly ReportedViolation[];
  readonly suppressedViolations?: readonly ReportedViolation[];
}

export interface SynthesizedEnvironment {
  readonly environment: NearstreamEnvironment;
  /** Plugin reports with anything to say; empty when compliance checks were off or all passed clean. */
  readonly pluginReports: readonly PluginReport[];
  /** The message synth failed with, if it did. */
  readonly synthError?: string;
  /** Context the app asked CDK to look up in an account (the CLI would fail without credentials). */
  readonly missingContext: readonly string[];
  template(stack: Stack): Template;
}

/**
 * Builds an environment the way `bin/nearstream.ts` does, without bundling Lambda code (the infra
 * tests are about templates, not bundles), and synthesizes it into a scratch directory.
 */
export function synthEnvironment(input: EnvironmentInput, options: SynthOptions = {}): SynthesizedEnvironment {
  const { app, outdir } = testApp('nearstream-synth-');
  const config = resolveEnvironment(input);
  const environment = new NearstreamEnvironment(app, `Nearstream-${config.name}`, { config });
  options.extend?.(environment);
  if (options.compliance) {
    addComplianceChecks(app);
  }
  const { synthError, pluginReports } = synthesizeReporting(app, outdir);
  const manifestFile = path.join(outdir, 'manifest.json');
  const missingContext: string[] = fs.existsSync(manifestFile)
    ? (JSON.parse(fs.readFileSync(manifestFile, 'utf8')).missing ?? []).map((entry: { key: string }) => entry.key)
    : [];
  const templates = new Map<Stack, Template>();
  return {
    environment,
    pluginReports,
    synthError,
    missingContext,
    template(stack: Stack): Template {
      let template = templates.get(stack);
      if (!template) {
        template = Template.fromStack(stack, { skipCyclicalDependenciesCheck: true });
        templates.set(stack, template);
      }
      return template;
    },
  };
}
