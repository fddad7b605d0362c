import { PlayerEvent, SessionFacts, summarize, utcDay } from '../../../lambda/telemetry/telemetry';

const sessions = new Map<string, SessionFacts>([
  ['s1', { accountId: 'alice', titleId: 't1', slot: 0, clusterId: 'isp-a' }],
  ['s2', { accountId: 'alice', titleId: 't2', slot: 1 }],
  ['s3', { accountId: 'bob', titleId: 't1', slot: 0 }],
]);
const at = (second: number) => `2026-11-21T10:00:${String(second).padStart(2, '0')}Z`;
const event = (type: PlayerEvent['type'], sessionId: string, extra: Partial<PlayerEvent> = {}): PlayerEvent => ({
  type,
  sessionId,
  at: at(0),
  ...extra,
});

describe('summarize', () => {
  it('counts starts as demand per title and cluster', () => {
    const summary = summarize([event('start', 's1'), event('start', 's1'), event('start', 's2')], sessions, 'alice');
    expect(summary.starts).toBe(3);
    expect(summary.demand).toEqual([
      { titleId: 't1', clusterId: 'isp-a', starts: 2 },
      { titleId: 't2', clusterId: undefined, starts: 1 },
    ]);
  });

  it('counts only fatal errors as play failures', () => {
    const summary = summarize([event('error', 's1', { fatal: true }), event('error', 's1', { fatal: false }), event('rebuffer', 's1')], sessions, 'alice');
    expect([summary.fatalErrors, summary.rebuffers]).toEqual([1, 1]);
  });

  it('renews each session\'s lease once, and releases it when the batch holds a stop', () => {
    const summary = summarize([event('heartbeat', 's1'), event('heartbeat', 's2'), event('stop', 's2'), event('heartbeat', 's1')], sessions, 'alice');
    expect(summary.leases).toEqual([
      { sessionId: 's1', slot: 0, release: false },
      { sessionId: 's2', slot: 1, release: true },
    ]);
  });

  it('keeps the latest position per title', () => {
    const summary = summarize(
      [event('heartbeat', 's1', { positionSeconds: 90, at: at(30) }), event('heartbeat', 's1', { positionSeconds: 60, at: at(20) })],
      sessions,
      'alice',
    );
    expect(summary.positions).toEqual([{ titleId: 't1', positionSeconds: 90, updatedAt: '2026-11-21T10:00:30.000Z' }]);
  });

  it('rejects events of unknown sessions and of other accounts\' sessions one by one', () => {
    const summary = summarize([event('start', 's1'), event('start', 'ghost'), event('start', 's3')], sessions, 'alice');
    expect(summary.accepted).toBe(1);
    expect(summary.rejected).toEqual([
      { index: 1, reason: "unknown session 'ghost'" },
      { index: 2, reason: "session 's3' belongs to another account" },
    ]);
    expect(summary.starts).toBe(1);
  });

  it('names days in UTC', () => {
    expect(utcDay(Date.parse('2026-11-21T23:59:59-05:00'))).toBe('2026-11-22');
  });
});
