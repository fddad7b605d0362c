/**
 * A workload the simulator replays: a catalog, a fleet of clusters of appliances, and requests by day. Requests
 * are kept in typed arrays sorted by day, so a million of them cost a few megabytes.
 */
export interface SimTitle {
  readonly id: string;
  /** What holding the title whole takes. */
  readonly bytes: number;
  /** The first day it may be requested. */
  readonly releaseDay: number;
  /**
   * The first day it may no longer be requested (it has left the catalog).
   * @default - never retired
   */
  readonly retireDay?: number;
  /**
   * The series it is an episode of.
   * @default - not an episode
   */
  readonly seriesId?: string;
  /**
   * Its place in the series, 1-based.
   * @default - not an episode
   */
  readonly episode?: number;
}

/**
 * One appliance of a cluster. Its egress is a daily byte budget because a trace row carries a day,
 * not a time of day: size it as the NIC's line rate over a day divided by the peak-to-average ratio
 * of the appliance's traffic (links are sized for the evening peak, so a 10 Gbps appliance with a
 * peak twice its average serves about 10e9 / 8 x 86,400 / 2 = 54 TB a day, not 108 TB).
 */
export interface SimAppliance {
  /** Unique across the fleet. */
  readonly id: string;
  readonly diskBytes: number;
  /** Bytes it can serve players in a day; `Infinity` for no limit. */
  readonly egressBytesPerDay: number;
}

export interface SimCluster {
  readonly id: string;
  /** At least one. */
  readonly appliances: readonly SimAppliance[];
}

/** A cluster's disk, all appliances together. */
export function clusterDiskBytes(cluster: SimCluster): number {
  return cluster.appliances.reduce((sum, appliance) => sum + appliance.diskBytes, 0);
}

export interface Requests {
  readonly length: number;
  readonly day: Int32Array;
  /** Index into `Workload.clusters`. */
  readonly cluster: Uint16Array;
  /** Index into `Workload.titles`. */
  readonly title: Uint32Array;
  /** Bytes the request fetched. */
  readonly bytes: Float64Array;
}

export interface Workload {
  readonly titles: readonly SimTitle[];
  readonly clusters: readonly SimCluster[];
  /** Sorted by day. */
  readonly requests: Requests;
}

/** Days in order, each with the range of its requests. */
export function daysOf(requests: Requests): { day: number; start: number; end: number }[] {
  const days: { day: number; start: number; end: number }[] = [];
  for (let index = 0; index < requests.length; index++) {
    const day = requests.day[index];
    if (days.length === 0 || days[days.length - 1].day !== day) {
      days.push({ day, start: index, end: index + 1 });
    } else {
      days[days.length - 1].end = index + 1;
    }
  }
  return days;
}
