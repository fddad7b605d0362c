/** What the local platform tells a region process beyond the functions' own variables (JSON in `NEARSTREAM_LOCAL_REGION`). */
export interface RegionGatewaySettings {
  readonly port: number;
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly jwksUrl: string;
  readonly corsAllowedOrigins: readonly string[];
  /** A chaos drill's fault file for this region's functions (see `FaultSettings`). @default - no faults */
  readonly faultFile?: string;
  /**
   * DELIBERATELY BROKEN steering, for drills that must catch it: `/play` grants keep only their
   * first this-many sources. @default - every source steering ranked
   */
  readonly playSourcesLimit?: number;
}

/** The name a region's gateway gives the function behind an API route (`local-play`), which fault files name. */
export function localFunctionName(fn: string): string {
  return `local-${fn}`;
}

/** The line `invoke` prints its result on, for the process that started it. */
export const RESULT_PREFIX = 'nearstream-local-result ';
