import { REQUEST_LIMITS } from '../../../lambda/shared/control-table';
import { objectsForAppliance, signManifest, verifyManifest } from '../../../lambda/shared/fill-manifest';
import { ClusterDemand, manifestOf, planFills, PlanInput, PlanTitle } from '../../../lambda/planning/fill-plan';
import { fitToObjects } from '../../../lambda/planning/nightly';
import { TEST_KEYRING } from '../../support/fixtures';
import { plays, shuffledPopularity, zipfPopularity } from '../../support/plays';

const GB = 1e9;

function demandOf(entries: Record<string, Record<number, number>>): ClusterDemand {
  return new Map(Object.entries(entries).map(([titleId, days]) => [titleId, new Map(Object.entries(days).map(([day, value]) => [Number(day), value]))]));
}

/** 40 titles of 1-5 GB with Zipf-like demand over the last week, released long ago. */
function catalog(count = 40): { titles: PlanTitle[]; demand: ClusterDemand } {
  const titles = Array.from({ length: count }, (_, index) => ({ titleId: `t${index}`, bytes: (1 + (index % 5)) * GB, releaseDay: -100 }));
  const demand = demandOf(Object.fromEntries(titles.map((title, index) => [title.titleId, { 7: 1000 / (index + 1), 8: 900 / (index + 1), 9: 1100 / (index + 1) }])));
  return { titles, demand };
}

const appliances = (count: number, capacityBytes: number) => Array.from({ length: count }, (_, index) => ({ id: `oca-${index + 1}`, capacityBytes }));

describe('planFills', () => {
  it('never places more on an appliance than its capacity less headroom', () => {
    const { titles, demand } = catalog();
    const [plan] = planFills({ day: 10, titles, clusters: [{ id: 'isp-a', appliances: appliances(3, 20 * GB) }], demand: new Map([['isp-a', demand]]) });
    const sizes = new Map(titles.map((title) => [title.titleId, title.bytes]));
    for (const [applianceId, placed] of plan.placements) {
      const bytes = placed.reduce((sum, titleId) => sum + sizes.get(titleId)!, 0);
      expect({ applianceId, within: bytes <= 20 * GB * 0.98 }).toEqual({ applianceId, within: true });
      expect(plan.bytesPlaced.get(applianceId)).toBe(bytes);
    }
    expect(plan.titles.length).toBeGreaterThan(5);
  });

  it('places no more titles on one appliance than its holdings can report, whatever room is left', () => {
    const count = REQUEST_LIMITS.placementTitles + 50;
    const titles = Array.from({ length: count }, (_, index) => ({ titleId: `t${index}`, bytes: 1000, releaseDay: -100 }));
    const demand = new Map(titles.map((title, index) => [title.titleId, new Map([[9, 1 + (index % 7)]])]));
    const [plan] = planFills({ day: 10, titles, clusters: [{ id: 'c', appliances: appliances(1, 1000 * GB) }], demand: new Map([['c', demand]]) });
    expect(plan.placements.get('oca-1')).toHaveLength(REQUEST_LIMITS.placementTitles);
  });

  it('places the densest demand first: a popular small title over a popular big one when only one fits', () => {
    const titles = [
      { titleId: 'big', bytes: 8 * GB, releaseDay: 0 },
      { titleId: 'small', bytes: 4 * GB, releaseDay: 0 },
    ];
    const demand = demandOf({ big: { 9: 120 }, small: { 9: 100 } });
    const [plan] = planFills({ day: 10, titles, clusters: [{ id: 'c', appliances: appliances(1, 9 * GB) }], demand: new Map([['c', demand]]), options: { poolWeight: 0 } });
    expect(plan.titles).toEqual(['small']);
  });

  it('is deterministic: the same inputs in any order make the same plan', () => {
    const { titles, demand } = catalog();
    const input: PlanInput = { day: 10, titles, clusters: [{ id: 'isp-a', appliances: appliances(4, 15 * GB) }], demand: new Map([['isp-a', demand]]) };
    const first = planFills(input);
    const again = planFills({ ...input, titles: [...titles].reverse() });
    expect(again).toEqual(first);
  });

  it('places a title released on the planned day, which has no history, ahead of the tail', () => {
    const { titles, demand } = catalog();
    const release = { titleId: 'premiere', bytes: 3 * GB, releaseDay: 10 };
    const notYet = { titleId: 'next-week', bytes: 1 * GB, releaseDay: 17 };
    const [plan] = planFills({ day: 10, titles: [...titles, release, notYet], clusters: [{ id: 'c', appliances: appliances(1, 20 * GB) }], demand: new Map([['c', demand]]) });
    expect(plan.titles).toContain('premiere');
    expect(plan.titles.indexOf('premiere')).toBeLessThan(plan.titles.length - 1);
    expect(plan.titles).not.toContain('next-week');
  });

  it('never places a title on or after its retire day, however popular or held', () => {
    const { titles, demand } = catalog();
    const leaving = titles.map((title, index) => (index < 3 ? { ...title, retireDay: 10 - index } : title));
    const clusters = [{ id: 'c', appliances: appliances(2, 40 * GB) }];
    const held = new Map([['c', new Set(['t0', 't1', 't2'])]]);
    const [plan] = planFills({ day: 10, titles: leaving, clusters, demand: new Map([['c', demand]]), held });
    expect(plan.titles.filter((titleId) => ['t0', 't1', 't2'].includes(titleId))).toEqual([]);
    expect([...plan.placements.values()].flat().filter((titleId) => ['t0', 't1', 't2'].includes(titleId))).toEqual([]);
    // The day before its retire day the title is still placed: it is available through day 9.
    const [dayBefore] = planFills({ day: 9, titles: leaving, clusters, demand: new Map([['c', demand]]), held });
    expect(dayBefore.titles).toContain('t0');
    expect(dayBefore.titles).not.toContain('t1');
  });

  it('gives titles more copies as their share of demand grows', () => {
    const titles = ['hit', 'warm', 'cold1', 'cold2', 'cold3', 'cold4'].map((titleId) => ({ titleId, bytes: GB, releaseDay: 0 }));
    const demand = demandOf({ hit: { 9: 600 }, warm: { 9: 150 }, cold1: { 9: 20 }, cold2: { 9: 15 }, cold3: { 9: 10 }, cold4: { 9: 5 } });
    const [plan] = planFills({ day: 10, titles, clusters: [{ id: 'c', appliances: appliances(4, 10 * GB) }], demand: new Map([['c', demand]]) });
    const copies = (titleId: string) => [...plan.placements.values()].filter((placed) => placed.includes(titleId)).length;
    expect(copies('hit')).toBe(4);
    expect(copies('warm')).toBe(2);
    expect(copies('cold4')).toBe(1);
  });

  it('plans a cluster with no history of its own from the other clusters\' demand', () => {
    const { titles, demand } = catalog();
    const [old, fresh] = planFills({
      day: 10,
      titles,
      clusters: [{ id: 'old', appliances: appliances(1, 10 * GB) }, { id: 'new', appliances: appliances(1, 10 * GB) }],
      demand: new Map([['old', demand]]),
    });
    expect(fresh.titles.length).toBeGreaterThan(0);
    expect(fresh.titles).toEqual(old.titles);
  });

  it('skips a day of missing demand data instead of reading it as zero demand', () => {
    const titles = [
      { titleId: 'fresh', bytes: GB, releaseDay: 8 },
      { titleId: 'steady', bytes: GB, releaseDay: -100 },
    ];
    const demand = demandOf({ fresh: { 8: 100 }, steady: { 6: 60, 7: 60, 8: 60, 9: 60 } });
    const plan = (observed: number[]) =>
      planFills({ day: 10, titles, clusters: [{ id: 'c', appliances: appliances(1, 1.5 * GB) }], demand: new Map([['c', demand]]), observedDays: new Map([['c', new Set(observed)]]), options: { poolWeight: 0 } })[0].titles;
    // Day 9 lost: fresh is judged on day 8 alone (100 > 60). Were day 9 a zero, it would average 47.
    expect(plan([6, 7, 8])).toEqual(['fresh']);
    expect(plan([6, 7, 8, 9])).toEqual(['steady']);
  });

  it('takes a day with no demand at all in a cluster as missing data when no observed days are given', () => {
    const titles = [
      { titleId: 'fresh', bytes: GB, releaseDay: 8 },
      { titleId: 'steady', bytes: GB, releaseDay: -100 },
    ];
    const demand = demandOf({ fresh: { 8: 100 }, steady: { 6: 60, 7: 60, 8: 60 } });
    const [plan] = planFills({ day: 10, titles, clusters: [{ id: 'c', appliances: appliances(1, 1.5 * GB) }], demand: new Map([['c', demand]]), options: { poolWeight: 0 } });
    expect(plan.titles).toEqual(['fresh']);
  });

  it('keeps a release\'s prior after its release day while no day of its demand has been observed', () => {
    const { titles, demand } = catalog();
    const premiere = { titleId: 'premiere', bytes: 3 * GB, releaseDay: 9 };
    const observedDays = new Map([['c', new Set([3, 4, 5, 6, 7, 8])]]);
    const [plan] = planFills({ day: 10, titles: [...titles, premiere], clusters: [{ id: 'c', appliances: appliances(1, 20 * GB) }], demand: new Map([['c', demand]]), observedDays });
    expect(plan.titles.indexOf('premiere')).toBeGreaterThanOrEqual(0);
    expect(plan.titles.indexOf('premiere')).toBeLessThan(plan.titles.length - 1);
  });

  it('pools a small cluster\'s prediction with a cluster of similar taste, not with one of another taste', () => {
    const titles = ['a', 'b', 'c', 'p', 'q', 'r'].map((titleId) => ({ titleId, bytes: GB, releaseDay: 0 }));
    const demand = new Map([
      ['alike', demandOf({ a: { 9: 100 }, b: { 9: 80 }, c: { 9: 60 }, p: { 9: 50 } })],
      ['other', demandOf({ q: { 9: 1000 }, r: { 9: 900 }, a: { 9: 5 } })],
      ['small', demandOf({ a: { 9: 10 }, b: { 9: 8 }, c: { 9: 6 } })],
    ]);
    const clusters = ['alike', 'other', 'small'].map((id) => ({ id, appliances: appliances(1, 4.5 * GB) }));
    const small = planFills({ day: 10, titles, clusters, demand })[2];
    expect(new Set(small.titles)).toEqual(new Set(['a', 'b', 'c', 'p']));
  });

  it('keeps a title the cluster holds over an equal newcomer, and holds on to idle titles while room is left', () => {
    const titles = ['a', 'b', 'idle'].map((titleId) => ({ titleId, bytes: GB, releaseDay: 0 }));
    const demand = new Map([['c', demandOf({ a: { 9: 50 }, b: { 9: 50 } })]]);
    const plan = (capacity: number, held: string[]) =>
      planFills({ day: 10, titles, clusters: [{ id: 'c', appliances: appliances(1, capacity) }], demand, held: new Map([['c', new Set(held)]]) })[0].titles;
    expect(plan(1.5 * GB, [])).toEqual(['a']);
    expect(plan(1.5 * GB, ['b'])).toEqual(['b']);
    expect(plan(3.5 * GB, ['idle'])).toEqual(['a', 'b', 'idle']);
    expect(plan(3.5 * GB, [])).toEqual(['a', 'b']);
  });
});

describe('planFills with series', () => {
  /** Ten unrelated titles of 1 GB with 100 of demand each on day 9: the generic prior is 100. */
  const catalogOf = () => Array.from({ length: 10 }, (_, index) => ({ titleId: `m${index}`, bytes: GB, releaseDay: -100 }));
  const flatDemand = () => Object.fromEntries(catalogOf().map((title) => [title.titleId, { 9: 100 }]));
  const episode = (seriesId: string, number: number, releaseDay: number) => ({ titleId: `${seriesId}-e${number}`, bytes: GB, releaseDay, seriesId, episode: number });
  const planOne = (input: Omit<PlanInput, 'clusters' | 'demand'> & { demand: ClusterDemand; capacity: number }) =>
    planFills({ ...input, clusters: [{ id: 'c', appliances: appliances(1, input.capacity) }], demand: new Map([['c', input.demand]]), options: { poolWeight: 0 } })[0];

  it('places the next episode of a series watched here ahead of an unrelated new title', () => {
    const titles = [...catalogOf(), episode('show', 1, 8), episode('show', 2, 10), { titleId: 'film', bytes: GB, releaseDay: 10 }];
    const demand = demandOf({ ...flatDemand(), 'show-e1': { 8: 500, 9: 400 } });
    const plan = planOne({ day: 10, titles, demand, capacity: 20 * GB });
    // Yesterday's 400 viewers of episode 1 bring 70% of them to episode 2; the film gets the prior (100).
    expect(plan.titles.slice(0, 2)).toEqual(['show-e1', 'show-e2']);
    expect(plan.titles.indexOf('show-e2')).toBeLessThan(plan.titles.indexOf('film'));
    const tight = planOne({ day: 10, titles, demand, capacity: 2.1 * GB });
    expect(tight.titles).toEqual(['show-e1', 'show-e2']);
  });

  it('predicts a premiere of a running series from its audience here, not from the generic prior', () => {
    // A new season's first episode (e4): viewers of e1 and e2 are still arriving, nobody is on e3 yet.
    const titles = [...catalogOf(), episode('saga', 1, -30), episode('saga', 2, -30), episode('saga', 3, -30), episode('saga', 4, 10), { titleId: 'film', bytes: GB, releaseDay: 10 }];
    const demand = demandOf({ ...flatDemand(), 'saga-e1': { 9: 300 }, 'saga-e2': { 9: 250 } });
    const plan = planOne({ day: 10, titles, demand, capacity: 3.1 * GB });
    // The series' mean recent demand per watched episode (275) beats every unrelated title (100).
    expect(plan.titles).toEqual(['saga-e1', 'saga-e4', 'saga-e2']);
  });

  it('places a binge drop\'s first episode on its release day and each next one as viewers reach it', () => {
    const titles = [...catalogOf(), ...[1, 2, 3, 4].map((number) => episode('drop', number, 10))];
    const dropDay = planOne({ day: 10, titles, demand: demandOf(flatDemand()), capacity: 20 * GB });
    expect(dropDay.titles.filter((titleId) => titleId.startsWith('drop'))).toEqual(['drop-e1']);
    const demand = demandOf({ ...Object.fromEntries(catalogOf().map((title) => [title.titleId, { 9: 100, 10: 100 }])), 'drop-e1': { 10: 500 } });
    const nextDay = planOne({ day: 11, titles, demand, capacity: 20 * GB });
    expect(nextDay.titles.filter((titleId) => titleId.startsWith('drop'))).toEqual(['drop-e1', 'drop-e2']);
  });

  it('is deterministic with series: the same inputs in any order make the same plan', () => {
    const titles = [...catalogOf(), episode('a', 1, 8), episode('a', 2, 9), episode('a', 3, 10), episode('b', 1, 10), episode('b', 2, 10)];
    const demand = demandOf({ ...flatDemand(), 'a-e1': { 8: 300, 9: 200 }, 'a-e2': { 9: 150 } });
    const input = { day: 10, titles, demand, capacity: 6 * GB };
    const first = planOne(input);
    expect(planOne({ ...input, titles: [...titles].reverse() })).toEqual(first);
    expect(first.titles).toContain('a-e3');
  });
});

describe('planFills when taste changes', () => {
  const TITLES = 300;
  const titles = Array.from({ length: TITLES }, (_, index) => ({ titleId: `t${index}`, bytes: GB, releaseDay: -100 }));
  const before = zipfPopularity(TITLES);
  const after = shuffledPopularity(TITLES, 99);
  /** Every night from 1 to `lastNight` on one cluster, each holding the night before's plan. */
  const nights = (demand: ClusterDemand, lastNight: number, options: PlanInput['options'] = {}, applianceCount = 1) => {
    const plans: ReturnType<typeof planFills>[number][] = [];
    for (let day = 1; day <= lastNight; day++) {
      const held = new Set(plans.at(-1)?.titles ?? []);
      const [plan] = planFills({
        day,
        titles,
        clusters: [{ id: 'c', appliances: appliances(applianceCount, (30 * GB) / applianceCount) }],
        demand: new Map([['c', demand]]),
        held: new Map([['c', held]]),
        options,
      });
      plans.push(plan);
    }
    return plans;
  };
  const topOf = (weights: Float64Array, count: number) => new Set(titles.map((title, index) => [title.titleId, weights[index]] as const).sort((a, b) => b[1] - a[1]).slice(0, count).map(([titleId]) => titleId));

  it('restarts the history after a taste shift: the plan for the day after holds the new favourites', () => {
    // Two weeks of one taste, then a day of another: the night after, the plan follows the new day.
    const demand = plays(15, 600, 1, (day) => (day < 14 ? before : after));
    const share = (plan: { titles: readonly string[] }, favourites: Set<string>) => plan.titles.filter((titleId) => favourites.has(titleId)).length / plan.titles.length;
    const restarted = nights(demand, 15).at(-1)!;
    expect(share(restarted, topOf(after, 30))).toBeGreaterThan(0.6);
    expect(share(restarted, topOf(before, 30))).toBeLessThan(0.3);
    // Were the shift never detected, two weeks of the old taste would still rule the plan.
    const averaged = nights(demand, 15, { tasteShiftShare: 1 }).at(-1)!;
    expect(share(averaged, topOf(before, 30))).toBeGreaterThan(0.6);
  });

  it('right after a taste shift keeps a held title still watched until the new history can tell it from a newcomer', () => {
    // Two weeks of a0-a9; from day 14, b0-b9 at 100 a day while a0 keeps 60 and the rest of the a fade.
    const ids = (prefix: string) => Array.from({ length: 10 }, (_, index) => `${prefix}${index}`);
    const catalog = [...ids('a'), ...ids('b')].map((titleId) => ({ titleId, bytes: GB, releaseDay: -100 }));
    const demand = new Map<string, Map<number, number>>();
    for (let day = 0; day < 25; day++) {
      for (const titleId of [...ids('a'), ...ids('b')]) {
        const value = day < 14 ? (titleId.startsWith('a') ? 100 : 0) : titleId.startsWith('b') ? 100 : titleId === 'a0' ? 60 : 5;
        demand.set(titleId, (demand.get(titleId) ?? new Map<number, number>()).set(day, value));
      }
    }
    const planOn = (day: number, held: readonly string[]) =>
      planFills({ day, titles: catalog, clusters: [{ id: 'c', appliances: appliances(1, 10.5 * GB) }], demand: new Map([['c', demand]]), held: new Map([['c', new Set(held)]]) })[0].titles;
    // The night after the shift the forecast rests on one day: a0 (60) stays against b9 (100).
    expect(new Set(planOn(15, ids('a')))).toEqual(new Set(['a0', ...ids('b').slice(0, 9)]));
    // Ten days on, the new history tells them apart.
    expect(new Set(planOn(25, ['a0', ...ids('b').slice(0, 9)]))).toEqual(new Set(ids('b')));
  });

  it.each([
    ['a small cluster', 120],
    ['a big one', 6000],
  ])('never restarts on one taste with sampling noise, in %s: every night plans and fills as without the detector', (_, perDay) => {
    for (const seed of [1, 2, 3]) {
      const demand = plays(28, perDay, seed, () => before);
      expect(nights(demand, 28)).toEqual(nights(demand, 28, { tasteShiftShare: 1 }));
    }
  });

  it('gives a title a crowd suddenly plays copies for its new level, and keeps planning the others from their history', () => {
    // Day 14, one of the least played titles draws 40% of the plays.
    const quiet = plays(15, 1000, 4, () => before);
    const crowded = plays(15, 1000, 4, () => before);
    crowded.get('t250')!.set(14, 400);
    const [plan] = nights(crowded, 15, {}, 4).slice(-1);
    const copies = [...plan.placements.values()].filter((placed) => placed.includes('t250')).length;
    expect(copies).toBeGreaterThanOrEqual(3);
    // The others are what the cluster would hold without the crowd, less the room its copies take.
    const [without] = nights(quiet, 15, {}, 4).slice(-1);
    const others = plan.titles.filter((titleId) => titleId !== 't250');
    expect(others.every((titleId) => without.titles.includes(titleId))).toBe(true);
    expect(others.length).toBeGreaterThanOrEqual(without.titles.length - copies);
  });
});

describe('manifestOf', () => {
  it('lists every object of each placed title (titles are whole), places them, and signs to something appliances verify', () => {
    const { titles, demand } = catalog(12);
    const [plan] = planFills({ day: 10, titles, clusters: [{ id: 'isp-a', appliances: appliances(2, 8 * GB) }], demand: new Map([['isp-a', demand]]) });
    const objectsOf = (titleId: string) =>
      ['index.m3u8', 'seg-1.m4s', 'seg-2.m4s'].map((name, index) => ({ key: `titles/${titleId}/avc1/${name}`, size: 100 + index, sha256: 'c'.repeat(64), titleId }));
    const manifest = manifestOf(plan, objectsOf, { generation: 7, createdAt: '2026-11-21T01:00:00.000Z', validUntil: '2026-11-23T01:00:00.000Z' });

    for (const titleId of plan.titles) {
      expect(manifest.objects.filter((object) => object.titleId === titleId).map((object) => object.key)).toEqual(objectsOf(titleId).map((object) => object.key));
    }
    expect(new Set(manifest.objects.map((object) => object.titleId))).toEqual(new Set(plan.titles));
    const text = JSON.stringify(signManifest(manifest, TEST_KEYRING));
    for (const applianceId of ['oca-1', 'oca-2']) {
      const verified = verifyManifest(text, { keyring: TEST_KEYRING, clusterId: 'isp-a', nowMs: Date.parse('2026-11-22T00:00:00Z'), diskBudgetBytes: 10_000, applianceId });
      expect(new Set(objectsForAppliance(verified, applianceId).map((object) => object.titleId))).toEqual(new Set(plan.placements.get(applianceId)));
    }
  });
});

describe('fitToObjects', () => {
  it('drops an appliance\'s last-placed titles until their real objects fit, keeping titles held elsewhere', () => {
    const plan = {
      clusterId: 'c',
      titles: ['a', 'b', 'c'],
      placements: new Map([['oca-1', ['a', 'b', 'c']], ['oca-2', ['c']]]),
      bytesPlaced: new Map([['oca-1', 300], ['oca-2', 100]]),
    };
    const objects = new Map(['a', 'b', 'c'].map((titleId) => [titleId, [{ key: `titles/${titleId}/x`, size: 120, sha256: 'd'.repeat(64), titleId }]]));
    const fitted = fitToObjects(plan, objects, new Map([['oca-1', 250], ['oca-2', 250]]));
    expect(fitted.placements.get('oca-1')).toEqual(['a', 'b']);
    expect(fitted.bytesPlaced.get('oca-1')).toBe(240);
    expect(fitted.titles).toEqual(['a', 'b', 'c']);
    const tight = fitToObjects(plan, objects, new Map([['oca-1', 130], ['oca-2', 100]]));
    expect([tight.placements.get('oca-1'), tight.placements.get('oca-2'), tight.titles]).toEqual([['a'], [], ['a']]);
  });
});
