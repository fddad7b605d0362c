import { parseIp, ParsedPrefix, parsePrefix } from '../../../lambda/playback/ip-prefix';
import { ApplianceView, FleetIndex, hash32, SteeringPolicy, SteeringRequest } from '../../../lambda/playback/steering';
import { rendezvousScore } from '../../../lambda/shared/rendezvous';
import { decodeSnapshot, encodeSnapshot, orderByHolders, SNAPSHOT_FORMAT, SteeringSnapshot } from '../../../lambda/steering/snapshot';
import { random } from '../../../simulator/synthetic';

const NOW = 1_800_000_000_000;
const policy: SteeringPolicy = { maxReportAgeMs: 60_000, maxErrorRate: 0.05, maxLoad: 0.95, spilloverLoad: 0.8, maxChoices: 3 };

function appliance(id: string, overrides: Partial<ApplianceView> = {}): ApplianceView {
  return {
    applianceId: id,
    clusterId: 'isp-a',
    region: 'us-east-1',
    baseUrl: `https://${id}.example`,
    prefixes: ['198.51.100.0/24'],
    reportedAtMs: NOW - 1_000,
    load: 0.2,
    errorRate: 0,
    titles: ['t1', 't2'],
    ...overrides,
  };
}

const ids = (index: FleetIndex, request: Partial<Parameters<FleetIndex['steer']>[0]> = {}) =>
  index
    .steer({ clientIp: '198.51.100.20', region: 'us-east-1', titleId: 't1', sessionKey: 's-1', ...request }, NOW)
    .map((choice) => choice.appliance.applianceId);

describe('steering', () => {
  it('prefers the cluster with the longest prefix containing the player\'s address', () => {
    const index = FleetIndex.build(
      [
        appliance('wide-1', { clusterId: 'isp-wide', prefixes: ['198.51.0.0/16'] }),
        appliance('narrow-1', { clusterId: 'isp-narrow', prefixes: ['198.51.100.0/24'] }),
      ],
      policy,
    );
    expect(ids(index)).toEqual(['narrow-1', 'wide-1']);
  });

  it('names a client\'s home cluster by its longest prefix, even one holding nothing the client wants', () => {
    const index = FleetIndex.build(
      [
        appliance('ec2-1', { clusterId: 'ec2-us-east-1', prefixes: ['0.0.0.0/0', '::/0'] }),
        appliance('narrow-1', { clusterId: 'isp-narrow', prefixes: ['198.51.100.0/24'], titles: [] }),
      ],
      policy,
    );
    const home = (clientIp: string | undefined) => index.route({ clientIp, region: 'us-east-1', titleId: 't1', sessionKey: 's-1' }, NOW).homeClusterId;
    expect(home('198.51.100.20')).toBe('isp-narrow');
    expect(home('203.0.113.9')).toBe('ec2-us-east-1');
    expect(home('2001:db8::1')).toBe('ec2-us-east-1');
    expect(home(undefined)).toBeUndefined();
    expect(home('not an address')).toBeUndefined();
    expect(index.route({ clientIp: '198.51.100.20', region: 'us-east-1', titleId: 't1', sessionKey: 's-1' }, NOW).choices.map((c) => c.appliance.applianceId)).toEqual(['ec2-1']);
    expect(ids(index)).toEqual(['ec2-1']);
  });

  it('falls back to the region\'s clusters when no prefix matches, and to nothing outside the region', () => {
    const index = FleetIndex.build(
      [
        appliance('east-1', { prefixes: ['192.0.2.0/24'] }),
        appliance('west-1', { clusterId: 'isp-w', region: 'us-west-2', prefixes: ['192.0.2.0/25'] }),
      ],
      policy,
    );
    const choices = index.steer({ clientIp: '203.0.113.9', region: 'us-east-1', titleId: 't1', sessionKey: 's' }, NOW);
    expect(choices.map((c) => [c.appliance.applianceId, c.matchedBy])).toEqual([['east-1', 'region']]);
  });

  it('uses only appliances that hold the title', () => {
    const index = FleetIndex.build([appliance('has', { titles: ['t1'] }), appliance('lacks', { titles: ['t2'] })], policy);
    expect(ids(index)).toEqual(['has']);
    expect(ids(index, { titleId: 'unknown' })).toEqual([]);
  });

  it.each([
    ['a stale report', { reportedAtMs: NOW - 61_000 }],
    ['no report at all', { reportedAtMs: undefined }],
    ['an error rate over the threshold', { errorRate: 0.2 }],
    ['a load at the hard ceiling', { load: 0.95 }],
  ])('skips an appliance with %s', (_label, overrides) => {
    const index = FleetIndex.build([appliance('sick', overrides), appliance('well')], policy);
    expect(ids(index)).toEqual(['well']);
  });

  it('steers to the next-nearest appliance when the nearest is over its load threshold', () => {
    const index = FleetIndex.build(
      [
        appliance('near-busy', { clusterId: 'isp-near', prefixes: ['198.51.100.0/24'], load: 0.85 }),
        appliance('far-idle', { clusterId: 'isp-far', prefixes: ['198.51.0.0/16'], load: 0.1 }),
      ],
      policy,
    );
    const choices = index.steer({ clientIp: '198.51.100.20', region: 'us-east-1', titleId: 't1', sessionKey: 's' }, NOW);
    expect(choices.map((c) => [c.appliance.applianceId, c.spillover])).toEqual([
      ['far-idle', false],
      ['near-busy', true],
    ]);
  });

  it('returns no appliance when none is eligible, so the play goes to the origin tier', () => {
    expect(ids(FleetIndex.build([], policy))).toEqual([]);
    expect(ids(FleetIndex.build([appliance('sick', { errorRate: 1 })], policy))).toEqual([]);
  });

  it('names at most maxChoices distinct appliances', () => {
    const index = FleetIndex.build(['a', 'b', 'c', 'd', 'e'].map((id) => appliance(id)), policy);
    const chosen = ids(index);
    expect(chosen).toHaveLength(3);
    expect(new Set(chosen).size).toBe(3);
  });

  it('gives the same session the same order every time, whatever the input order', () => {
    const fleet = ['a', 'b', 'c', 'd'].map((id) => appliance(id));
    const forward = FleetIndex.build(fleet, policy);
    const backward = FleetIndex.build([...fleet].reverse(), policy);
    for (const sessionKey of ['s-1', 's-2', 's-3']) {
      expect(ids(forward, { sessionKey })).toEqual(ids(backward, { sessionKey }));
    }
  });

  it('spreads sessions evenly over equal appliances', () => {
    const index = FleetIndex.build(['a', 'b', 'c', 'd'].map((id) => appliance(id)), policy);
    const firstChoices = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const [first] = ids(index, { sessionKey: `session-${i}` });
      firstChoices.set(first, (firstChoices.get(first) ?? 0) + 1);
    }
    expect([...firstChoices.keys()].sort()).toEqual(['a', 'b', 'c', 'd']);
    for (const count of firstChoices.values()) {
      expect(count).toBeGreaterThan(800);
      expect(count).toBeLessThan(1200);
    }
  });

  it('moves only the sessions of an appliance that drops out', () => {
    const fleet = ['a', 'b', 'c', 'd'].map((id) => appliance(id));
    const before = FleetIndex.build(fleet, policy);
    const after = FleetIndex.build(fleet.map((a) => (a.applianceId === 'd' ? { ...a, errorRate: 1 } : a)), policy);
    for (let i = 0; i < 500; i++) {
      const [was] = ids(before, { sessionKey: `s-${i}` });
      const [now] = ids(after, { sessionKey: `s-${i}` });
      if (was !== 'd') {
        expect(now).toBe(was);
      }
    }
  });

  it('matches IPv6 players by prefix too', () => {
    const index = FleetIndex.build([appliance('v6', { prefixes: ['2001:db8:100::/48'] }), appliance('v4', { clusterId: 'other' })], policy);
    expect(ids(index, { clientIp: '2001:db8:100::42' })[0]).toBe('v6');
  });
});

describe('steering from a snapshot', () => {
  const TITLES = Array.from({ length: 70 }, (_, i) => `t-${i}`);
  const REGIONS = ['us-east-1', 'eu-west-1'];

  /** A seeded fleet: nested and shared prefixes, IPv6, two regions, every kind of health, 70 titles. */
  function randomFleet(seed: number): ApplianceView[] {
    const next = random(seed);
    const fleet: ApplianceView[] = [];
    for (let cluster = 0; cluster < 14; cluster++) {
      // Clusters 12 and 13 announce cluster 0's and 1's /24 too: equal prefixes, ranked by score.
      const own = cluster >= 12 ? cluster - 12 : cluster;
      const prefixes = [`10.${own % 3}.${own}.0/24`, `2001:db8:${cluster}::/48`, ...(cluster % 4 === 0 ? [`10.${own % 3}.0.0/16`] : [])];
      for (let i = 0, size = 1 + Math.floor(next() * 6); i < size; i++) {
        fleet.push({
          applianceId: `oca-${cluster}-${i}`,
          clusterId: `isp-${cluster}`,
          region: REGIONS[cluster % 2],
          baseUrl: `https://oca-${cluster}-${i}.example`,
          prefixes,
          reportedAtMs: next() < 0.1 ? undefined : NOW - Math.floor(next() * 80_000),
          load: next() < 0.1 ? undefined : next(),
          errorRate: next() < 0.1 ? 0.2 : 0,
          titles: TITLES.filter(() => next() < 0.3),
        });
      }
    }
    return fleet;
  }

  function randomRequests(seed: number, count: number): SteeringRequest[] {
    const next = random(seed);
    const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)];
    const addresses = [
      () => `10.${Math.floor(next() * 3)}.${Math.floor(next() * 14)}.${1 + Math.floor(next() * 250)}`,
      () => `10.${Math.floor(next() * 3)}.200.7`,
      () => `2001:db8:${Math.floor(next() * 16).toString(16)}::9`,
      () => '203.0.113.9',
      () => undefined,
      () => 'not an address',
    ];
    return Array.from({ length: count }, (_, i) => ({
      clientIp: pick(addresses)(),
      region: pick([...REGIONS, 'ap-south-1']),
      titleId: next() < 0.05 ? 'unknown' : pick(TITLES),
      sessionKey: `s-${i}`,
    }));
  }

  function snapshotOf(fleet: readonly ApplianceView[]): SteeringSnapshot {
    const dictionary = [...new Set(fleet.flatMap((view) => view.titles))];
    const words = Math.ceil(dictionary.length / 32);
    const appliances = fleet.map(({ titles, ...view }) => {
      const holdings = new Uint32Array(words);
      for (const titleId of titles) {
        const bit = dictionary.indexOf(titleId);
        holdings[bit >>> 5] |= 1 << (bit & 31);
      }
      return { ...view, registrationVersion: 1, holdings };
    });
    return { format: SNAPSHOT_FORMAT, region: 'us-east-1', builtAtMs: NOW, titles: dictionary, appliances };
  }

  const decisions = (index: FleetIndex, requests: readonly SteeringRequest[]) =>
    requests.map((request) => {
      const route = index.route(request, NOW);
      return { home: route.homeClusterId, choices: route.choices.map((c) => `${c.appliance.applianceId}/${c.matchedBy}/${c.spillover}`) };
    });

  it('steers every request as build does on the same fleet, through ordering, encoding and decoding', () => {
    const fleet = randomFleet(5);
    const requests = randomRequests(6, 3000);

    const loaded = FleetIndex.fromSnapshot(decodeSnapshot(encodeSnapshot(orderByHolders(snapshotOf(fleet)))), policy);

    expect(decisions(loaded, requests)).toEqual(decisions(FleetIndex.build(fleet, policy), requests));
    expect([loaded.applianceCount, loaded.titleCount]).toEqual([fleet.length, TITLES.length]);
  });

  it('ranks as a plain restatement of the rules does: prefix groups by score, then the region, healthy holders by score, spillover last', () => {
    const fleet = randomFleet(8);
    const requests = randomRequests(9, 3000);
    const index = FleetIndex.build(fleet, policy);

    const chosen = requests.map((request) => index.steer(request, NOW).map((c) => `${c.appliance.applianceId}/${c.matchedBy}/${c.spillover}`));

    expect(chosen).toEqual(requests.map((request) => referenceSteer(fleet, request)));
    expect(chosen.filter((ids) => ids.length === policy.maxChoices).length).toBeGreaterThan(500);
    expect(chosen.filter((ids) => ids.some((id) => id.endsWith('/region/false'))).length).toBeGreaterThan(100);
  });
});

/** The steering rules, restated without an index: every cluster and appliance looked at, sorted with `Array.sort`. */
function referenceSteer(fleet: readonly ApplianceView[], request: SteeringRequest): string[] {
  const ip = request.clientIp === undefined ? undefined : parseIp(request.clientIp);
  const clusterIds = [...new Set(fleet.map((view) => view.clusterId))];
  const score = (id: string) => rendezvousScore(hash32(request.sessionKey), hash32(id));
  const byScore = (ids: string[]) => ids.map((id, at) => ({ id, at })).sort((a, b) => score(b.id) - score(a.id) || a.at - b.at).map((entry) => entry.id);
  const longestCovering = (clusterId: string) => {
    const lengths = fleet
      .filter((view) => view.clusterId === clusterId)
      .flatMap((view) => view.prefixes.map(parsePrefix))
      .filter((prefix): prefix is ParsedPrefix => typeof prefix !== 'string' && ip !== undefined && covers(prefix, ip))
      .map((prefix) => prefix.length);
    return lengths.length === 0 ? -1 : Math.max(...lengths);
  };
  const ordered: [string, 'prefix' | 'region'][] = [];
  const lengths = [...new Set(clusterIds.map(longestCovering).filter((length) => length >= 0))].sort((a, b) => b - a);
  for (const length of lengths) {
    ordered.push(...byScore(clusterIds.filter((id) => longestCovering(id) === length)).map((id): [string, 'prefix'] => [id, 'prefix']));
  }
  const regional = clusterIds.filter((id) => fleet.find((view) => view.clusterId === id)!.region === request.region && !ordered.some(([seen]) => seen === id));
  ordered.push(...byScore(regional).map((id): [string, 'region'] => [id, 'region']));

  const preferred: string[] = [];
  const spillover: string[] = [];
  for (const [clusterId, matchedBy] of ordered) {
    if (preferred.length >= policy.maxChoices) {
      break;
    }
    const members = fleet.filter((view) => view.clusterId === clusterId);
    const eligible = members.filter(
      (view) =>
        view.titles.includes(request.titleId) &&
        view.reportedAtMs !== undefined &&
        NOW - view.reportedAtMs <= policy.maxReportAgeMs &&
        (view.errorRate ?? 0) <= policy.maxErrorRate &&
        (view.load ?? 0) < policy.maxLoad,
    );
    for (const id of byScore(eligible.map((view) => view.applianceId))) {
      const over = (members.find((view) => view.applianceId === id)!.load ?? 0) >= policy.spilloverLoad;
      (over ? spillover : preferred).push(`${id}/${matchedBy}/${over}`);
    }
  }
  return preferred.concat(spillover).slice(0, policy.maxChoices);
}

function covers(prefix: ParsedPrefix, ip: Uint8Array): boolean {
  if (prefix.bytes.length !== ip.length) {
    return false;
  }
  for (let bit = 0; bit < prefix.length; bit++) {
    if (((prefix.bytes[bit >> 3] ^ ip[bit >> 3]) >> (7 - (bit & 7))) & 1) {
      return false;
    }
  }
  return true;
}
