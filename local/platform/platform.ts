import * as fs from 'node:fs';
import * as path from 'node:path';
import { TELEMETRY_METRICS } from '../../lambda/shared/metric-names';
import { Codec } from '../../lambda/catalog/catalog';
import { ViewerStore } from '../../lambda/playback/viewer-store';
import { bundleAgent } from '../../appliance-image/build';
import { EnvironmentConfig, resolveEnvironment } from '../../lib/config/environment';
import { LOCAL_VIEWER_AUDIENCE, LocalOidcIssuer } from '../identity/oidc-issuer';
import { LocalCloudFront, s3ObjectFetcher } from '../origin-tier/local-cloudfront';
import { bundleRegion, LocalRegionProcess, MetricSample } from '../region/local-region';
import { DynamoDbLocal } from '../services/dynamodb-local';
import { portFree } from '../services/ports';
import { S3Server } from '../services/s3-server';
import { LocalSecretsManager } from '../services/secrets-server';
import { applianceFiles, ApplianceSpec, LocalAppliance, runAgent, writeApplianceConfig } from './appliance';
import { makeDemoClip } from './demo-clip';
import { acquireInstanceLock } from './instance-lock';
import { loadOrCreateKeys, PlatformKeys } from './keys';
import { layoutOf, namedPorts, PlatformLayout, PlatformPorts, portsOf } from './layout';
import { encodeUpload, fillAppliances, planRegions } from './operations';
import { regionEndpoints } from './login';
import { platformStatusSource } from './platform-status';
import { ConsoleServer } from '../web/console-server';
import { installMissing } from '../prerequisites';
import { PlatformState, regionEnvironment, resourceNames, writePlatformState } from './platform-state';
import { startRegionalKms } from './regional-kms';
import { Progress } from './progress';

/** The two local clusters: an ISP near the player (a narrow prefix) in region A, a wider one in region B. */
const CLUSTERS = [
  { clusterId: 'isp-a', regionIndex: 0, prefixes: ['127.0.0.0/24'] },
  { clusterId: 'isp-b', regionIndex: 1, prefixes: ['127.0.0.0/8'] },
] as const;

export interface LocalPlatformOptions {
  /** @default `.nearstream` */
  readonly workdir: string;
  /** Start over: remove the working directory's data first. */
  readonly fresh: boolean;
  readonly basePort: number;
  /** @default 3, in 2 clusters */
  readonly appliances: number;
  /** Seed this video instead of a generated test clip. */
  readonly video?: string;
  /** @default ['avc1', 'av01'] */
  readonly codecs: readonly Codec[];
  /**
   * Whether the demo title is encrypted (cbcs, ClearKey licenses from the regions); a protected
   * demo leaves AV1 out, which the local packager cannot encrypt.
   * @default 'on'
   */
  readonly demoProtection?: 'on' | 'off';
  /** Progress lines. */
  readonly log: (line: string) => void;
  /** All the numbered steps the caller will show, the platform's included. @default PLATFORM_STEPS */
  readonly totalSteps?: number;
  /**
   * Keep the tables in the working directory across restarts; without, DynamoDB Local holds them in
   * memory (several times the write rate: the play benchmark measures the play path, not its disk).
   * @default true
   */
  readonly keepTables?: boolean;
  /**
   * DELIBERATELY BROKEN steering, for chaos drills that must catch it: each region's `/play`
   * grants keep only their first this-many sources.
   * @default - every source steering ranked
   */
  readonly playSourcesLimit?: number;
  /** Aborting it (Ctrl-C) cuts the start short: the encode under way is killed, no further step starts. */
  readonly signal?: AbortSignal;
}

/** The dev viewer the platform creates, on the premium plan. */
export const DEV_VIEWER = { username: 'dev', sub: 'dev-viewer' } as const;

/** The numbered steps `LocalPlatform.start` shows; the caller's own steps follow. */
export const PLATFORM_STEPS = 7;

/**
 * The whole platform on one machine: DynamoDB Local, an S3 server, the Secrets Manager, OIDC and
 * CloudFront stand-ins, two local regions running the real handlers, and appliances running the
 * real edge and agent; seeded with a title, planned and filled. `stop()` stops everything it
 * started, in reverse order, whatever step it reached.
 */
export class LocalPlatform {
  private readonly stoppers: { what: string; stop: () => Promise<void> | void }[] = [];
  readonly regions: LocalRegionProcess[] = [];
  readonly appliances: LocalAppliance[] = [];
  readonly metrics: MetricSample[] = [];
  private page: Promise<ConsoleServer> | undefined;
  readonly config: EnvironmentConfig = resolveEnvironment({ name: 'local' });
  readonly layout: PlatformLayout;
  readonly ports: PlatformPorts;
  state!: PlatformState;
  issuer!: LocalOidcIssuer;
  /** Read once, when the services start. */
  private keys!: PlatformKeys;
  progress: Progress;

  private constructor(readonly options: LocalPlatformOptions) {
    this.layout = layoutOf(options.workdir);
    this.ports = portsOf(options.basePort, options.appliances);
    this.progress = new Progress(options.totalSteps ?? PLATFORM_STEPS, options.log, options.signal);
  }

  /** Runs the start steps; on a failure, stops what it started and throws the step's error. */
  static async start(options: LocalPlatformOptions): Promise<LocalPlatform> {
    const platform = new LocalPlatform(options);
    try {
      await platform.run();
    } catch (error) {
      await platform.stop();
      throw error;
    }
    return platform;
  }

  private async run(): Promise<void> {
    const { layout, ports, options, progress } = this;
    await progress.step('prerequisites: Java (DynamoDB Local), nginx with njs, ffmpeg', async (note) => {
      const installed = installMissing(['start'], note);
      note(installed.length > 0 ? `installed ${installed.join(' ')}` : 'all present');
    });
    await progress.step('working directory, ports and builds', async (note) => {
      fs.mkdirSync(layout.root, { recursive: true, mode: 0o755 });
      const release = acquireInstanceLock(
        layout.lockFile,
        (pid) => `a local platform is already running from ${layout.root} (pid ${pid})${runningPage(layout.stateFile)}. Stop it with Ctrl-C there, or use another --workdir and --port`,
      );
      this.stoppers.push({ what: 'lock', stop: release });
      await assertPortsFree(ports);
      if (options.fresh) {
        for (const entry of fs.readdirSync(layout.root)) {
          if (path.join(layout.root, entry) !== layout.lockFile) {
            fs.rmSync(path.join(layout.root, entry), { recursive: true, force: true });
          }
        }
        note(`started over: ${layout.root} emptied`);
      }
      for (const dir of [layout.logsDir, layout.buildDir, layout.mediaDir, layout.appliancesDir]) {
        fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
      }
      bundleRegion(path.join(layout.buildDir, 'region.js'));
      bundleAgent(path.join(layout.buildDir, 'nearstream-agent.js'));
      note(`data in ${layout.root}; region and agent bundles built`);
    });
    await progress.step('DynamoDB Local, S3, Secrets Manager, KMS, OIDC issuer, CloudFront stand-ins', (note) => this.startServices(note));
    await progress.step('two local regions: the real handlers behind the deployed route table', (note) => this.startRegions(note));
    await progress.step(`${options.appliances} appliances in ${Math.min(options.appliances, CLUSTERS.length)} clusters: nginx edge and agent`, (note) => this.startAppliances(note));
    await progress.step('demo title: encode, publish, catalog', (note, signal) => this.seed(note, signal));
    await progress.step('nightly fill planning in both regions, then fill every appliance (verify every byte)', async (note) => {
      for (const { region, planned } of await planRegions(this.state, this.config)) {
        note(`${region}: ${planned} cluster manifest(s) announced`);
      }
      await fillAppliances(this.state, note);
      for (const appliance of this.appliances) {
        appliance.startAgent(path.join(layout.logsDir, `agent-${appliance.spec.applianceId}.log`));
      }
      note('agents serving: each reports its health and titles every 30 s');
    });
  }

  private async startServices(note: (line: string) => void): Promise<void> {
    const { layout, ports, config } = this;
    const keys = (this.keys = loadOrCreateKeys(layout.keysFile));
    const names = resourceNames(config);
    fs.mkdirSync(layout.dynamodbDir, { recursive: true });
    const dynamo = await DynamoDbLocal.start({ port: ports.dynamodb, dataDir: this.options.keepTables === false ? undefined : layout.dynamodbDir });
    this.stoppers.push({ what: 'DynamoDB Local', stop: () => dynamo.stop() });
    await dynamo.createControlTable(names.tableName);
    const s3 = await S3Server.start([names.buckets.source, names.buckets.origin], { port: ports.s3, directory: layout.s3Dir });
    this.stoppers.push({ what: 'S3 server', stop: () => s3.stop() });
    const secrets = await LocalSecretsManager.start(
      new Map([
        [names.secretNames.urlSigning, keys.urlSigningKeyring],
        [names.secretNames.originSigning, JSON.stringify({ keyPairId: keys.origin.keyPairId, generation: keys.origin.generation, privateKeyPem: keys.origin.privateKeyPem })],
      ]),
      ports.secrets,
    );
    this.stoppers.push({ what: 'Secrets Manager stand-in', stop: () => secrets.stop() });
    const kms = await startRegionalKms({
      regions: [config.primaryRegion, config.secondaryRegion],
      alias: names.contentKeyAlias,
      stateFile: layout.kmsStateFile,
      ports: ports.kms,
      onStarted: (started) => this.stoppers.push({ what: `KMS stand-in ${started.region}`, stop: () => started.stop() }),
    });
    const pageUrl = `http://127.0.0.1:${ports.page}`;
    this.issuer = await LocalOidcIssuer.start({
      port: ports.issuer,
      directory: layout.identityDir,
      accounts: [{ ...DEV_VIEWER, password: keys.viewerPassword }],
      corsAllowedOrigins: pageOrigins(ports.page),
    });
    this.stoppers.push({ what: 'OIDC issuer', stop: () => this.issuer.stop() });
    const s3Client = s3.client();
    const cloudfront = await LocalCloudFront.start({
      port: ports.cloudfront,
      publicKeys: { [keys.origin.keyPairId]: keys.origin.publicKeyPem },
      fetchObject: s3ObjectFetcher(s3Client, names.buckets.origin),
    });
    this.stoppers.push({ what: 'CloudFront stand-in', stop: async () => {
      await cloudfront.stop();
      s3Client.destroy();
    } });
    const documents = dynamo.documentClient();
    await new ViewerStore(documents, names.tableName).putPlan(DEV_VIEWER.sub, 'premium');
    documents.destroy();
    this.state = {
      pid: process.pid,
      pageUrl,
      workdir: layout.root,
      issuer: { url: this.issuer.issuer, tokenUrl: this.issuer.tokenUrl, jwksUrl: this.issuer.jwksUrl, audience: LOCAL_VIEWER_AUDIENCE },
      viewer: { ...DEV_VIEWER, password: keys.viewerPassword },
      endpoints: { dynamodb: dynamo.endpoint, s3: s3.endpoint, secrets: secrets.endpoint, cloudfront: cloudfront.url, kms: Object.fromEntries(kms.map((stand) => [stand.region, stand.endpoint])) },
      ...names,
      regions: [
        { label: 'A', name: config.primaryRegion, url: `http://127.0.0.1:${ports.regions[0]}` },
        { label: 'B', name: config.secondaryRegion, url: `http://127.0.0.1:${ports.regions[1]}` },
      ],
      appliances: [],
      bundles: { region: path.join(layout.buildDir, 'region.js'), agent: path.join(layout.buildDir, 'nearstream-agent.js') },
      logsDir: layout.logsDir,
    };
    note(`DynamoDB Local ${dynamo.endpoint} (one database for both regions: replication is instant), S3 ${s3.endpoint}, issuer ${this.issuer.issuer}, CloudFront ${cloudfront.url}`);
    note(`KMS ${kms.map((stand) => `${stand.region} ${stand.endpoint}`).join(', ')}: one content key per region, alias ${names.contentKeyAlias}`);
  }

  private async startRegions(note: (line: string) => void): Promise<void> {
    await Promise.all(
      this.state.regions.map(async (region, index) => {
        const process = await LocalRegionProcess.start(
          this.state.bundles.region,
          {
            port: this.ports.regions[index],
            issuer: this.state.issuer.url,
            audiences: [this.state.issuer.audience],
            jwksUrl: this.state.issuer.jwksUrl,
            corsAllowedOrigins: pageOrigins(this.ports.page),
            faultFile: this.faultFile(region.name),
            playSourcesLimit: this.options.playSourcesLimit,
          },
          {
            region: region.name,
            environment: regionEnvironment(this.state, this.config, region.name),
            logFile: path.join(this.layout.logsDir, `region-${region.name}.log`),
            onMetric: (sample) => this.recordMetric(sample),
          },
        );
        this.regions[index] = process;
        this.stoppers.push({ what: `region ${region.label}`, stop: () => process.stop() });
        note(`region ${region.label} (${region.name}): ${region.url}`);
      }),
    );
  }

  private async startAppliances(note: (line: string) => void): Promise<void> {
    const specs: ApplianceSpec[] = this.ports.appliances.map((port, i) => {
      const cluster = CLUSTERS[i % CLUSTERS.length];
      const region = this.state.regions[cluster.regionIndex];
      const ordinal = Math.floor(i / CLUSTERS.length) + 1;
      return { applianceId: `oca-${cluster.clusterId.slice(-1)}${ordinal}`, clusterId: cluster.clusterId, region: region.name, controlPlaneUrl: region.url, prefixes: cluster.prefixes, port };
    });
    const keys = this.keys;
    for (const spec of specs) {
      const files = applianceFiles(this.layout.appliancesDir, spec.applianceId);
      const config = writeApplianceConfig(files, spec, { bucket: this.state.buckets.origin, s3Endpoint: this.state.endpoints.s3 }, keys.urlSigningKeyring);
      const appliance = await LocalAppliance.start(spec, files, config, this.state.bundles.agent);
      this.appliances.push(appliance);
      this.stoppers.push({ what: `appliance ${spec.applianceId}`, stop: () => appliance.stop() });
      const registered = await runAgent(this.state.bundles.agent, ['register', '--config', files.configFile], path.join(this.layout.logsDir, `agent-${spec.applianceId}.log`));
      if (registered.code !== 0) {
        throw new Error(`${spec.applianceId} could not register: ${registered.lastLine}`);
      }
      note(`${spec.applianceId} in ${spec.clusterId} (${spec.prefixes.join(', ')}, region ${spec.region}): ${appliance.baseUrl}`);
    }
    this.state = {
      ...this.state,
      appliances: this.appliances.map((appliance) => ({
        applianceId: appliance.spec.applianceId,
        clusterId: appliance.spec.clusterId,
        region: appliance.spec.region,
        baseUrl: appliance.baseUrl,
        configFile: appliance.files.configFile,
        accessLog: appliance.files.accessLog,
      })),
    };
    writePlatformState(this.layout.stateFile, this.state);
    this.stoppers.push({ what: 'state file', stop: () => fs.rmSync(this.layout.stateFile, { force: true }) });
  }

  private async seed(note: (line: string) => void, signal?: AbortSignal): Promise<void> {
    const video = this.options.video ?? (await makeDemoClip(this.layout.mediaDir, note, signal));
    const title = await encodeUpload(this.state, this.config, video, { codecs: this.options.codecs, protection: this.options.demoProtection ?? 'on', signal, log: note });
    const codecs = Object.keys(title.manifests).join(', ');
    const protection = title.protection ? `protected (${title.protection.scheme}, ClearKey; keys ${title.protection.keys.map((key) => key.group).join(', ')})` : 'in the clear';
    note(`'${title.name}' (${title.titleId}): ${title.durationSeconds.toFixed(1)} s, ${title.renditions.length} renditions (${codecs}), ${protection}, available`);
    this.state = { ...this.state, demoTitleId: title.titleId };
    writePlatformState(this.layout.stateFile, this.state);
  }

  /** Where a chaos drill writes the faults for a region's functions (`FaultSettings`); read per request. */
  faultFile(region: string): string {
    return path.join(this.layout.root, 'faults', `${region}.json`);
  }

  private recordMetric(sample: MetricSample): void {
    this.metrics.push(sample);
    const horizon = Date.now() - 60_000;
    while (this.metrics.length > 0 && this.metrics[0].atMs < horizon) {
      this.metrics.shift();
    }
  }

  /** Stream starts per second in a region over the last `windowSeconds`, from its functions' metrics: the steady state, as CloudWatch's SPS alarm reads it. */
  streamStartsPerSecond(region: string, windowSeconds = 10): number {
    return this.metricSum(region, TELEMETRY_METRICS.streamStarts, windowSeconds) / windowSeconds;
  }

  /** Plays players reported failed in a region over the last `windowSeconds` (at most the 60 s kept). */
  playFailures(region: string, windowSeconds = 60): number {
    return this.metricSum(region, TELEMETRY_METRICS.playFailures, windowSeconds);
  }

  private metricSum(region: string, name: string, windowSeconds: number): number {
    const since = Date.now() - windowSeconds * 1000;
    return this.metrics.filter((sample) => sample.region === region && sample.name === name && sample.atMs >= since).reduce((sum, sample) => sum + sample.value, 0);
  }

  /** Stops everything started, newest first; every stopper runs even when one fails. */
  async stop(): Promise<void> {
    const failures: string[] = [];
    for (const { what, stop } of this.stoppers.splice(0).reverse()) {
      try {
        await stop();
      } catch (error) {
        failures.push(`${what}: ${(error as Error).message}`);
      }
    }
    if (failures.length > 0) {
      throw new Error(`stopping the local platform: ${failures.join('; ')}`);
    }
  }

  /** Serves the web page until `stop()`. */
  async openPage(): Promise<ConsoleServer> {
    // One page per platform: it has one port, and a second open would collide on it.
    this.page ??= this.startPage().catch((error: Error) => {
      this.page = undefined;
      throw error;
    });
    return this.page;
  }

  private async startPage(): Promise<ConsoleServer> {
    const status = platformStatusSource(this.state, (region) => ({ streamStartsPerSecond: this.streamStartsPerSecond(region), playFailuresLastMinute: this.playFailures(region) }));
    const page = await ConsoleServer.start({
      port: this.ports.page,
      config: () => ({
        regions: regionEndpoints(this.state),
        login: { tokenUrl: this.state.issuer.tokenUrl, username: this.state.viewer.username, password: this.state.viewer.password },
        device: { codecs: ['av01', 'avc1'], maxHeight: 1080 },
      }),
      status,
    });
    this.stoppers.push({ what: 'web page', stop: () => page.stop() });
    return page;
  }
}

/** The page's origins: the console server answers on both names of loopback. */
function pageOrigins(port: number): string[] {
  return [`http://127.0.0.1:${port}`, `http://localhost:${port}`];
}

/** Where the running platform's page is, from the state file it wrote. */
function runningPage(stateFile: string): string {
  try {
    return `; its page is ${(JSON.parse(fs.readFileSync(stateFile, 'utf8')) as PlatformState).pageUrl}/`;
  } catch {
    return '';
  }
}

/** Fails naming the first port something else holds, before anything starts. */
async function assertPortsFree(ports: PlatformPorts): Promise<void> {
  for (const { port, what } of namedPorts(ports)) {
    if (!(await portFree(port))) {
      throw new Error(`port ${port} (${what}) is in use by another program; choose another base with --port`);
    }
  }
}
