import { handler as catalog } from '../../lambda/catalog/handler';
import { handler as fleet } from '../../lambda/fleet/handler';
import { handler as health } from '../../lambda/health/handler';
import { handler as home } from '../../lambda/home/handler';
import { handler as planning } from '../../lambda/planning/handler';
import { handler as play } from '../../lambda/playback/handler';
import { handler as telemetry } from '../../lambda/telemetry/handler';
import { runBuilds, steeringDependenciesFromEnvironment } from '../../lambda/steering/handler';
import { API_ROUTES, ApiFunction } from '../../lambda/shared/api-routes';
import { jwtAuthorizer } from '../api/jwt-authorizer';
import { LocalGateway, LocalHandler } from '../api/local-gateway';
import { RegionGatewaySettings, RESULT_PREFIX } from './region-protocol';

/**
 * One local region of the control plane, run as its own process (bundled like the Lambdas): the
 * real handlers behind the route table the stacks deploy, configured by the same environment
 * variables their functions get. `serve` answers the API until SIGTERM; `invoke planning` runs the
 * nightly planning function once, as EventBridge Scheduler would, and prints its result.
 */
const HANDLERS = { health, catalog, play, telemetry, home, fleet } satisfies Record<ApiFunction, LocalHandler>;

async function serve(settings: RegionGatewaySettings): Promise<void> {
  const gateway = await LocalGateway.start(
    API_ROUTES.map((route) => ({ method: route.method, path: route.path, auth: route.auth, handler: HANDLERS[route.fn] })),
    {
      port: settings.port,
      viewerTokens: jwtAuthorizer({ issuer: settings.issuer, audiences: settings.audiences, jwksUrl: settings.jwksUrl }),
      corsAllowedOrigins: settings.corsAllowedOrigins,
    },
  );
  process.stderr.write(`listening on ${gateway.url}\n`);
  // As its schedule does in the cloud, the region's steering snapshot builder runs beside the API.
  const steering = buildSteeringSnapshots();
  // A platform that dies without stopping its regions must not leave them serving.
  const parent = process.ppid;
  setInterval(() => process.ppid !== parent && process.kill(process.pid, 'SIGTERM'), 1_000).unref();
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  steering.stop();
  await gateway.stop();
  await steering.done;
}

/** Runs the steering snapshot builder back to back, each run as one scheduled invocation would, until stopped. */
function buildSteeringSnapshots(): { stop(): void; done: Promise<void> } {
  let stopping = false;
  const done = (async () => {
    const deps = steeringDependenciesFromEnvironment();
    while (!stopping) {
      await runBuilds(deps, () => (stopping ? 0 : 60_000));
    }
  })().catch((error: Error) => {
    process.stderr.write(`steering snapshot builder stopped: ${error.stack ?? error.message}\n`);
  });
  return { stop: () => (stopping = true), done };
}

async function invokePlanning(): Promise<void> {
  const deadline = Date.now() + 15 * 60_000;
  const result = await planning({}, { getRemainingTimeInMillis: () => deadline - Date.now() } as Parameters<typeof planning>[1]);
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === 'invoke' && argv[1] === 'planning') {
    await invokePlanning();
    return;
  }
  if (argv[0] !== 'serve') {
    throw new Error(`usage: region serve | region invoke planning (got '${argv.join(' ')}')`);
  }
  const raw = process.env.NEARSTREAM_LOCAL_REGION;
  if (!raw) {
    throw new Error('NEARSTREAM_LOCAL_REGION is not set; the local platform sets it');
  }
  await serve(JSON.parse(raw) as RegionGatewaySettings);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: Error) => {
    process.stderr.write(`${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
