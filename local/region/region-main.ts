import { handler as catalog } from '../../lambda/catalog/handler';
import { handler as fleet } from '../../lambda/fleet/handler';
import { handler as health } from '../../lambda/health/handler';
import { handler as home } from '../../lambda/home/handler';
import { handler as license } from '../../lambda/license/handler';
import { handler as planning } from '../../lambda/planning/handler';
import { handler as play } from '../../lambda/playback/handler';
import { handler as telemetry } from '../../lambda/telemetry/handler';
import { handler as steeringSnapshot } from '../../lambda/steering/handler';
import { API_ROUTES, ApiFunction } from '../../lambda/shared/api-routes';
import { jwtAuthorizer } from '../api/jwt-authorizer';
import { LocalGateway, LocalHandler, localInvocationContext } from '../api/local-gateway';
import { localFunctionName, RegionGatewaySettings, RESULT_PREFIX } from './region-protocol';

/**
 * One local region of the control plane, run as its own process (bundled like the Lambdas): the
 * real handlers behind the route table the stacks deploy, configured by the same environment
 * variables their functions get. `serve` answers the API until SIGTERM; `invoke planning` runs the
 * nightly planning function once, as EventBridge Scheduler would, and prints its result.
 */
const HANDLERS = { health, catalog, play, telemetry, home, fleet, license } satisfies Record<ApiFunction, LocalHandler>;

/** The play handler with its grants cut to `limit` sources: a broken steering, for drills to catch. */
function truncatingSources(handler: LocalHandler, limit: number): LocalHandler {
  return async (event, context) => {
    const result = await handler(event, context);
    if (result.statusCode !== 200 || !result.body) {
      return result;
    }
    const grant = JSON.parse(result.body) as { sources?: unknown[] };
    return { ...result, body: JSON.stringify({ ...grant, sources: grant.sources?.slice(0, limit) }) };
  };
}

async function serve(settings: RegionGatewaySettings): Promise<void> {
  const handlers: Record<ApiFunction, LocalHandler> =
    settings.playSourcesLimit === undefined ? HANDLERS : { ...HANDLERS, play: truncatingSources(HANDLERS.play, settings.playSourcesLimit) };
  const gateway = await LocalGateway.start(
    API_ROUTES.map((route) => ({ method: route.method, path: route.path, auth: route.auth, handler: handlers[route.fn], functionName: localFunctionName(route.fn) })),
    {
      port: settings.port,
      region: functionsRegion(),
      viewerTokens: jwtAuthorizer({ issuer: settings.issuer, audiences: settings.audiences, jwksUrl: settings.jwksUrl }),
      corsAllowedOrigins: settings.corsAllowedOrigins,
      faultFile: settings.faultFile,
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

/**
 * Invokes the steering snapshot function back to back, as its schedule does every minute, until
 * stopped; stopping ends the current invocation after the build under way (its time is up).
 */
function buildSteeringSnapshots(): { stop(): void; done: Promise<void> } {
  let stopping = false;
  const done = (async () => {
    while (!stopping) {
      // The function's timeout and memory.
      const context = localInvocationContext({ functionName: 'local-steering-snapshot', region: functionsRegion(), timeoutMs: 65_000, memorySizeMb: 2048 });
      const remainingMs = context.getRemainingTimeInMillis;
      await steeringSnapshot({}, { ...context, getRemainingTimeInMillis: () => (stopping ? 0 : remainingMs()) });
    }
  })().catch((error: Error) => {
    process.stderr.write(`steering snapshot builder stopped: ${error.stack ?? error.message}\n`);
  });
  return { stop: () => (stopping = true), done };
}

async function invokePlanning(): Promise<void> {
  // The fill planning function's timeout and memory.
  const context = localInvocationContext({ functionName: 'local-planning', region: functionsRegion(), timeoutMs: 15 * 60_000, memorySizeMb: 1024 });
  const result = await planning({}, context);
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

/** The region the functions run in: `AWS_REGION`, which Lambda sets and the local platform sets as it would. */
function functionsRegion(): string {
  const region = process.env.AWS_REGION;
  if (!region) {
    throw new Error('AWS_REGION is not set; the local platform sets it with the functions\' environment');
  }
  return region;
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
