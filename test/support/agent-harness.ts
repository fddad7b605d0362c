import { ChildProcess, spawn } from 'node:child_process';
import { MetricRecorder } from './metric-recorder';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { createFleetHandler } from '../../lambda/fleet/handler';
import { FleetStore } from '../../lambda/fleet/fleet-store';
import { itemKeys } from '../../lambda/shared/control-table';
import { ManifestObject, placementOrder, signManifest } from '../../lambda/shared/fill-manifest';
import { LocalGateway } from '../../local/api/local-gateway';
import { bundleAgent } from '../../appliance-image/build';
import { DynamoDbLocal } from './dynamodb-local';
import { TEST_KEYRING } from './fixtures';
import { AwsCall } from './iam/call-permissions';
import { Principal } from './iam/least-privilege';
import { SigV4RecordingProxy } from './iam/sigv4-recording-proxy';
import { ProcessResult, runProcess } from './run-process';
import { S3Server } from './s3-server';

export const AGENT_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };
export const AGENT_PRINCIPAL = 'arn:aws:iam::000000000000:user/S3RVER';
/** Who the agent acts as in AWS: a bare-metal appliance of cluster `isp-a`, by its certificate's OU. */
export const APPLIANCE_IDENTITY: Principal = { role: 'appliance-bare-metal', principalTags: { 'x509Subject/OU': 'isp-a' } };

/** A made-up title: `count` objects of random bytes under `titles/<titleId>/avc1/`. */
export function makeTitle(titleId: string, count: number, bytes: number): { object: ManifestObject; body: Buffer }[] {
  return Array.from({ length: count }, (_, i) => {
    const body = randomBytes(bytes + i);
    return {
      body,
      object: { key: `titles/${titleId}/avc1/seg-${i}.m4s`, size: body.length, sha256: createHash('sha256').update(body).digest('hex'), titleId },
    };
  });
}

/**
 * The world an appliance lives in, on loopback: the origin (s3rver), the control plane's real
 * fleet handlers on DynamoDB Local behind the local gateway, and one appliance's directories.
 */
export class ApplianceWorld {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-appliance-'));
  readonly cacheDir = path.join(this.root, 'cache');
  readonly stateDir = path.join(this.root, 'state');
  readonly keyringFile = path.join(this.root, 'keyring.json');
  readonly configFile = path.join(this.root, 'agent.json');
  agentBundle = '';
  dynamo!: DynamoDbLocal;
  s3!: S3Server;
  gateway!: LocalGateway;
  fleet!: FleetStore;
  /** What the agent reaches the origin and the fleet API through, recording its AWS calls for the IAM check. */
  private originProxy?: SigV4RecordingProxy;
  private fleetApiProxy?: SigV4RecordingProxy;

  async start(): Promise<void> {
    this.agentBundle = bundleAgent(path.join(this.root, 'nearstream-agent.js'));
    [this.dynamo, this.s3] = await Promise.all([DynamoDbLocal.start(), S3Server.start(['origin'])]);
    await this.dynamo.createControlTable('fleet');
    this.fleet = new FleetStore(this.dynamo.documentClient(), 'fleet');
    const handler = createFleetHandler({ store: this.fleet, now: () => new Date(), metrics: new MetricRecorder() });
    this.gateway = await LocalGateway.start(
      ['POST /fleet/register', 'POST /fleet/report', 'GET /fleet/manifest'].map((routeKey) => {
        const [method, route] = routeKey.split(' ');
        return { method, path: route, auth: 'appliance' as const, handler };
      }),
    );
    [this.originProxy, this.fleetApiProxy] = await Promise.all([SigV4RecordingProxy.start(this.s3.endpoint), SigV4RecordingProxy.start(this.gateway.url)]);
    fs.mkdirSync(this.cacheDir, { recursive: true });
    fs.writeFileSync(this.keyringFile, JSON.stringify({ activeKeyId: 'k1', k1: TEST_KEYRING.keys.get('k1')!.toString('utf8') }));
    this.writeConfig({});
  }

  writeConfig(overrides: Record<string, unknown>): void {
    fs.writeFileSync(
      this.configFile,
      JSON.stringify({
        applianceId: 'oca-1',
        clusterId: 'isp-a',
        region: 'us-east-1',
        controlPlaneUrl: this.fleetApiProxy!.url,
        baseUrl: 'https://oca-1.isp-a.example',
        prefixes: ['198.51.100.0/24'],
        capacity: { egressGbps: 10, diskBytes: 100_000_000 },
        originBucket: 'origin',
        s3Endpoint: this.originProxy!.url,
        cacheDir: this.cacheDir,
        stateDir: this.stateDir,
        keyringFile: this.keyringFile,
        diskCeilingBytes: 50_000_000,
        bandwidthCapBytesPerSecond: 500_000_000,
        parallelism: 4,
        fillWindow: { startHourUtc: 2, endHourUtc: 6 },
        ...overrides,
      }),
    );
  }

  /** Uploads objects to the origin and announces a signed manifest of them as the cluster's current one. */
  async publish(
    generation: number,
    items: readonly { object: ManifestObject; body: Buffer }[],
    changes: { manifestText?: string; placements?: Record<string, string[]> } = {},
  ): Promise<void> {
    for (const { object, body } of items) {
      await this.s3.put('origin', object.key, body);
    }
    const manifest = signManifest(
      {
        clusterId: 'isp-a',
        generation,
        createdAt: new Date().toISOString(),
        validUntil: new Date(Date.now() + 86_400_000).toISOString(),
        objects: items.map((item) => item.object),
        placements: changes.placements,
      },
      TEST_KEYRING,
    );
    const key = `manifests/isp-a/${generation}-${Date.now()}.json`;
    await this.s3.put('origin', key, changes.manifestText ?? JSON.stringify(manifest));
    // As planning does: each appliance's placement, which its holdings reports are read against.
    const placed = manifest.placements ? Object.keys(manifest.placements) : ['oca-1'];
    for (const applianceId of placed) {
      await this.fleet.putPlacement(applianceId, generation, placementOrder(manifest, applianceId), Date.parse(manifest.validUntil));
    }
    // Written directly, not through FleetStore.putManifestPointer, so that a test can announce
    // even an older generation and see the appliance refuse it.
    await this.dynamo.documentClient().send(
      new PutCommand({
        TableName: 'fleet',
        Item: { ...itemKeys.clusterManifest('isp-a'), clusterId: 'isp-a', generation, bucket: 'origin', key, createdAt: new Date().toISOString() },
      }),
    );
  }

  /** Runs the bundled agent to completion. */
  runAgent(...args: string[]): Promise<ProcessResult> {
    return runProcess(process.execPath, [this.agentBundle, ...args, '--config', this.configFile], { ...process.env, ...AGENT_CREDENTIALS, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
  }

  startAgent(...args: string[]): ChildProcess {
    return spawn(process.execPath, [this.agentBundle, ...args, '--config', this.configFile], { env: { ...process.env, ...AGENT_CREDENTIALS }, stdio: 'ignore' });
  }

  /** The AWS calls the agent made (to the origin and the fleet API) since the last time they were taken. */
  takeAgentCalls(): AwsCall[] {
    return [...(this.originProxy?.take() ?? []), ...(this.fleetApiProxy?.take() ?? [])];
  }

  /** Every file nginx could serve, with its SHA-256. */
  servedFiles(): Record<string, string> {
    const files: Record<string, string> = {};
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else files[path.relative(this.cacheDir, full)] = createHash('sha256').update(fs.readFileSync(full)).digest('hex');
      }
    };
    walk(this.cacheDir);
    return files;
  }

  async stop(): Promise<void> {
    await Promise.all([this.originProxy?.stop(), this.fleetApiProxy?.stop()]);
    await this.gateway?.stop();
    await this.s3?.stop();
    await this.dynamo?.stop();
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
