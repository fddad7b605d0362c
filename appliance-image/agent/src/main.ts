import { AgentConfig, loadConfig } from './config';
import { ControlPlane } from './control-plane';
import { fill, readAcceptedManifest, report, status } from './fill';
import { AccessLogReader, activeConnections, healthFigures } from './edge-metrics';
import { log } from './log';
import { Origin } from './origin';
import { refreshKey, secretsClient } from './keyring';
import { readState } from './state';

const USAGE = `usage: nearstream-agent <fill|serve|status|refresh-key> [--config /etc/nearstream/agent.json] [--ignore-window]`;

const REPORT_INTERVAL_MS = 30_000;
const KEY_REFRESH_INTERVAL_MS = 3_600_000;

/**
 * The long-running agent: reports what the node holds every 30 s (steering treats a report older
 * than 90 s as unhealthy) and refreshes the key ring every hour, until stopped.
 */
async function serve(config: AgentConfig): Promise<void> {
  const deps = { controlPlane: new ControlPlane(config.controlPlaneUrl, config.region) };
  let stopping = false;
  const stop = () => (stopping = true);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  let nextKeyRefresh = 0;
  const accessLog = config.edge ? new AccessLogReader(config.edge.accessLog) : undefined;
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
    await report(config, deps, readState(config.stateDir), readAcceptedManifest(config.stateDir), edge);
    for (let waited = 0; waited < REPORT_INTERVAL_MS && !stopping; waited += 500) {
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const configAt = rest.indexOf('--config');
  const configFile = configAt >= 0 ? rest[configAt + 1] : '/etc/nearstream/agent.json';
  if (!command || !['fill', 'serve', 'status', 'refresh-key'].includes(command) || !configFile) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const config = loadConfig(configFile);
  switch (command) {
    case 'status':
      process.stdout.write(`${JSON.stringify(status(config), null, 2)}\n`);
      return 0;
    case 'refresh-key':
      await refreshKey(config, await secretsClient(config.region));
      return 0;
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
