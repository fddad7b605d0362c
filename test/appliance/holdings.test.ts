import { ADDITIONS_INTERVAL_MS, HoldingsTracker } from '../../appliance-image/agent/src/holdings';
import { heldPositions, holdingsDigest } from '../../lambda/fleet/fleet-protocol';
import { SignedFillManifest } from '../../lambda/shared/fill-manifest';

const manifest = (generation: number, placed: string[]): SignedFillManifest =>
  ({ generation, objects: [], placements: { 'oca-1': placed, 'oca-2': ['x'] } }) as unknown as SignedFillManifest;

/** What the control plane answers after storing what the node sent. */
const stored = (sent: NonNullable<ReturnType<HoldingsTracker['toSend']>>) => ({ digest: holdingsDigest(sent), generation: sent.generation });

describe('the holdings a node reports', () => {
  const placed = ['t1', 't2', 't3', 't4'];
  let tracker: HoldingsTracker;
  let nowMs: number;

  beforeEach(() => {
    tracker = new HoldingsTracker();
    nowMs = Date.parse('2026-11-29T03:00:00Z');
  });

  it('are bits over its own placement, in placement order', () => {
    const sent = tracker.toSend(manifest(7, placed), 'oca-1', new Set(['t2', 't4', 'not-placed']), nowMs)!;
    expect(sent).toMatchObject({ generation: 7, count: 2 });
    expect(heldPositions(sent, placed.length).map((position) => placed[position])).toEqual(['t2', 't4']);
  });

  it('go with the first report after a start, and then only when they change', () => {
    const first = tracker.toSend(manifest(7, placed), 'oca-1', new Set(['t1']), nowMs)!;
    tracker.acknowledge(stored(first), new Set(['t1']), first);
    nowMs += 30_000;
    expect(tracker.toSend(manifest(7, placed), 'oca-1', new Set(['t1']), nowMs)).toBeUndefined();
  });

  it('go at once when a title was lost or the generation changed, and wait for more titles that only arrived', () => {
    const first = tracker.toSend(manifest(7, placed), 'oca-1', new Set(['t1', 't2']), nowMs)!;
    tracker.acknowledge(stored(first), new Set(['t1', 't2']), first);
    nowMs += 30_000;
    const gained = tracker.toSend(manifest(7, placed), 'oca-1', new Set(['t1', 't2', 't3']), nowMs);
    const lost = tracker.toSend(manifest(7, placed), 'oca-1', new Set(['t1']), nowMs);
    const newGeneration = new HoldingsTracker();
    newGeneration.acknowledge(stored(first), new Set(['t1', 't2']), first);
    expect([gained, lost?.count, newGeneration.toSend(manifest(8, placed), 'oca-1', new Set(['t1', 't2']), nowMs)?.generation]).toEqual([undefined, 1, 8]);
  });

  it('send arrivals once ADDITIONS_INTERVAL_MS has passed since holdings last went', () => {
    const first = tracker.toSend(manifest(7, placed), 'oca-1', new Set(['t1']), nowMs)!;
    tracker.acknowledge(stored(first), new Set(['t1']), first);
    nowMs += ADDITIONS_INTERVAL_MS - 1;
    const early = tracker.toSend(manifest(7, placed), 'oca-1', new Set(['t1', 't2']), nowMs);
    nowMs += 1;
    expect([early, tracker.toSend(manifest(7, placed), 'oca-1', new Set(['t1', 't2']), nowMs)?.count]).toEqual([undefined, 2]);
  });

  it('go again in full when the control plane stores something else (or nothing) for the node', () => {
    const first = tracker.toSend(manifest(7, placed), 'oca-1', new Set(['t1']), nowMs)!;
    tracker.acknowledge({ digest: 'someone-elses', generation: 7 }, new Set(['t1']), first);
    const afterMismatch = tracker.toSend(manifest(7, placed), 'oca-1', new Set(['t1']), nowMs + 1000);
    tracker.acknowledge(null, new Set(['t1']), afterMismatch);
    expect([afterMismatch?.count, tracker.toSend(manifest(7, placed), 'oca-1', new Set(['t1']), nowMs + 2000)?.count]).toEqual([1, 1]);
  });

  it('are not sent before the node has accepted a manifest', () => {
    expect(tracker.toSend(undefined, 'oca-1', new Set(), nowMs)).toBeUndefined();
  });
});
