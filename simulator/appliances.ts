import { hash32, RendezvousNodes } from '../lambda/shared/rendezvous';
import { Workload } from './workload';

/**
 * The workload's appliances numbered across the fleet (cluster by cluster, in file order), with
 * each cluster's rendezvous order: the planner's order (`lambda/shared/rendezvous.ts`), which a
 * consistent-hash cache uses too to pick the one appliance of a cluster that caches a title.
 */
export class ApplianceIndex {
  /** By cluster: the number of its first appliance; one more entry ends the last cluster. */
  readonly firstOf: Int32Array;
  readonly ids: readonly string[];
  readonly diskBytes: Float64Array;
  readonly egressBytesPerDay: Float64Array;
  /** By title: `hash32` of its id, the key of its rendezvous order. */
  readonly titleHashes: Uint32Array;
  private readonly nodes: RendezvousNodes[];

  constructor(workload: Workload) {
    const appliances = workload.clusters.flatMap((cluster) => cluster.appliances);
    this.firstOf = new Int32Array(workload.clusters.length + 1);
    workload.clusters.forEach((cluster, index) => {
      this.firstOf[index + 1] = this.firstOf[index] + cluster.appliances.length;
    });
    this.ids = appliances.map((appliance) => appliance.id);
    this.diskBytes = Float64Array.from(appliances, (appliance) => appliance.diskBytes);
    this.egressBytesPerDay = Float64Array.from(appliances, (appliance) => appliance.egressBytesPerDay);
    this.titleHashes = Uint32Array.from(workload.titles, (title) => hash32(title.id));
    this.nodes = workload.clusters.map((cluster) => new RendezvousNodes(cluster.appliances.map((appliance) => appliance.id)));
  }

  get size(): number {
    return this.ids.length;
  }

  /** The appliance of the cluster a title's rendezvous order puts first. */
  routed(cluster: number, title: number): number {
    return this.firstOf[cluster] + this.nodes[cluster].first(this.titleHashes[title]);
  }

  /** The cluster's appliances in the title's rendezvous order (fleet numbers). */
  ordered(cluster: number, title: number): Int32Array {
    const order = new Int32Array(this.nodes[cluster].size);
    this.nodes[cluster].order(this.titleHashes[title], order);
    return order.map((position) => this.firstOf[cluster] + position);
  }
}

/**
 * What each server (an appliance, or a pooled cluster) may still serve today. A request is served
 * whole or not at all: steering stops sending players to a server without room for them, so a
 * saturated server's requests go to the origin.
 */
export class EgressLedger {
  private readonly left: Float64Array;
  private readonly anyLimit: boolean;
  private worst = 0;
  private worstServer = -1;
  private worstDay = 0;

  /** `budgets`: bytes per day by server, `Infinity` for no limit. */
  constructor(private readonly budgets: Float64Array) {
    this.left = Float64Array.from(budgets);
    this.anyLimit = budgets.some((budget) => Number.isFinite(budget));
  }

  /** Gives every server its whole budget back. */
  startDay(): void {
    this.left.set(this.budgets);
  }

  /** The bytes `server` may still serve today. */
  leftOn(server: number): number {
    return this.left[server];
  }

  /** Whether `server` had room for `bytes`; if so they are now spent. */
  take(server: number, bytes: number): boolean {
    if (this.left[server] < bytes) {
      return false;
    }
    this.left[server] -= bytes;
    return true;
  }

  /** Records today's busiest server (bytes served over its budget) if it beats the worst so far. */
  endDay(day: number): void {
    if (!this.anyLimit) {
      return;
    }
    for (let server = 0; server < this.budgets.length; server++) {
      const budget = this.budgets[server];
      if (!Number.isFinite(budget)) {
        continue;
      }
      const utilisation = budget > 0 ? (budget - this.left[server]) / budget : 0;
      if (utilisation > this.worst || this.worstServer < 0) {
        this.worst = utilisation;
        this.worstServer = server;
        this.worstDay = day;
      }
    }
  }

  /** The busiest server-day recorded; undefined when no server has a limit. */
  busiest(): { server: number; day: number; utilisation: number } | undefined {
    return this.worstServer < 0 ? undefined : { server: this.worstServer, day: this.worstDay, utilisation: this.worst };
  }
}
