import { ApplianceView, FleetIndex, SteeringPolicy } from '../../../lambda/playback/steering';

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
