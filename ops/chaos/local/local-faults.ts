import { clearFaultFile, writeFaultFile } from '../../../local/api/fault-injection';
import type { LocalPlatform } from '../../../local/platform/platform';
import { FAULT_TARGETS, type ChaosFault } from '../../../lib/chaos/catalog';
import { localFunctionName } from '../../../local/region/region-protocol';

/** A fault on the running local platform, until `remove()`. */
export interface InjectedFault {
  /** What was broken, in words for the report. */
  readonly description: string;
  remove(): Promise<void>;
}

/**
 * Renders a catalog fault on the local platform, as FIS renders it in a region:
 * - terminate-appliance: the appliance players are most on loses its nginx, and gets it back at the end;
 * - function-latency and function-errors: every region's fault file, which its local API gateway
 *   reads per request as the FIS Lambda extension reads its configuration;
 * - appliance-disk-latency: the same appliance's requests wait `latencyMs` on a slow path in front of nginx;
 * - region-evacuation: the region players call first answers `statusCode` from its viewer routes
 *   and its health check, and players move to the other one. (Both local regions share one
 *   DynamoDB Local, so there is no replication to pause.)
 * `untilMs` bounds the function faults even if the drill dies before removing them.
 */
export async function injectLocalFault(platform: LocalPlatform, fault: ChaosFault, busiestApplianceId: string | undefined, untilMs: number): Promise<InjectedFault> {
  switch (fault.kind) {
    case 'terminate-appliance': {
      const appliance = targetAppliance(platform, busiestApplianceId);
      await appliance.killEdge();
      return { description: `killed ${appliance.spec.applianceId}'s nginx`, remove: () => appliance.reviveEdge() };
    }
    case 'appliance-disk-latency': {
      const appliance = targetAppliance(platform, busiestApplianceId);
      await appliance.slowDown(fault.latencyMs);
      return { description: `${appliance.spec.applianceId}'s requests wait ${fault.latencyMs} ms`, remove: () => appliance.restoreSpeed() };
    }
    case 'function-latency':
    case 'function-errors': {
      const functions = FAULT_TARGETS.chaos.map(localFunctionName);
      const settings =
        fault.kind === 'function-latency'
          ? { delayMs: fault.delayMs, invocationPercent: fault.invocationPercent, untilMs, functions }
          : { errorPercent: fault.invocationPercent, untilMs, functions };
      const files = platform.state.regions.map((region) => platform.faultFile(region.name));
      for (const file of files) {
        writeFaultFile(file, settings);
      }
      const what = fault.kind === 'function-latency' ? `${fault.invocationPercent}% of invocations ${fault.delayMs} ms late` : `${fault.invocationPercent}% of invocations failed`;
      return {
        description: `${what} in ${platform.state.regions.map((region) => region.name).join(' and ')}`,
        remove: async () => files.forEach(clearFaultFile),
      };
    }
    case 'region-evacuation': {
      // Players call the regions in the platform's order: the first is the one they are on.
      const region = platform.state.regions[0]?.name;
      if (!region) {
        throw new Error('the local platform has no region to evacuate');
      }
      const file = platform.faultFile(region);
      const functions = [...FAULT_TARGETS.chaos, ...FAULT_TARGETS.evacuationOnly].map(localFunctionName);
      writeFaultFile(file, { errorPercent: 100, errorStatus: fault.statusCode, functions, untilMs });
      return { description: `${region}'s API and health check answer ${fault.statusCode}`, remove: async () => clearFaultFile(file) };
    }
  }
}

/** The appliance most of the load is on, or the first when none is known yet. */
function targetAppliance(platform: LocalPlatform, applianceId: string | undefined) {
  const appliance = platform.appliances.find((candidate) => candidate.spec.applianceId === applianceId) ?? platform.appliances[0];
  if (!appliance) {
    throw new Error('the local platform has no appliance to break');
  }
  return appliance;
}
