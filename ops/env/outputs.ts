import { EnvironmentConfig, regionsOf } from '../../lib/config/environment';
import { EnvironmentNaming } from '../../lib/config/naming';

/** What `create` reports: what someone needs to use the environment it just made. */
export interface CreatedEnvironment {
  readonly environment: string;
  readonly account?: string;
  readonly creator?: string;
  readonly expiresAt?: string;
  /** Primary region first. */
  readonly regions: readonly { readonly region: string; readonly apiUrl?: string }[];
  /** Absent when viewers sign in with an external issuer (no Cognito pool of the environment's own). */
  readonly viewerUserPoolId?: string;
  readonly playerClientId?: string;
  readonly sourceBucket?: string;
  readonly controlTableName?: string;
  /** The environment's test viewer, signed in when the environment has its own user pool. */
  readonly testViewer: {
    readonly email?: string;
    /** A Cognito access token for the API, valid one hour. */
    readonly accessToken?: string;
    /** Why there is none, when there is none. */
    readonly missing?: string;
    /** The command that signs it in again (and plays a title as the smoke test does). */
    readonly refresh: string;
  };
  readonly stacks: readonly string[];
}

/** The command that creates and signs in the environment's test viewer (the smoke test does it). */
export function testViewerCommand(name: string): string {
  return `npm run smoke -- --env ${name}`;
}

/**
 * Picks the outputs that matter out of every deployed stack's outputs, by the stack names
 * `EnvironmentNaming` gives and the output ids the stacks declare.
 */
export function createdEnvironment(config: EnvironmentConfig, outputsByStack: Readonly<Record<string, Readonly<Record<string, string>>>>): CreatedEnvironment {
  const naming = new EnvironmentNaming(config);
  const data = outputsByStack[naming.stackName('data')] ?? {};
  return {
    environment: config.name,
    account: config.account,
    creator: config.lifetime?.creator,
    expiresAt: config.lifetime?.expiresAt,
    regions: regionsOf(config).map((region) => ({ region, apiUrl: outputsByStack[naming.stackName('control-plane', region)]?.ApiUrl })),
    viewerUserPoolId: data.ViewerUserPoolId,
    playerClientId: data.PlayerClientId,
    sourceBucket: data.SourceBucketName,
    controlTableName: data.ControlTableName,
    testViewer: { refresh: testViewerCommand(config.name) },
    stacks: Object.keys(outputsByStack).sort(),
  };
}

/** The human-readable form: one fact a line, aligned. */
export function formatCreated(created: CreatedEnvironment): string[] {
  const rows: [string, string | undefined][] = [
    ['environment', `${created.environment}${created.account ? ` (account ${created.account})` : ''}`],
    ...created.regions.map(({ region, apiUrl }): [string, string] => [`API ${region}`, apiUrl ?? '(no ApiUrl output)']),
    ['viewer user pool', created.viewerUserPoolId ?? '(none: viewers sign in with an external issuer)'],
    ['player client', created.playerClientId],
    ['source bucket', created.sourceBucket],
    ['creator', created.creator],
    ['expires', created.expiresAt && `${created.expiresAt} (the scheduled cleanup destroys it after that)`],
    ['test viewer', created.testViewer.email ? `${created.testViewer.email} (premium plan)` : `none: ${created.testViewer.missing ?? 'not signed in'}`],
    ['access token', created.testViewer.accessToken && `${created.testViewer.accessToken}  (valid 1 h; Authorization: Bearer …)`],
    ['again', `${created.testViewer.refresh}  (signs the test viewer in and plays a title)`],
  ];
  const shown = rows.filter((row): row is [string, string] => row[1] !== undefined);
  const width = Math.max(...shown.map(([label]) => label.length));
  return shown.map(([label, value]) => `${label.padEnd(width)}  ${value}`);
}
