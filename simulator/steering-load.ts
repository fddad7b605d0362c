import { FleetIndex, SteeringRequest } from '../lambda/playback/steering';
import { random } from './synthetic';

/**
 * Play requests for steering benchmarks, and the loop that times decisions on them: shared by
 * `bench:steering` and the fleet benchmark, so both load the index the same way.
 */
export interface SteeringLoadOptions {
  readonly seed: number;
  readonly count: number;
  /** The catalog, most popular first: titles are drawn from a Zipf curve over it. */
  readonly titleIds: readonly string[];
  /** The clusters players may sit in: each one's region and announced prefixes (IPv4 ones are used). */
  readonly clusters: readonly { readonly region: string; readonly prefixes: readonly string[] }[];
  /**
   * The share of players inside a cluster's most specific IPv4 prefix; the others come from
   * 192.0.2.0/24 (TEST-NET-1, which no synthetic cluster announces) and are steered by region.
   * @default 0.9
   */
  readonly insideShare?: number;
  /** @default 0.9 */
  readonly zipf?: number;
}

/** Requests with a session each, from a cluster drawn uniformly, for a title drawn by popularity. */
export function steeringRequests(options: SteeringLoadOptions): SteeringRequest[] {
  const next = random(options.seed);
  const title = zipfSampler(next, options.titleIds.length, options.zipf ?? 0.9);
  const insideShare = options.insideShare ?? 0.9;
  const homes = options.clusters.map((cluster) => ({ region: cluster.region, prefix: mostSpecificIpv4(cluster.prefixes) }));
  if (homes.length === 0 || options.titleIds.length === 0) {
    throw new RangeError('steeringRequests: needs at least one cluster and one title');
  }
  return Array.from({ length: options.count }, (_, i) => {
    const home = homes[Math.floor(next() * homes.length)];
    const inside = home.prefix !== undefined && next() < insideShare;
    return {
      clientIp: inside ? hostIn(home.prefix!, next) : `192.0.2.${Math.floor(next() * 256)}`,
      region: home.region,
      titleId: options.titleIds[title()],
      sessionKey: `session-${i}`,
    };
  });
}

export interface DecisionFigures {
  readonly decisions: number;
  readonly decisionsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** The share of decisions that named no appliance: those plays go to the origin tier. */
  readonly originShare: number;
  /** Choices made in all: printed so the work cannot be optimised away, and a quick check two runs agree. */
  readonly checksum: number;
}

/**
 * Steers the first `warmup` requests untimed (so the timed ones run optimised code), then times
 * each of the rest on its own, on this thread, at `nowMs`.
 */
export function measureDecisions(index: FleetIndex, requests: readonly SteeringRequest[], nowMs: number, warmup: number): DecisionFigures {
  let checksum = 0;
  for (let i = 0; i < Math.min(warmup, requests.length); i++) {
    checksum += index.steer(requests[i], nowMs).length;
  }
  const timed = Math.max(0, requests.length - warmup);
  const latencies = new Float64Array(timed);
  let toOrigin = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < timed; i++) {
    const before = process.hrtime.bigint();
    const choices = index.steer(requests[warmup + i], nowMs);
    latencies[i] = Number(process.hrtime.bigint() - before) / 1e6;
    checksum += choices.length;
    toOrigin += choices.length === 0 ? 1 : 0;
  }
  const elapsedSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort();
  const percentile = (p: number) => (timed === 0 ? 0 : latencies[Math.min(timed - 1, Math.floor((p / 100) * timed))]);
  return {
    decisions: timed,
    decisionsPerSecond: timed === 0 ? 0 : timed / elapsedSeconds,
    p50Ms: percentile(50),
    p99Ms: percentile(99),
    maxMs: timed === 0 ? 0 : latencies[timed - 1],
    originShare: timed === 0 ? 0 : toOrigin / timed,
    checksum,
  };
}

/** Ranks (0 = most popular) drawn with probability proportional to 1 / (rank + 1)^exponent. */
function zipfSampler(next: () => number, n: number, exponent: number): () => number {
  const cumulative = new Float64Array(n);
  let total = 0;
  for (let rank = 0; rank < n; rank++) {
    total += 1 / Math.pow(rank + 1, exponent);
    cumulative[rank] = total;
  }
  return () => {
    const target = next() * total;
    let low = 0;
    let high = n - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (cumulative[middle] < target) {
        low = middle + 1;
      } else {
        high = middle;
      }
    }
    return low;
  };
}

interface Ipv4Prefix {
  readonly network: number;
  readonly length: number;
}

function mostSpecificIpv4(prefixes: readonly string[]): Ipv4Prefix | undefined {
  let best: Ipv4Prefix | undefined;
  for (const text of prefixes) {
    const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
    if (match && Number(match[5]) <= 32 && (!best || Number(match[5]) > best.length)) {
      const network = match.slice(1, 5).reduce((value, octet) => value * 256 + Number(octet), 0);
      best = { network, length: Number(match[5]) };
    }
  }
  return best;
}

/** A host address inside the prefix, neither its network nor its broadcast address when it has others. */
function hostIn(prefix: Ipv4Prefix, next: () => number): string {
  const size = 2 ** (32 - prefix.length);
  const address = prefix.network + (size > 2 ? 1 + Math.floor(next() * (size - 2)) : 0);
  return [24, 16, 8, 0].map((shift) => Math.floor(address / 2 ** shift) % 256).join('.');
}
