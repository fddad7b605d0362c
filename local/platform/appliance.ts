import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AgentConfig } from '../../appliance-image/agent/src/config';
import { renderEdgeConfig } from '../../appliance-image/agent/src/edge-config';
import { EdgeServer } from '../services/edge-server';
import { SlowPath } from '../services/slow-path';
import { LOCAL_AWS_CREDENTIALS } from './platform-state';

const IMAGE_DIR = path.join(__dirname, '..', '..', 'appliance-image');

/** One appliance of the local fleet: who it is and where it stands. */
export interface ApplianceSpec {
  readonly applianceId: string;
  readonly clusterId: string;
  /** The region whose control plane it registers with and whose planner fills its cluster. */
  readonly region: string;
  readonly controlPlaneUrl: string;
  readonly prefixes: readonly string[];
  readonly port: number;
}

export interface ApplianceFiles {
  readonly dir: string;
  readonly configFile: string;
  readonly nginxPrefix: string;
  readonly accessLog: string;
}

export function applianceFiles(appliancesDir: string, applianceId: string): ApplianceFiles {
  const dir = path.join(appliancesDir, applianceId);
  return { dir, configFile: path.join(dir, 'agent.json'), nginxPrefix: path.join(dir, 'nginx'), accessLog: path.join(dir, 'nginx', 'logs', 'access.json') };
}

/**
 * The environment the agent runs with: the local credentials (the S3 server knows only its own
 * key, so every appliance is the same principal locally; in AWS each has its role).
 */
export function agentEnvironment(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    NEARSTREAM_TEST_RUN: process.env.NEARSTREAM_TEST_RUN ?? '',
    ...LOCAL_AWS_CREDENTIALS,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/** Writes the agent's config as the node's `configure` step would, with the keys it serves by. */
export function writeApplianceConfig(
  files: ApplianceFiles,
  spec: ApplianceSpec,
  origin: { readonly bucket: string; readonly s3Endpoint: string },
  urlSigningKeyring: string,
): AgentConfig {
  for (const dir of ['cache', 'state']) {
    fs.mkdirSync(path.join(files.dir, dir), { recursive: true, mode: 0o755 });
  }
  const keyringFile = path.join(files.dir, 'keyring.json');
  // nginx's workers read it; on a node they are in the agent's group, here they are anyone.
  fs.writeFileSync(keyringFile, urlSigningKeyring, { mode: 0o644 });
  const config: AgentConfig = {
    applianceId: spec.applianceId,
    clusterId: spec.clusterId,
    region: spec.region,
    controlPlaneUrl: spec.controlPlaneUrl,
    baseUrl: `http://127.0.0.1:${spec.port}`,
    prefixes: [...spec.prefixes],
    capacity: { egressGbps: 1, diskBytes: 4_000_000_000 },
    originBucket: origin.bucket,
    s3Endpoint: origin.s3Endpoint,
    cacheDir: path.join(files.dir, 'cache'),
    stateDir: path.join(files.dir, 'state'),
    keyringFile,
    diskCeilingBytes: 3_000_000_000,
    bandwidthCapBytesPerSecond: 400_000_000,
    parallelism: 4,
    edge: { accessLog: files.accessLog, statusUrl: `http://127.0.0.1:${spec.port}/nginx_status`, maxConnections: 2_000 },
    fillWindow: { startHourUtc: 2, endHourUtc: 6 },
  };
  fs.writeFileSync(files.configFile, `${JSON.stringify(config, null, 2)}\n`);
  return config;
}

/**
 * A running appliance: the real edge configuration in nginx on its own port and cache, and the
 * real agent's `serve` loop reporting to its region. `fill` runs the agent's nightly fill now.
 */
export class LocalAppliance {
  private agent?: ChildProcess;
  private slowPath?: SlowPath;

  private constructor(
    readonly spec: ApplianceSpec,
    readonly files: ApplianceFiles,
    private edge: EdgeServer,
    private readonly agentBundle: string,
    private readonly startEdge: (port?: number) => Promise<EdgeServer>,
  ) {}

  static async start(spec: ApplianceSpec, files: ApplianceFiles, config: AgentConfig, agentBundle: string): Promise<LocalAppliance> {
    const template = fs.readFileSync(path.join(IMAGE_DIR, 'nginx', 'nearstream-edge.conf.template'), 'utf8');
    const startEdge = (port?: number) =>
      EdgeServer.start(
        files.nginxPrefix,
        (listen) => renderEdgeConfig(template, config, { listen, njsDir: path.join(IMAGE_DIR, 'nginx'), accessLog: files.accessLog }),
        port,
        // The working directory may be anywhere (under a 0700 home, say), where nginx's default
        // unprivileged worker could not reach the cache: locally the workers run as whoever started
        // the platform. On a node they run as www-data, in the agent's group.
        process.getuid?.() === 0 ? 'root' : undefined,
      );
    return new LocalAppliance(spec, files, await startEdge(spec.port), agentBundle, startEdge);
  }

  /**
   * A chaos drill's degraded appliance: every request waits `delayMs` before nginx sees it, as
   * behind a slow cache disk. nginx moves to a free port behind a slow path on the appliance's own.
   */
  async slowDown(delayMs: number): Promise<void> {
    if (this.slowPath) {
      throw new Error(`${this.spec.applianceId} is already slowed down`);
    }
    await this.edge.stop();
    this.edge = await this.startEdge();
    this.slowPath = await SlowPath.start(this.spec.port, this.edge.port, delayMs);
  }

  /** A chaos drill's killed appliance: nginx stops, as a terminated node's would; the agent is left to notice. */
  async killEdge(): Promise<void> {
    await this.edge.stop();
  }

  /** Ends `killEdge`: nginx serves again, as the replacement node's would. */
  async reviveEdge(): Promise<void> {
    await this.edge.stop();
    this.edge = await this.startEdge(this.spec.port);
  }

  /** Ends `slowDown`: nginx serves on the appliance's own port again. */
  async restoreSpeed(): Promise<void> {
    const slowPath = this.slowPath;
    if (!slowPath) {
      return;
    }
    this.slowPath = undefined;
    await slowPath.stop();
    await this.edge.stop();
    this.edge = await this.startEdge(this.spec.port);
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.spec.port}`;
  }

  /** Starts the agent's `serve` loop: a health and inventory report now and every 30 s. */
  startAgent(logFile: string): void {
    const log = fs.openSync(logFile, 'a');
    this.agent = spawn(process.execPath, [this.agentBundle, 'serve', '--config', this.files.configFile], {
      env: agentEnvironment(),
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
  }

  /** Stops nginx and the agent: what a dead appliance looks like to players and to the control plane. */
  async stop(): Promise<void> {
    const agent = this.agent;
    const agentStopped =
      agent && agent.exitCode === null && agent.signalCode === null
        ? new Promise((resolve) => {
            agent.once('exit', resolve);
            agent.kill('SIGTERM');
          })
        : undefined;
    // Players notice the edge first, as they would a node losing power.
    await this.slowPath?.stop();
    this.slowPath = undefined;
    await this.edge.stop();
    await agentStopped;
  }
}

/** Runs the real agent's fill now (`--ignore-window`): register, manifest, verify, download, report. */
export function runFill(agentBundle: string, configFile: string, logFile: string): Promise<{ code: number | null; lastLine: string }> {
  return runAgent(agentBundle, ['fill', '--ignore-window', '--config', configFile], logFile);
}

/** Runs one agent command to its end, its output appended to `logFile`; a non-zero exit is the caller's to judge. */
export function runAgent(agentBundle: string, args: readonly string[], logFile: string): Promise<{ code: number | null; lastLine: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [agentBundle, ...args], { env: agentEnvironment(), stdio: ['ignore', 'pipe', 'pipe'] });
    const log = fs.createWriteStream(logFile, { flags: 'a' });
    let lastLine = '';
    for (const stream of [child.stdout!, child.stderr!]) {
      stream.on('data', (chunk: Buffer) => {
        log.write(chunk);
        const lines = chunk.toString().trim().split('\n');
        lastLine = lines[lines.length - 1] || lastLine;
      });
    }
    child.once('error', reject);
    child.once('exit', (code) => {
      log.end();
      resolve({ code, lastLine });
    });
  });
}
