import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { bundleForNode } from '../../appliance-image/build';
import { StoppedError, waitFor } from '../services/ports';
import { RegionGatewaySettings, RESULT_PREFIX } from './region-protocol';

/** One metric value a function published (CloudWatch embedded metric format on its stdout). */
export interface MetricSample {
  readonly region: string;
  readonly name: string;
  readonly value: number;
  readonly atMs: number;
}

export interface RegionProcessOptions {
  /** The AWS region the process plays, e.g. `us-east-1`. */
  readonly region: string;
  /** The functions' environment: what their constructs set, pointed at the local services. */
  readonly environment: Readonly<Record<string, string>>;
  /** Where the functions' log lines go. */
  readonly logFile: string;
  readonly onMetric?: (sample: MetricSample) => void;
}

/** Bundles the region process as the Lambdas are bundled (esbuild, one file), so it starts in a fraction of a second. */
export function bundleRegion(outfile: string): string {
  return bundleForNode(path.join(__dirname, 'region-main.ts'), outfile);
}

/**
 * A local region of the control plane: the bundled handlers in a process of their own, so that
 * stopping a region is stopping a process, as an outage would. Their log lines go to a file and
 * their metrics to `onMetric`.
 */
export class LocalRegionProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly region: string,
    readonly url: string,
  ) {}

  static async start(bundle: string, gateway: RegionGatewaySettings, options: RegionProcessOptions): Promise<LocalRegionProcess> {
    const child = spawnRegion(bundle, ['serve'], { ...options.environment, NEARSTREAM_LOCAL_REGION: JSON.stringify(gateway) }, options);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    const url = `http://127.0.0.1:${gateway.port}`;
    const region = new LocalRegionProcess(child, options.region, url);
    try {
      await waitFor(
        async () => {
          if (child.exitCode !== null) {
            throw new StoppedError(`the region process exited ${child.exitCode}: ${stderr.trim()}`);
          }
          const response = await fetch(`${url}/health`);
          if (response.status !== 200) {
            throw new Error(`/health answered ${response.status}: ${await response.text()}`);
          }
        },
        20_000,
        `region ${options.region} on ${url}`,
      );
    } catch (error) {
      await region.stop();
      throw error;
    }
    return region;
  }

  /** Runs the nightly planning function once in a process of its own, as the scheduler invokes it. */
  static async invokePlanning(bundle: string, options: RegionProcessOptions): Promise<{ planned: number }> {
    const child = spawnRegion(bundle, ['invoke', 'planning'], options.environment, options, (line) => {
      if (line.startsWith(RESULT_PREFIX)) {
        result = JSON.parse(line.slice(RESULT_PREFIX.length));
      }
    });
    let result: { planned: number } | undefined;
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0 || !result) {
      throw new Error(`planning in ${options.region} exited ${code}: ${stderr.trim() || 'no result'}`);
    }
    return result;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(): Promise<void> {
    if (!this.running) {
      return;
    }
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

function spawnRegion(
  bundle: string,
  args: readonly string[],
  environment: Readonly<Record<string, string>>,
  options: RegionProcessOptions,
  onLine?: (line: string) => void,
): ChildProcess {
  fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
  const log = fs.createWriteStream(options.logFile, { flags: 'a' });
  const child = spawn(process.execPath, ['--enable-source-maps', bundle, ...args], {
    env: { PATH: process.env.PATH ?? '', NEARSTREAM_TEST_RUN: process.env.NEARSTREAM_TEST_RUN ?? '', ...environment },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    onLine?.(line);
    const samples = metricSamples(line, options.region);
    if (samples) {
      samples.forEach((sample) => options.onMetric?.(sample));
    } else {
      log.write(`${line}\n`);
    }
  });
  child.once('exit', () => log.end());
  return child;
}

/** The metric values in one embedded-metric-format line, or undefined when it is not one. */
export function metricSamples(line: string, region: string): MetricSample[] | undefined {
  if (!line.startsWith('{') || !line.includes('"_aws"')) {
    return undefined;
  }
  try {
    const document = JSON.parse(line) as Record<string, unknown> & { _aws?: { Timestamp?: number; CloudWatchMetrics?: { Metrics?: { Name: string }[] }[] } };
    const directives = document._aws?.CloudWatchMetrics;
    if (!directives) {
      return undefined;
    }
    const atMs = document._aws?.Timestamp ?? Date.now();
    return directives.flatMap((directive) =>
      (directive.Metrics ?? []).flatMap(({ Name }) => [document[Name]].flat().filter((value): value is number => typeof value === 'number').map((value) => ({ region, name: Name, value, atMs }))),
    );
  } catch {
    return undefined;
  }
}
