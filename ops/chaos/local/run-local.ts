import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ChaosExperiment } from '../../../lib/chaos/catalog';
import type { LocalPlatform } from '../../../local/platform/platform';
import { drillViewerTokens, LocalDrillOptions, LocalDrillResult, runLocalDrill } from './drill';
import { drillsHtml } from './html-report';

export interface LocalDrillsOptions extends LocalDrillOptions {
  /** Concurrent CLI players, each a viewer of its own starting a play every `pacingSeconds`. @default 20 */
  readonly players?: number;
  /** Where the HTML report is written. */
  readonly reportsDir: string;
  readonly out: (line: string) => void;
}

export interface LocalDrillsOutcome {
  readonly results: readonly LocalDrillResult[];
  /** The HTML report written. */
  readonly reportFile: string;
  readonly passed: boolean;
}

/**
 * Runs `experiments` one after another on a running local platform, prints each verdict and a
 * summary, and writes one HTML report under `reportsDir`.
 */
export async function runLocalDrills(
  platform: LocalPlatform,
  experiments: readonly ChaosExperiment[],
  options: LocalDrillsOptions,
): Promise<LocalDrillsOutcome> {
  const tokens = await drillViewerTokens(platform, options.players ?? 20);
  const results: LocalDrillResult[] = [];
  for (const experiment of experiments) {
    options.out(`${experiment.name}: ${tokens.length} players for ${options.seconds ?? 90} s, the fault in the middle third`);
    const result = await runLocalDrill(platform, experiment, tokens, { ...options, log: options.out });
    results.push(result);
    options.out(verdictLine(result));
    for (const failure of result.verdict.failures) {
      options.out(`  ${failure}`);
    }
  }
  const generatedAt = new Date();
  fs.mkdirSync(options.reportsDir, { recursive: true });
  const reportFile = path.join(options.reportsDir, `chaos-${generatedAt.toISOString().replace(/[:.]/g, '-')}.html`);
  fs.writeFileSync(reportFile, drillsHtml(results, generatedAt));
  const passed = results.every((result) => result.verdict.passed);
  if (results.length > 1) {
    options.out(`summary: ${results.filter((result) => result.verdict.passed).length} of ${results.length} drills passed`);
    for (const result of results) {
      options.out(`  ${result.verdict.passed ? 'PASS' : 'FAIL'} ${result.experiment.name}`);
    }
  }
  options.out(`report: ${reportFile}`);
  return { results, reportFile, passed };
}

function verdictLine(result: LocalDrillResult): string {
  const { verdict, experiment } = result;
  const sps = [
    `SPS ${verdict.total.baselineSps.toFixed(2)}→${verdict.total.faultSps.toFixed(2)} (dip ${verdict.total.dipPercent.toFixed(1)}%, ${experiment.maxSpsDipPercent}% allowed)`,
    ...verdict.regions.map((region) => `${region.region} ${region.baselineSps.toFixed(2)}→${region.faultSps.toFixed(2)}`),
  ].join('; ');
  return `${verdict.passed ? 'PASS' : 'FAIL'} ${experiment.name}: ${verdict.plays} plays, ${verdict.incompletePlays} incomplete, rebuffer ${(verdict.rebufferRatio * 100).toFixed(1)}%, failed fetches ${(verdict.failedFetchRatio * 100).toFixed(1)}%; ${sps}`;
}
