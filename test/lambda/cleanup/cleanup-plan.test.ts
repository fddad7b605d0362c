import { BAD_TAG_REASONS, CleanupPlan, failedDeletionCadence, FoundStack, planCleanup, positionOf, StackRef } from '../../../lambda/cleanup/cleanup-plan';
import { environmentStackNames } from '../../../lambda/cleanup/log-groups';
import { ENVIRONMENT_TAGS } from '../../../lib/config/lifetime';
import { synthEnvironment } from '../../support/synth';

const PRIMARY = 'us-east-1';
const SECONDARY = 'us-west-2';
const NOW = new Date('2026-12-02T12:00:00Z');
const PAST = '2026-12-01T12:00:00Z';
const FUTURE = '2026-12-03T12:00:00Z';

interface EnvironmentOptions {
  readonly kind?: string;
  readonly expiresAt?: string;
  readonly appliances?: boolean;
  /** Status by stack name; every other stack is CREATE_COMPLETE. */
  readonly status?: Readonly<Record<string, string>>;
}

/** Every stack of one environment, in both regions, tagged as lib/nearstream-environment.ts tags them. */
function environment(name: string, options: EnvironmentOptions = {}): FoundStack[] {
  const { kind = 'ephemeral', expiresAt = PAST, appliances = true } = options;
  const tags: Record<string, string> = { [ENVIRONMENT_TAGS.environment]: name, [ENVIRONMENT_TAGS.kind]: kind, [ENVIRONMENT_TAGS.creator]: 'alice' };
  if (expiresAt !== '') {
    tags[ENVIRONMENT_TAGS.expiresAt] = expiresAt;
  }
  const stacks: StackRef[] = [
    { stackName: `nearstream-${name}-origin-replica-${SECONDARY}`, region: SECONDARY },
    { stackName: `nearstream-${name}-data`, region: PRIMARY },
    { stackName: `nearstream-${name}-encoding`, region: PRIMARY },
    { stackName: `nearstream-${name}-appliance-image`, region: PRIMARY },
    ...[PRIMARY, SECONDARY].flatMap((region) => [
      { stackName: `nearstream-${name}-control-plane-${region}`, region },
      ...(appliances ? [{ stackName: `nearstream-${name}-appliances-${region}`, region }] : []),
    ]),
  ];
  return stacks.map((stack) => ({ ...stack, status: options.status?.[stack.stackName] ?? 'CREATE_COMPLETE', tags }));
}

const names = (stacks: readonly StackRef[]) => stacks.map((stack) => stack.stackName).sort();

/**
 * Plays the schedule: plans, lets CloudFormation finish every deletion issued, and plans again
 * until nothing is left; the layers in the order they were issued.
 */
function deletionOrder(stacks: readonly FoundStack[], now = NOW): string[][] {
  const layers: string[][] = [];
  let remaining = [...stacks];
  for (let run = 0; run < 10 && remaining.length > 0; run += 1) {
    const issued = planCleanup(remaining, now).teardowns.flatMap((teardown) => [...teardown.start, ...teardown.failed.filter((failed) => failed.retry)]);
    if (issued.length === 0) {
      break;
    }
    layers.push(names(issued));
    remaining = remaining.filter((stack) => !issued.some((gone) => gone.stackName === stack.stackName));
  }
  return layers;
}

describe('planCleanup', () => {
  it('deletes an expired environment one layer per run, across both regions, appliances first and the origin replica last', () => {
    expect(deletionOrder(environment('pr-41'))).toEqual([
      ['nearstream-pr-41-appliances-us-east-1', 'nearstream-pr-41-appliances-us-west-2'],
      ['nearstream-pr-41-appliance-image', 'nearstream-pr-41-control-plane-us-east-1', 'nearstream-pr-41-control-plane-us-west-2'],
      ['nearstream-pr-41-encoding'],
      ['nearstream-pr-41-data'],
      ['nearstream-pr-41-origin-replica-us-west-2'],
    ]);
  });

  it('starts with the control planes and appliance image when the environment has no appliances', () => {
    const [teardown] = planCleanup(environment('pr-41', { appliances: false }), NOW).teardowns;
    expect(names(teardown.start)).toEqual(['nearstream-pr-41-appliance-image', 'nearstream-pr-41-control-plane-us-east-1', 'nearstream-pr-41-control-plane-us-west-2']);
    expect(names(teardown.waiting)).toEqual(['nearstream-pr-41-data', 'nearstream-pr-41-encoding', 'nearstream-pr-41-origin-replica-us-west-2']);
    expect(teardown.startsLastLayer).toBe(false);
  });

  it('treats an environment as expired from the instant of its expiry, not a second before', () => {
    const stacks = environment('pr-41', { expiresAt: '2026-12-02T12:00:00Z' });
    expect(planCleanup(stacks, NOW).teardowns).toHaveLength(1);
    const before = planCleanup(stacks, new Date(NOW.getTime() - 1000));
    expect(before.teardowns).toEqual([]);
    expect(before.skipped).toEqual([expect.objectContaining({ environment: 'pr-41', reason: 'not-expired', detail: 'expires at 2026-12-02T12:00:00Z' })]);
  });

  it('never deletes prod or staging, even tagged with an expiry in the past', () => {
    const plan = planCleanup([...environment('prod', { kind: 'prod' }), ...environment('staging', { kind: 'staging' })], NOW);
    expect(plan.teardowns).toEqual([]);
    expect(plan.skipped.map((skip) => [skip.environment, skip.reason])).toEqual([['prod', 'protected-kind'], ['staging', 'protected-kind']]);
    expect(plan.skipped[0].stacks).toHaveLength(8);
  });

  it('leaves an ephemeral environment without an expiry alone, quietly: dev and hand-deployed ones have none', () => {
    const plan = planCleanup(environment('dev', { expiresAt: '' }), NOW);
    expect(plan.teardowns).toEqual([]);
    expect(plan.skipped).toEqual([expect.objectContaining({ environment: 'dev', reason: 'no-expiry' })]);
    expect(BAD_TAG_REASONS.has('no-expiry')).toBe(false);
  });

  it.each(['tomorrow', '2026-02-30T00:00:00Z', '2026-12-02T12:00:00+01:00', '2026-12-02T12:00:00.000Z', '2026-12-02'])(
    'skips an environment whose expiry %s is not an exact UTC instant, naming the value',
    (expiresAt) => {
      const plan = planCleanup(environment('pr-41', { expiresAt }), NOW);
      expect(plan.teardowns).toEqual([]);
      expect(plan.skipped).toEqual([expect.objectContaining({ environment: 'pr-41', reason: 'bad-expiry', detail: expect.stringContaining(`'${expiresAt}'`) })]);
      expect(BAD_TAG_REASONS.has('bad-expiry')).toBe(true);
    },
  );

  it('skips an environment whose kind tag is missing or unknown', () => {
    const stacks = environment('pr-41').map((stack) => ({ ...stack, tags: { ...stack.tags, [ENVIRONMENT_TAGS.kind]: 'dev' } }));
    expect(planCleanup(stacks, NOW).skipped).toEqual([expect.objectContaining({ reason: 'bad-kind', detail: expect.stringContaining("'dev'") })]);
    const untagged = environment('pr-41').map(({ tags: { [ENVIRONMENT_TAGS.kind]: _kind, ...rest }, ...stack }) => ({ ...stack, tags: rest }));
    expect(planCleanup(untagged, NOW).skipped).toEqual([expect.objectContaining({ reason: 'bad-kind', detail: expect.stringContaining('missing') })]);
  });

  describe('when the stacks disagree on the expiry, as a failed update rolled back on some of them leaves them', () => {
    /** pr-41 with its first `count` stacks (the origin replica first) carrying `expiresAt` instead. */
    const withSome = (count: number, expiresAt: string | undefined, options: EnvironmentOptions = {}) =>
      environment('pr-41', options).map((stack, index) => {
        if (index >= count) {
          return stack;
        }
        const { [ENVIRONMENT_TAGS.expiresAt]: _expiresAt, ...tags } = stack.tags;
        return { ...stack, tags: expiresAt === undefined ? tags : { ...tags, [ENVIRONMENT_TAGS.expiresAt]: expiresAt } };
      });

    it('tears the environment down once the latest of its expiries has passed, noting the earlier ones', () => {
      const plan = planCleanup(withSome(3, '2026-12-02T11:00:00Z'), NOW);
      expect(plan.skipped).toEqual([]);
      expect(plan.teardowns).toEqual([expect.objectContaining({ environment: 'pr-41', expiresAt: '2026-12-02T11:00:00Z', supersededExpiries: [PAST] })]);
      expect(names(plan.teardowns[0].start)).toEqual(['nearstream-pr-41-appliances-us-east-1', 'nearstream-pr-41-appliances-us-west-2']);
    });

    it('keeps the environment until the latest expiry when any stack carries one in the future, quietly', () => {
      const plan = planCleanup(withSome(1, FUTURE), NOW);
      expect(plan.teardowns).toEqual([]);
      expect(plan.skipped).toEqual([expect.objectContaining({ reason: 'not-expired', detail: `expires at ${FUTURE} (the latest of ${PAST}, ${FUTURE}, which its stacks disagree on)` })]);
      expect(BAD_TAG_REASONS.has('not-expired')).toBe(false);
      expect(planCleanup(withSome(1, FUTURE), new Date(FUTURE)).teardowns).toHaveLength(1);
    });

    it('never deletes it when any stack says prod or staging, and reports the conflict', () => {
      for (const kind of ['prod', 'staging']) {
        const stacks = environment('pr-41').map((stack, index) => (index === 4 ? { ...stack, tags: { ...stack.tags, [ENVIRONMENT_TAGS.kind]: kind } } : stack));
        const plan = planCleanup(stacks, NOW);
        expect(plan.teardowns).toEqual([]);
        expect(plan.skipped).toEqual([expect.objectContaining({ reason: 'conflicting-tags', detail: expect.stringContaining(`ephemeral, ${kind}; with ${kind} among them it is never cleaned up`) })]);
      }
    });

    it('reports, and keeps, an environment where some stacks carry no expiry: one of the two is wrong', () => {
      const plan = planCleanup(withSome(1, undefined), NOW);
      expect(plan.teardowns).toEqual([]);
      expect(plan.skipped).toEqual([expect.objectContaining({ reason: 'conflicting-tags', detail: `nearstream-pr-41-origin-replica-us-west-2 carry no ${ENVIRONMENT_TAGS.expiresAt} while its other stacks carry ${PAST}` })]);
    });

    it('reports an unreadable expiry on any stack rather than taking the latest of the rest', () => {
      const plan = planCleanup(withSome(1, 'next tuesday'), NOW);
      expect(plan.teardowns).toEqual([]);
      expect(plan.skipped).toEqual([expect.objectContaining({ reason: 'bad-expiry', detail: expect.stringContaining("'next tuesday'") })]);
    });
  });

  it('skips and names a stack whose environment tag disagrees with its name, and tears the rest down without it', () => {
    const stacks = [
      ...environment('pr-4'),
      { ...environment('pr-42')[1], tags: environment('pr-4')[1].tags },
      { ...environment('pr-42')[2], stackName: 'nearstream-other-thing', tags: environment('pr-4')[1].tags },
    ];
    const plan = planCleanup(stacks, NOW);
    expect(plan.skipped.map((skip) => [skip.reason, names(skip.stacks)])).toEqual([
      ['name-mismatch', ['nearstream-pr-42-data']],
      ['name-mismatch', ['nearstream-other-thing']],
    ]);
    expect(plan.skipped[0].detail).toBe('stack nearstream-pr-42-data in us-east-1 is tagged nearstream:environment=pr-4 but is not named nearstream-pr-4-<part>');
    expect(plan.teardowns.map((teardown) => teardown.environment)).toEqual(['pr-4']);
    expect([...plan.teardowns[0].start, ...plan.teardowns[0].waiting].map((stack) => stack.stackName)).not.toContain('nearstream-pr-42-data');
  });

  it('reads environment names with hyphens, even ones ending like a stack part', () => {
    expect(positionOf('nearstream-pr-feature-x-control-plane-us-west-2', 'pr-feature-x')).toEqual({ part: 'control-plane', layer: 1 });
    expect(positionOf('nearstream-pr-data-data', 'pr-data')).toEqual({ part: 'data', layer: 3 });
    expect(positionOf('nearstream-pr-data-data', 'pr')).toBeUndefined();
    expect(deletionOrder(environment('pr-data', { appliances: false })).at(-2)).toEqual(['nearstream-pr-data-data']);
  });

  it('deletes a stack of a part it does not know in the first layer', () => {
    const [first] = environment('pr-41');
    const stacks = [...environment('pr-41'), { ...first, stackName: 'nearstream-pr-41-cdn', region: PRIMARY }];
    expect(positionOf('nearstream-pr-41-cdn', 'pr-41')).toEqual({ layer: 0 });
    expect(deletionOrder(stacks)[0]).toEqual(['nearstream-pr-41-appliances-us-east-1', 'nearstream-pr-41-appliances-us-west-2', 'nearstream-pr-41-cdn']);
  });

  it('does not issue a deletion again while it is in progress, and waits for it before the next layer', () => {
    const status = { 'nearstream-pr-41-appliances-us-east-1': 'DELETE_IN_PROGRESS' };
    const plan = planCleanup(environment('pr-41', { status }), NOW);
    const [teardown] = plan.teardowns;
    expect(names(teardown.start)).toEqual(['nearstream-pr-41-appliances-us-west-2']);
    expect(names(teardown.inProgress)).toEqual(['nearstream-pr-41-appliances-us-east-1']);
    expect(teardown.waiting).toHaveLength(6);
    expect(planCleanup(environment('pr-41', { status }), NOW)).toEqual(plan);

    const bothGoing = planCleanup(environment('pr-41', { status: { ...status, 'nearstream-pr-41-appliances-us-west-2': 'DELETE_IN_PROGRESS' } }), NOW);
    expect(bothGoing.teardowns[0].start).toEqual([]);
    expect(bothGoing.teardowns[0].startsLastLayer).toBe(false);
  });

  it('reports a stack whose deletion failed with its reason, retries it in the daily run, and deletes nothing behind it', () => {
    const statusReason = 'The following resource(s) failed to delete: [Bucket83908E77].';
    const stacks = environment('pr-41', { appliances: false, status: { 'nearstream-pr-41-control-plane-us-east-1': 'DELETE_FAILED' } }).map((stack) =>
      stack.status === 'DELETE_FAILED' ? { ...stack, statusReason, deletionStartedAt: new Date('2026-12-01T18:00:05Z') } : stack,
    );
    const [teardown] = planCleanup(stacks, NOW).teardowns;
    expect(teardown.failed).toEqual([{ stackName: 'nearstream-pr-41-control-plane-us-east-1', region: PRIMARY, statusReason, retry: false, announce: false }]);
    expect(names(teardown.start)).not.toContain('nearstream-pr-41-control-plane-us-east-1');
    expect(names(teardown.waiting)).toEqual(['nearstream-pr-41-data', 'nearstream-pr-41-encoding', 'nearstream-pr-41-origin-replica-us-west-2']);

    const [daily] = planCleanup(stacks, new Date('2026-12-02T09:07:00Z')).teardowns;
    expect(daily.failed).toEqual([expect.objectContaining({ stackName: 'nearstream-pr-41-control-plane-us-east-1', retry: true, announce: true })]);
    expect(names(daily.waiting)).toEqual(names(teardown.waiting));
  });

  it('waits for a stack in another operation rather than calling DeleteStack, which CloudFormation would refuse', () => {
    const [replica] = environment('pr-41');
    const [teardown] = planCleanup([{ ...replica, status: 'UPDATE_ROLLBACK_IN_PROGRESS' }], NOW).teardowns;
    expect(teardown).toMatchObject({ start: [], failed: [], busy: [{ stackName: replica.stackName }], startsLastLayer: false });
  });

  it('says an environment starts its last layer in the run that issues DeleteStack for its last stacks, and not before or after', () => {
    const [replica, data] = environment('pr-41');
    expect(planCleanup([replica, data], NOW).teardowns[0].startsLastLayer).toBe(false);
    expect(planCleanup([replica], NOW).teardowns[0]).toMatchObject({ start: [{ stackName: replica.stackName, region: SECONDARY }], startsLastLayer: true });
    expect(planCleanup([{ ...replica, status: 'DELETE_IN_PROGRESS' }], NOW).teardowns[0]).toMatchObject({ start: [], startsLastLayer: false });
    expect(planCleanup([{ ...replica, status: 'DELETE_COMPLETE' }], NOW)).toEqual({ teardowns: [], skipped: [] });
    // A failed last stack left for the daily retry is not deleting; the daily run that retries it starts it again.
    expect(planCleanup([{ ...replica, status: 'DELETE_FAILED' }], NOW).teardowns[0]).toMatchObject({ failed: [{ retry: false }], startsLastLayer: false });
    expect(planCleanup([{ ...replica, status: 'DELETE_FAILED' }], new Date('2026-12-02T09:07:00Z')).teardowns[0]).toMatchObject({ failed: [{ retry: true }], startsLastLayer: true });
  });

  it('says the current layer is the last while nothing waits behind it and nothing of it is busy, deleting or not', () => {
    const [replica, data] = environment('pr-41');
    expect(planCleanup([replica, data], NOW).teardowns[0].lastLayer).toBe(false);
    for (const status of ['CREATE_COMPLETE', 'DELETE_IN_PROGRESS', 'DELETE_FAILED']) {
      expect([status, planCleanup([{ ...replica, status }], NOW).teardowns[0].lastLayer]).toEqual([status, true]);
    }
    expect(planCleanup([{ ...replica, status: 'UPDATE_IN_PROGRESS' }], NOW).teardowns[0].lastLayer).toBe(false);
  });

  it('plans several environments at once, each at its own layer', () => {
    const plan = planCleanup(
      [
        ...environment('pr-9', { expiresAt: FUTURE }),
        ...environment('pr-2').slice(0, 2),
        ...environment('pr-1', { appliances: false }),
        ...environment('staging', { kind: 'staging' }),
      ],
      NOW,
    );
    expect(plan.teardowns.map((teardown) => [teardown.environment, names(teardown.start)])).toEqual([
      ['pr-1', ['nearstream-pr-1-appliance-image', 'nearstream-pr-1-control-plane-us-east-1', 'nearstream-pr-1-control-plane-us-west-2']],
      ['pr-2', ['nearstream-pr-2-data']],
    ]);
    expect(plan.skipped.map((skip) => [skip.environment, skip.reason])).toEqual([['pr-9', 'not-expired'], ['staging', 'protected-kind']]);
  });

  it('ignores stacks that are not an environment\'s: no environment tag, or not named nearstream-…', () => {
    const [stack] = environment('pr-41');
    const { [ENVIRONMENT_TAGS.environment]: _environment, ...untagged } = stack.tags;
    const plan: CleanupPlan = planCleanup([{ ...stack, tags: untagged }, { ...stack, stackName: 'CDKToolkit' }], NOW);
    expect(plan).toEqual({ teardowns: [], skipped: [] });
  });
});

describe('failedDeletionCadence', () => {
  const MINUTE = 60_000;
  /** The schedule's runs: every 15 minutes, 7 minutes past the quarter, from `from` for `hours`. */
  const runs = (from: string, hours: number) => Array.from({ length: hours * 4 }, (_, index) => new Date(new Date(from).getTime() + 7 * MINUTE + index * 15 * MINUTE));

  /**
   * Plays the schedule over a stack whose deletion began at `deletionStartedAt` and fails within a
   * minute every time. `restampedByRetry` says whether a retry restarts DeletionTime: the rule
   * must hold either way. Returns the runs that announced and the runs that retried.
   */
  function play(deletionStartedAt: Date, days: number, restampedByRetry: boolean) {
    let started = deletionStartedAt;
    const announced: string[] = [];
    const retried: string[] = [];
    for (const now of runs('2026-12-02T12:00:00Z', days * 24).filter((run) => run > deletionStartedAt)) {
      const { retry, announce } = failedDeletionCadence(started, now);
      if (announce) {
        announced.push(now.toISOString());
      }
      if (retry) {
        retried.push(now.toISOString());
        started = restampedByRetry ? new Date(now.getTime() + 5000) : started;
      }
    }
    return { announced, retried };
  }

  it.each([true, false])('announces a failure in the first run after it, then once a day with the daily retry (DeletionTime restamped by a retry: %s)', (restampedByRetry) => {
    // The deletion began in the 12:07 run and failed before the 12:22 run.
    const { announced, retried } = play(new Date('2026-12-02T12:07:05Z'), 3, restampedByRetry);
    expect(announced).toEqual(['2026-12-02T12:22:00.000Z', '2026-12-03T09:07:00.000Z', '2026-12-04T09:07:00.000Z', '2026-12-05T09:07:00.000Z']);
    expect(retried).toEqual(['2026-12-03T09:07:00.000Z', '2026-12-04T09:07:00.000Z', '2026-12-05T09:07:00.000Z']);
  });

  it('stays quiet between the announcements, whatever DeletionTime says', () => {
    expect(failedDeletionCadence(new Date('2026-12-02T12:07:05Z'), new Date('2026-12-02T12:37:00Z'))).toEqual({ retry: false, announce: false });
    expect(failedDeletionCadence(undefined, new Date('2026-12-02T12:22:00Z'))).toEqual({ retry: false, announce: false });
    // A failure of the daily retry was announced with the retry, not again the run after.
    expect(failedDeletionCadence(new Date('2026-12-02T09:07:05Z'), new Date('2026-12-02T09:22:00Z'))).toEqual({ retry: false, announce: false });
  });

  it('retries and reminds in the daily run even without a DeletionTime, and places that run by the schedule\'s interval', () => {
    expect(failedDeletionCadence(undefined, new Date('2026-12-02T09:14:59Z'))).toEqual({ retry: true, announce: true });
    expect(failedDeletionCadence(undefined, new Date('2026-12-02T09:15:00Z'))).toEqual({ retry: false, announce: false });
    expect(failedDeletionCadence(undefined, new Date('2026-12-02T09:45:00Z'), 60)).toEqual({ retry: true, announce: true });
    expect(failedDeletionCadence(new Date('2026-12-02T12:00:00Z'), new Date('2026-12-02T12:45:00Z'), 60)).toEqual({ retry: false, announce: true });
  });
});

describe('planCleanup on the stacks lib/nearstream-environment.ts synthesizes', () => {
  const synthesized = synthEnvironment({
    name: 'pr-feature-x',
    account: '123456789012',
    applianceAmis: { [PRIMARY]: 'ami-0123456789abcdef0', [SECONDARY]: 'ami-0fedcba9876543210' },
    creator: 'alice',
    expiresAt: PAST,
  });
  const { environment: env } = synthesized;
  const stacks = [env.originReplica, env.data, env.encoding, ...env.controlPlanes, env.applianceImage, ...env.appliances];

  it('knows every part of the environment\'s stack names and reads its tags', () => {
    expect(synthesized.synthError).toBeUndefined();
    expect(env.appliances).toHaveLength(2);
    for (const stack of stacks) {
      expect([stack.stackName, positionOf(stack.stackName, 'pr-feature-x')?.part]).toEqual([stack.stackName, expect.any(String)]);
    }
  });

  it('gives the log group cleanup every stack name the environment has', () => {
    expect(environmentStackNames('pr-feature-x', [PRIMARY, SECONDARY])).toEqual(expect.arrayContaining(stacks.map((stack) => stack.stackName)));
  });

  it('deletes every stack after every stack that depends on it, and all of them in the end', () => {
    const found: FoundStack[] = stacks.map((stack) => ({ stackName: stack.stackName, region: stack.region, status: 'CREATE_COMPLETE', tags: stack.tags.tagValues() }));
    const order = deletionOrder(found);
    const runOf = (stackName: string) => order.findIndex((layer) => layer.includes(stackName));
    expect(order.flat().sort()).toEqual(stacks.map((stack) => stack.stackName).sort());
    for (const stack of stacks) {
      for (const dependency of stack.dependencies) {
        expect([stack.stackName, dependency.stackName, runOf(stack.stackName) < runOf(dependency.stackName)]).toEqual([stack.stackName, dependency.stackName, true]);
      }
    }
  });
});
