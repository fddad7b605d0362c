import type { MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * The custom metrics Nearstream's functions publish (namespace `Nearstream`, dimension `service`
 * and, where noted, `region`), by the function that publishes them. Handlers publish under these
 * names and the stacks' dashboards, alarms and chaos stop conditions read them, so the two cannot
 * drift apart.
 */
export const TELEMETRY_METRICS = {
  /** Stream starts (high resolution, with a `region` dimension): SPS, the steady state. */
  streamStarts: 'StreamStarts',
  /** Plays that failed fatally, as players report them (high resolution, `region`). */
  playFailures: 'PlayFailures',
  rebuffers: 'Rebuffers',
} as const;

export const PLAY_METRICS = {
  playsAuthorized: 'PlaysAuthorized',
  playsRefused: 'PlaysRefused',
  /** 1 for a play steered from a stale or missing fleet snapshot, else 0. */
  steeringDegraded: 'SteeringDegraded',
} as const;

export const LICENSE_METRICS = {
  /** Licenses answered: ClearKey ones the platform issued, and a provider's 2xx answers it passed on. */
  licensesGranted: 'LicensesGranted',
  /** Requests refused: by the platform's checks (session, lease, keys) or by the provider. */
  licensesRefused: 'LicensesRefused',
  /** Requests a commercial license service did not answer in time, or at all (answered 502). */
  licenseServiceUnavailable: 'LicenseServiceUnavailable',
} as const;

export const FLEET_METRICS = {
  /** One per health report an appliance sends. */
  applianceReports: 'ApplianceReports',
  /** An appliance's egress at its report, in Gbit/s. */
  applianceEgressGbps: 'ApplianceEgressGbps',
  /** An appliance's share of 5xx answers at its report (0-1). */
  applianceErrorRate: 'ApplianceErrorRate',
} as const;

export const STEERING_METRICS = {
  /** Appliances registered to report to this region, as of the snapshot build. */
  appliancesRegistered: 'AppliancesRegistered',
  /** Those of them whose last report is older than `SILENT_AFTER_MS`. */
  appliancesSilent: 'AppliancesSilent',
  /** Distinct titles held by at least one of them. */
  titlesHeld: 'TitlesHeld',
  /** Builds that failed (plays keep the last good snapshot). */
  snapshotBuildFailures: 'SnapshotBuildFailures',
} as const;

export const PLANNING_METRICS = {
  /** Clusters whose manifest a planning run announced. */
  clustersPlanned: 'ClustersPlanned',
} as const;

/** An appliance reports every 30 s: three missed reports make it silent. */
export const SILENT_AFTER_MS = 90_000;

/** Where a handler's figures go: Powertools' `Metrics` in the function, a recorder in tests and benchmarks. */
export interface MetricSink {
  addMetric(name: string, unit: (typeof MetricUnit)[keyof typeof MetricUnit], value: number): unknown;
}

export const STEADY_STATE_METRICS = {
  /**
   * Stream starts of both regions in one minute, published in each region (both read with the
   * same delay, so neither half lags the other), so an alarm there watches the platform's SPS as
   * a whole. Each minute's datapoint is the whole sum: read it with `Maximum`, and a minute
   * published twice still counts once.
   */
  globalStreamStarts: 'GlobalStreamStarts',
} as const;
