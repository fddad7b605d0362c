/** What the local platform tells a region process beyond the functions' own variables (JSON in `NEARSTREAM_LOCAL_REGION`). */
export interface RegionGatewaySettings {
  readonly port: number;
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly jwksUrl: string;
  readonly corsAllowedOrigins: readonly string[];
}

/** The line `invoke` prints its result on, for the process that started it. */
export const RESULT_PREFIX = 'nearstream-local-result ';
