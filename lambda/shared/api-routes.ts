/**
 * The control plane's HTTP API as one list: every route, the function behind it and who may call
 * it. The CDK stacks build each region's API Gateway routes from it and the local platform serves
 * the same handlers through it, so the two cannot list different routes.
 */

/** The functions behind the API, each the `handler` export of `lambda/<area>/handler.ts`. */
export const API_FUNCTION_AREAS = {
  health: 'health',
  catalog: 'catalog',
  play: 'playback',
  telemetry: 'telemetry',
  home: 'home',
  fleet: 'fleet',
  license: 'license',
} as const;
export type ApiFunction = keyof typeof API_FUNCTION_AREAS;

/**
 * Who may call a route: anyone (`public`: Route 53's health checkers cannot sign), a viewer with a
 * JWT from the viewer issuer, or an appliance signing with SigV4 (IAM).
 */
export type ApiAuth = 'public' | 'viewer' | 'appliance';

export interface ApiRoute {
  readonly method: 'GET' | 'POST';
  /** An API Gateway route path, e.g. `/titles/{titleId}`. */
  readonly path: string;
  readonly fn: ApiFunction;
  readonly auth: ApiAuth;
}

export const API_ROUTES: readonly ApiRoute[] = [
  { method: 'GET', path: '/health', fn: 'health', auth: 'public' },
  { method: 'GET', path: '/titles', fn: 'catalog', auth: 'viewer' },
  { method: 'GET', path: '/titles/{titleId}', fn: 'catalog', auth: 'viewer' },
  { method: 'POST', path: '/play', fn: 'play', auth: 'viewer' },
  { method: 'POST', path: '/events', fn: 'telemetry', auth: 'viewer' },
  { method: 'GET', path: '/home', fn: 'home', auth: 'viewer' },
  { method: 'POST', path: '/license/{system}', fn: 'license', auth: 'viewer' },
  { method: 'POST', path: '/fleet/register', fn: 'fleet', auth: 'appliance' },
  { method: 'POST', path: '/fleet/report', fn: 'fleet', auth: 'appliance' },
  { method: 'GET', path: '/fleet/manifest', fn: 'fleet', auth: 'appliance' },
];

/** The appliance-facing routes, all behind IAM (SigV4) authorization. */
export const FLEET_ROUTES: readonly ApiRoute[] = API_ROUTES.filter((route) => route.auth === 'appliance');

/**
 * How the API answers browsers' CORS preflights (before any authorizer runs). Viewers send bearer
 * tokens, not cookies, so credentials stay off.
 */
export const API_CORS = {
  allowMethods: ['GET', 'POST', 'OPTIONS'],
  allowHeaders: ['authorization', 'content-type'],
  maxAgeSeconds: 86_400,
} as const;
