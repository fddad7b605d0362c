import { namedPorts, portsOf } from '../../local/platform/layout';
import { portsFree } from '../../local/services/ports';

/** The loopback ports a local platform with this many appliances would take from `base`. */
export function platformPorts(base: number, appliances: number): number[] {
  return namedPorts(portsOf(base, appliances)).map(({ port }) => port);
}

/**
 * A base port from which a local platform's whole range is free now, below Linux's ephemeral range
 * (32768 and up), where the platform's own outgoing connections could take a port meanwhile.
 */
export async function freePlatformBase(appliances: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    if (await portsFree(platformPorts(base, appliances))) {
      return base;
    }
  }
  throw new Error('no free range of loopback ports for a local platform');
}
