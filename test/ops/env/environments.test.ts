import { DeployedStack, formatEnvironments, groupEnvironments } from '../../../ops/env/environments';

const NOW = new Date('2026-12-01T12:00:00Z');

function stack(stackName: string, region: string, status: string, tags: Record<string, string>): DeployedStack {
  return { stackName, region, status, tags };
}

function ephemeralTags(name: string, creator: string, expiresAt: string): Record<string, string> {
  return {
    'nearstream:environment': name,
    'nearstream:kind': 'ephemeral',
    'nearstream:creator': creator,
    'nearstream:expires-at': expiresAt,
  };
}

describe('groupEnvironments', () => {
  it('groups stacks by their environment tag across both regions, with kind, creator, expiry and statuses', () => {
    const tags = ephemeralTags('pr-7', 'alice', '2026-12-03T12:00:00Z');
    const environments = groupEnvironments(
      [
        stack('nearstream-pr-7-data', 'us-east-1', 'CREATE_COMPLETE', tags),
        stack('nearstream-pr-7-control-plane-us-west-2', 'us-west-2', 'UPDATE_IN_PROGRESS', tags),
        stack('nearstream-prod-data', 'us-east-1', 'UPDATE_COMPLETE', { 'nearstream:environment': 'prod', 'nearstream:kind': 'prod' }),
      ],
      NOW,
    );

    expect(environments).toEqual([
      {
        name: 'pr-7',
        kind: 'ephemeral',
        creator: 'alice',
        expiresAt: '2026-12-03T12:00:00Z',
        expired: false,
        stacks: [
          { stackName: 'nearstream-pr-7-control-plane-us-west-2', region: 'us-west-2', status: 'UPDATE_IN_PROGRESS' },
          { stackName: 'nearstream-pr-7-data', region: 'us-east-1', status: 'CREATE_COMPLETE' },
        ],
      },
      { name: 'prod', kind: 'prod', creator: undefined, expiresAt: undefined, expired: false, stacks: [{ stackName: 'nearstream-prod-data', region: 'us-east-1', status: 'UPDATE_COMPLETE' }] },
    ]);
  });

  it('marks an environment whose expiry has passed as expired', () => {
    const [environment] = groupEnvironments([stack('nearstream-old-data', 'us-east-1', 'CREATE_COMPLETE', ephemeralTags('old', 'bob', '2026-12-01T11:59:59Z'))], NOW);
    expect(environment.expired).toBe(true);
  });

  it("leaves out stacks that are not Nearstream's and stacks already deleted", () => {
    expect(
      groupEnvironments(
        [
          stack('CDKToolkit', 'us-east-1', 'CREATE_COMPLETE', {}),
          stack('nearstream-gone-data', 'us-east-1', 'DELETE_COMPLETE', ephemeralTags('gone', 'bob', '2026-12-03T00:00:00Z')),
        ],
        NOW,
      ),
    ).toEqual([]);
  });

  it('shows every value when the stacks of one environment disagree, rather than picking one', () => {
    const [environment] = groupEnvironments(
      [
        stack('nearstream-pr-7-data', 'us-east-1', 'CREATE_COMPLETE', ephemeralTags('pr-7', 'alice', '2026-12-03T12:00:00Z')),
        stack('nearstream-pr-7-encoding', 'us-east-1', 'UPDATE_COMPLETE', ephemeralTags('pr-7', 'alice', '2026-12-05T12:00:00Z')),
      ],
      NOW,
    );
    expect(environment.expiresAt).toBe('2026-12-03T12:00:00Z | 2026-12-05T12:00:00Z');
  });
});

describe('formatEnvironments', () => {
  it('prints an environment line and its stacks, saying expired', () => {
    const lines = formatEnvironments(
      groupEnvironments([stack('nearstream-old-data', 'us-east-1', 'CREATE_COMPLETE', ephemeralTags('old', 'bob', '2026-11-30T00:00:00Z'))], NOW),
      ['us-east-1', 'us-west-2'],
    );
    expect(lines).toEqual(['old  ephemeral  creator bob  expires 2026-11-30T00:00:00Z (expired)  1 stack', '    nearstream-old-data  us-east-1  CREATE_COMPLETE']);
  });

  it('says so when the account has none', () => {
    expect(formatEnvironments([], ['us-east-1', 'us-west-2'])).toEqual(['no Nearstream environments in us-east-1 or us-west-2']);
  });
});
