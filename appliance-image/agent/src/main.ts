import * as fs from 'node:fs';
import * as path from 'node:path';
import { SignedFillManifest } from '../../../lambda/shared/fill-manifest';
import { parseKeyring, signToken, tokenizedPath, UNCAPPED_MAX_HEIGHT } from '../../../lambda/shared/url-token';
import { AgentConfig, loadConfig } from './config';
import { readEdgeTemplate } from './edge-config';
import { applyNodeFiles, loadNodeSettings, NODE_LAYOUT, renderNodeFiles } from './node-settings';
import { ControlPlane } from './control-plane';
import { HoldingsTracker } from './holdings';
import { fill, readAcceptedManifest, registrationOf, report, status } from './fill';
import { AccessLogReader, activeConnections, healthFigures } from './edge-metrics';
import { log } from './log';
import { Origin } from './origin';
import { refreshKey, secretsClient } from './keyring';
import { AgentState } from './state';
import { NodeStore } from './store';

const USAGE = [
  'usage: nearstream-agent <fill|serve|register|status|refresh-key> [--config /etc/nearstream/agent.json] [--ignore-window]',
  '       nearstream-agent configure [--settings /etc/nearstream/node.json] [--node /usr/bin/node] [--root /]',
  '       nearstream-agent sign-url <titles/<titleId>/...> [--ttl-seconds 300] [--config /etc/nearstream/agent.json]',
].join('\n');

function option(args: readonly string[], name: string, fallback: string): string {
  const at = args.indexOf(name);
  return at >= 0 && args[at + 1] ? args[at + 1] : fallback;
}

const REPORT_INTERVAL_MS = 30_000;
const KEY_REFRESH_INTERVAL_MS = 3_600_000;

/**
 * The long-running agent: reports its health every 30 s (steering treats a report older than 90 s
 * as unhealthy), with what it holds when that changed, and refreshes the key ring every hour, until stopped.
 */
async function serve(config: AgentConfig): Promise<void> {
  const deps = { controlPlane: new ControlPlane(config.controlPlaneUrl, config.region) };
  let stopping = false;
  const stop = () => (stopping = true);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  let nextKeyRefresh = 0;
  const accessLog = config.edge ? new AccessLogReader(config.edge.accessLog) : undefined;
  let recorded: { version: string; state: AgentState; manifest: SignedFillManifest | undefined } | undefined;
  const tracker = new HoldingsTracker();
  while (!stopping) {
    if (config.keyringSecretId && Date.now() >= nextKeyRefresh) {
      await refreshKey(config, await secretsClient(config.region)).catch((error: Error) => log('error', 'key ring refresh failed', { reason: error.message }));
      nextKeyRefresh = Date.now() + KEY_REFRESH_INTERVAL_MS;
    }
    const edge =
      accessLog && config.edge
        ? healthFigures(accessLog.read(), config.edge.statusUrl ? await activeConnections(config.edge.statusUrl) : undefined, {
            egressGbps: config.capacity.egressGbps,
            maxConnections: config.edge.maxConnections,
          })
        : undefined;
    // A node holds hundreds of thousands of objects and they change only when a fill runs: the
    // recorded state and manifest are read and validated again only when their files changed.
    const version = NodeStore.recordVersion(config.stateDir);
    if (recorded?.version !== version) {
      recorded = { version, state: NodeStore.readState(config.stateDir), manifest: readAcceptedManifest(config.stateDir) };
    }
    await report(config, deps, recorded.state, recorded.manifest, edge, { tracker });
    for (let waited = 0; waited < REPORT_INTERVAL_MS && !stopping; waited += 500) {
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/**
 * A URL for one object on this node, signed with its key ring as the control plane would sign it:
 * for operators and the image's test phase to check the edge end to end.
 */
function signedUrl(config: AgentConfig, objectPath: string, ttlSeconds: number): string {
  const match = /^titles\/([A-Za-z0-9_-]{1,64})\/(.+)$/.exec(objectPath);
  if (!match) {
    throw new Error(`sign-url: '${objectPath}' is not an object path like titles/<titleId>/<rendition>/<file>`);
  }
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw new Error('sign-url: --ttl-seconds must be a positive whole number');
  }
  const keyring = parseKeyring(fs.readFileSync(config.keyringFile, 'utf8'));
  // An operator's check may fetch any rendition, even of a title whose manifests are not filled.
  const nowEpochSeconds = Math.floor(Date.now() / 1000);
  const token = signToken(
    keyring,
    { applianceId: config.applianceId, titleId: match[1], expiresAt: nowEpochSeconds + ttlSeconds, maxHeight: UNCAPPED_MAX_HEIGHT },
    nowEpochSeconds,
  );
  return `${config.baseUrl.replace(/\/$/, '')}${tokenizedPath(token, match[1], match[2])}`;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'configure') {
    const settings = loadNodeSettings(option(rest, '--settings', NODE_LAYOUT.settingsFile));
    const root = option(rest, '--root', '/');
    const template = readEdgeTemplate(path.join(root, NODE_LAYOUT.edgeTemplate));
    const changed = applyNodeFiles(renderNodeFiles(settings, template, option(rest, '--node', process.execPath)), root);
    process.stdout.write(changed.map((file) => `${file}\n`).join(''));
    return 0;
  }
  const configFile = option(rest, '--config', NODE_LAYOUT.configFile);
  if (!command || !['fill', 'serve', 'register', 'status', 'refresh-key', 'sign-url'].includes(command)) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const config = loadConfig(configFile);
  switch (command) {
    case 'status':
      process.stdout.write(`${JSON.stringify(status(config), null, 2)}\n`);
      return 0;
    case 'register':
      // A new node registers when it boots, so that the next plan places titles on it; the fill
      // registers again (idempotently) before it asks for its manifest.
      await new ControlPlane(config.controlPlaneUrl, config.region).register(registrationOf(config));
      process.stdout.write(`registered ${config.applianceId} in ${config.clusterId} with ${config.controlPlaneUrl}\n`);
      return 0;
    case 'refresh-key':
      await refreshKey(config, await secretsClient(config.region));
      return 0;
    case 'sign-url': {
      process.stdout.write(`${signedUrl(config, rest[0] ?? '', Number(option(rest, '--ttl-seconds', '300')))}\n`);
      return 0;
    }
    case 'serve':
      await serve(config);
      return 0;
    default: {
      const outcome = await fill(
        config,
        { origin: new Origin(config.region, config.s3Endpoint), controlPlane: new ControlPlane(config.controlPlaneUrl, config.region), nowMs: Date.now },
        { ignoreWindow: rest.includes('--ignore-window') },
      );
      return outcome.result === 'failed' || outcome.result === 'rejected' ? 1 : 0;
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    log('error', error.message);
    process.exit(1);
  },
);
