import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readWorkloadFiles } from '../../simulator/files';
import { daysAtOrAbove, simulate } from '../../simulator/simulate';
import { DEFAULT_SYNTHETIC, SERIES_EPISODES, syntheticWorkload } from '../../simulator/synthetic';
import { mustRun, runProcess } from '../support/run-process';

const ROOT = path.join(__dirname, '..', '..');

/** Three 100-byte titles, one cluster holding two of them (205 bytes, 2% headroom for the planner). */
function writeTinyWorkload(trace: string, catalog: unknown = ['A', 'B', 'C'].map((title) => ({ title, bytes: 100, releaseDay: 0 }))): { trace: string; catalog: string; fleet: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-sim-'));
  const files = { trace: path.join(dir, 'trace.csv'), catalog: path.join(dir, 'catalog.json'), fleet: path.join(dir, 'fleet.json') };
  fs.writeFileSync(files.trace, trace);
  fs.writeFileSync(files.catalog, JSON.stringify(catalog));
  fs.writeFileSync(files.fleet, JSON.stringify({ clusters: [{ id: 'isp-a', capacityBytes: 205 }] }));
  return files;
}

// Day 0: A B A C A B; day 1: C C B A; every request 10 bytes, 100 in all.
const TINY_TRACE = ['day,cluster,title,bytes', ...['0,A', '0,B', '0,A', '0,C', '0,A', '0,B', '1,C', '1,C', '1,B', '1,A'].map((row) => {
  const [day, title] = row.split(',');
  return `${day},isp-a,${title},10`;
})].join('\n');

describe('simulate', () => {
  it('matches offload, fill and origin bytes worked out by hand for every policy', async () => {
    const result = simulate(await readWorkloadFiles(writeTinyWorkload(TINY_TRACE)), { warmupDays: 0 });
    const figures = Object.fromEntries(
      Object.entries(result.policies).map(([name, policy]) => [name, { offload: policy.offload, fillBytes: policy.fillBytes, originBytes: policy.originBytes }]),
    );
    expect(figures).toEqual({
      // Night 0: all three are day-0 releases with equal priors; A and B fit (ties by id). Serves A,B,A,A,B.
      // Night 1: yesterday's bytes rank A (30) > B (20) > C (10): keeps A and B, fills nothing. Serves B, A.
      planner: { offload: 0.7, fillBytes: 200, originBytes: 30 },
      // [A] [A B] hit [A C] hit [A B] | [B C] hit hit [B A]: hits A, A, C, B.
      lru: { offload: 0.4, fillBytes: 600, originBytes: 60 },
      // Counts persist; the lowest count goes, the older on a tie: hits A, A, C only.
      lfu: { offload: 0.3, fillBytes: 700, originBytes: 70 },
      // Knows each day: day 0 holds A (30) and B (20); day 1 holds C (20) and A (10, before B on a tie).
      belady: { offload: 0.8, fillBytes: 300, originBytes: 20 },
    });
    expect(result.policies.planner.offloadByDay).toEqual([50 / 60, 20 / 40]);
  });

  it('reports offload per day, bytes per day, per-cluster totals and the planner\'s days at or above each policy', async () => {
    const result = simulate(await readWorkloadFiles(writeTinyWorkload(TINY_TRACE)), { warmupDays: 0 });
    expect(result.requestedBytesByDay).toEqual([60, 40]);
    expect(result.policies.lru.offloadByDay).toEqual([20 / 60, 20 / 40]);
    expect(result.policies.planner.byCluster['isp-a']).toEqual({ offload: 0.7, servedBytes: 70, requestedBytes: 100, refusedBytes: 0 });
    // Planner 50/60 and 20/40 against LRU 20/60, 20/40 and Belady 50/60, 30/40.
    expect(result.plannerDaysAtOrAbove).toEqual({ lru: 1, lfu: 1, belady: 0.5 });
  });

  it('counts days at or above from the first day after the warm-up, equal days included', () => {
    expect(daysAtOrAbove([0.1, 0.5, 0.6, 0.4], [0.9, 0.5, 0.7, 0.3], 1)).toBeCloseTo(2 / 3);
    expect(daysAtOrAbove([0.1], [0.9], 1)).toBe(0);
  });

  it('keeps a lost day\'s demand from the planner while its requests count for every policy', async () => {
    const workload = await readWorkloadFiles(writeTinyWorkload(TINY_TRACE));
    const whole = simulate(workload, { warmupDays: 0 });
    const lost = simulate(workload, { warmupDays: 0, lostDemandDays: [0] });
    expect(lost.requestedBytes).toBe(whole.requestedBytes);
    expect(lost.policies.lru).toEqual(whole.policies.lru);
    expect(lost.lostDemandDays).toEqual([0]);
    // With no demand from day 0, night 1 keeps what night 0 placed (A and B): it serves B and A.
    expect(lost.policies.planner.offloadByDay).toEqual([50 / 60, 20 / 40]);
  });

  it('gives a small language group\'s cluster fewer requests and its own taste, and leaves the default workload alone', () => {
    const options = { ...DEFAULT_SYNTHETIC, requests: 20_000, days: 2, catalogTitles: 300 };
    const plain = syntheticWorkload(options);
    expect(syntheticWorkload({ ...options, languageGroups: 1, tasteShiftDay: -1 }).requests.title).toEqual(plain.requests.title);
    const grouped = syntheticWorkload({ ...options, languageGroups: 2 });
    const perCluster = [0, 1, 2, 3].map((cluster) => grouped.requests.cluster.filter((value) => value === cluster).length);
    expect(perCluster).toEqual([6154, 6154, 6154, 1538]);
    const top = (cluster: number) => {
      const counts = new Map<number, number>();
      grouped.requests.title.forEach((title, index) => grouped.requests.cluster[index] === cluster && counts.set(title, (counts.get(title) ?? 0) + 1));
      return new Set([...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20).map(([title]) => title));
    };
    const shared = (a: Set<number>, b: Set<number>) => [...a].filter((title) => b.has(title)).length;
    expect(shared(top(0), top(1))).toBeGreaterThan(shared(top(0), top(3)));
  });

  it('re-draws popularity on the taste-shift day and not before', () => {
    const options = { ...DEFAULT_SYNTHETIC, requests: 9000, days: 3, catalogTitles: 300 };
    const plain = syntheticWorkload(options);
    const shifted = syntheticWorkload({ ...options, tasteShiftDay: 2 });
    const day = (workload: typeof plain, which: number) => workload.requests.title.filter((_, index) => workload.requests.day[index] === which);
    expect(day(shifted, 1)).toEqual(day(plain, 1));
    expect(day(shifted, 2)).not.toEqual(day(plain, 2));
  });

  it('sends a flash crowd to one title of the less popular half from its day on, leaving the default workload alone', () => {
    const options = { ...DEFAULT_SYNTHETIC, requests: 16_000, days: 4, catalogTitles: 300 };
    const plain = syntheticWorkload(options);
    expect(syntheticWorkload({ ...options, flashCrowdDay: -1 })).toEqual(plain);
    const crowded = syntheticWorkload({ ...options, flashCrowdDay: 2 });
    const countsOn = (workload: typeof plain, day: number) => {
      const counts = new Map<number, number>();
      workload.requests.title.forEach((title, index) => workload.requests.day[index] === day && counts.set(title, (counts.get(title) ?? 0) + 1));
      return counts;
    };
    const [hot, hotRequests] = [...countsOn(crowded, 2).entries()].sort((a, b) => b[1] - a[1])[0];
    const plainTotals = new Map<number, number>();
    plain.requests.title.forEach((title) => plainTotals.set(title, (plainTotals.get(title) ?? 0) + 1));
    const ranked = [...plainTotals.entries()].filter(([title]) => title < options.catalogTitles).sort((a, b) => b[1] - a[1]);
    // Before the day it is one of the catalog's less played titles; on the day, the most played by far.
    expect(ranked.findIndex(([title]) => title === hot)).toBeGreaterThan(ranked.length / 2);
    expect(countsOn(crowded, 1).get(hot) ?? 0).toBeLessThan(20);
    expect(hotRequests).toBeGreaterThan(0.2 * (options.requests / options.days));
    expect(countsOn(crowded, 1)).toEqual(countsOn(plain, 1));
    expect(() => syntheticWorkload({ ...options, flashCrowdDay: 4 })).toThrow('the flash crowd day must be a whole day from 0 to 3, or -1 for none (got 4)');
  });

  it('leaves warm-up days out of the figures but still replays them', async () => {
    const result = simulate(await readWorkloadFiles(writeTinyWorkload(TINY_TRACE)), { warmupDays: 1 });
    expect(result.policies.belady.offload).toBe(0.75);
    expect(result.policies.planner.offload).toBe(0.5);
    expect(result.policies.lru.offloadByDay).toHaveLength(2);
  });

  it('retires titles at random each day and requests none from its retire day on, leaving the default workload alone', () => {
    const options = { ...DEFAULT_SYNTHETIC, requests: 20_000, days: 5, catalogTitles: 300 };
    const plain = syntheticWorkload(options);
    expect(syntheticWorkload({ ...options, retirementsPerDay: 0 })).toEqual(plain);
    const retiring = syntheticWorkload({ ...options, retirementsPerDay: 20 });
    const retireDays = retiring.titles.map((title) => title.retireDay).filter((day) => day !== undefined);
    expect(retireDays).toHaveLength(100);
    expect([0, 1, 2, 3, 4].map((day) => retireDays.filter((retireDay) => retireDay === day).length)).toEqual([20, 20, 20, 20, 20]);
    expect(syntheticWorkload({ ...options, retirementsPerDay: 20 }).titles).toEqual(retiring.titles);
    let late = 0;
    for (let index = 0; index < retiring.requests.length; index++) {
      const retireDay = retiring.titles[retiring.requests.title[index]].retireDay;
      late += retireDay !== undefined && retiring.requests.day[index] >= retireDay ? 1 : 0;
    }
    expect(late).toBe(0);
    // Titles retiring after day 0 were requested while still available.
    const retiredLater = new Set(retiring.titles.flatMap((title, index) => ((title.retireDay ?? 0) > 2 ? [index] : [])));
    expect(retiring.requests.title.some((title) => retiredLater.has(title))).toBe(true);
  });

  it('never places a retired title for the planner, and counts no request for it in any policy', async () => {
    const catalog = [
      { title: 'A', bytes: 100, releaseDay: 0, retireDay: 1 },
      { title: 'B', bytes: 100, releaseDay: 0 },
      { title: 'C', bytes: 100, releaseDay: 0 },
    ];
    const trace = TINY_TRACE.split('\n').filter((line) => line !== '1,isp-a,A,10').join('\n');
    const result = simulate(await readWorkloadFiles(writeTinyWorkload(trace, catalog)), { warmupDays: 0 });
    expect(result.requestedBytesByDay).toEqual([60, 30]);
    // Night 1: A (30 bytes yesterday) has retired, so B (20) and C (10) are held and serve C, C, B.
    expect(result.policies.planner.offloadByDay).toEqual([50 / 60, 1]);
  });

  it('generates series whose viewers reach each episode a day after the one before, released daily or all at once, leaving the default workload alone', () => {
    const options = { ...DEFAULT_SYNTHETIC, requests: 40_000, days: 12, catalogTitles: 300 };
    expect(syntheticWorkload({ ...options, series: 0 })).toEqual(syntheticWorkload(options));
    for (const seriesDropShare of [0, 1]) {
      const workload = syntheticWorkload({ ...options, series: 4, seriesDropShare });
      const episodes = workload.titles.filter((title) => title.seriesId !== undefined);
      expect(episodes).toHaveLength(4 * SERIES_EPISODES);
      const firstDay = new Map<string, number>();
      for (let index = 0; index < workload.requests.length; index++) {
        const title = workload.titles[workload.requests.title[index]];
        expect(title.releaseDay <= workload.requests.day[index]).toBe(true);
        if (title.seriesId !== undefined && !firstDay.has(title.id)) {
          firstDay.set(title.id, workload.requests.day[index]);
        }
      }
      // A series premiering during the run: episode n is first watched n - 1 days after the premiere.
      const premiere = workload.titles.find((title) => title.id === 's2e1')!.releaseDay;
      expect(premiere).toBeGreaterThanOrEqual(0);
      expect([1, 2, 3].map((number) => firstDay.get(`s2e${number}`)! - premiere)).toEqual([0, 1, 2]);
      const releaseDays = new Set(episodes.filter((title) => title.seriesId === 's2').map((title) => title.releaseDay));
      expect(releaseDays.size).toBe(seriesDropShare === 1 ? 1 : SERIES_EPISODES);
    }
  });

  it('generates the same synthetic workload from the same seed, and a different one from another', () => {
    const options = { ...DEFAULT_SYNTHETIC, requests: 5000, days: 3, catalogTitles: 200 };
    const first = syntheticWorkload(options);
    expect(syntheticWorkload(options).requests.title).toEqual(first.requests.title);
    expect(syntheticWorkload({ ...options, seed: 7 }).requests.title).not.toEqual(first.requests.title);
    expect(first.requests.length).toBe(4998);
    // Releases are never requested before their day.
    for (let index = 0; index < first.requests.length; index++) {
      expect(first.titles[first.requests.title[index]].releaseDay <= first.requests.day[index]).toBe(true);
    }
  });
});

describe('workload files', () => {
  it.each([
    ['a short line', `${TINY_TRACE}\n1,isp-a,A`, /trace\.csv:12: expected 4 fields \(day,cluster,title,bytes\), got 3/],
    ['an unknown title', TINY_TRACE.replace('1,isp-a,C,10', '1,isp-a,Z,10'), /trace\.csv:8: title 'Z' is not in .*catalog\.json/],
    ['an unknown cluster', TINY_TRACE.replace('0,isp-a,B,10', '0,isp-b,B,10'), /trace\.csv:3: cluster 'isp-b' is not in .*fleet\.json/],
    ['a bad byte count', TINY_TRACE.replace('0,isp-a,A,10', '0,isp-a,A,-5'), /trace\.csv:2: bytes '-5' is not a positive whole number/],
    ['a wrong header', TINY_TRACE.replace('day,cluster,title,bytes', 'when,where,what'), /trace\.csv:1: the header must be 'day,cluster,title,bytes'/],
  ])('reports %s with its line number', async (_label, trace, message) => {
    await expect(readWorkloadFiles(writeTinyWorkload(trace))).rejects.toThrow(message);
  });

  it.each([
    ['a retire day that is not whole', [{ title: 'A', bytes: 100, releaseDay: 0, retireDay: 1.5 }], /catalog\.json: 0\.retireDay: .*int/],
    ['a retire day before the release', [{ title: 'A', bytes: 100, releaseDay: 0 }, { title: 'B', bytes: 100, releaseDay: 3, retireDay: 2 }], /catalog\.json: 1\.retireDay: must not be before releaseDay 3 \(got 2\)/],
    ['a series without an episode number', [{ title: 'A', bytes: 100, releaseDay: 0, series: 'show' }], /catalog\.json: 0\.episode: series and episode go together/],
    ['an episode number below 1', [{ title: 'A', bytes: 100, releaseDay: 0, series: 'show', episode: 0 }], /catalog\.json: 0\.episode: .*0/],
  ])('refuses a catalog with %s, naming the entry and field', async (_label, catalog, message) => {
    await expect(readWorkloadFiles(writeTinyWorkload(TINY_TRACE, catalog))).rejects.toThrow(message);
  });

  it('reads a title\'s series and episode from the catalog', async () => {
    const catalog = [{ title: 'A', bytes: 100, releaseDay: 0, series: 'show', episode: 2 }, { title: 'B', bytes: 100, releaseDay: 0 }, { title: 'C', bytes: 100, releaseDay: 0 }];
    const workload = await readWorkloadFiles(writeTinyWorkload(TINY_TRACE, catalog));
    expect(workload.titles.slice(0, 2)).toEqual([{ id: 'A', bytes: 100, releaseDay: 0, seriesId: 'show', episode: 2 }, { id: 'B', bytes: 100, releaseDay: 0 }]);
  });

  it('refuses a request for a title on or after its retire day, naming the line', async () => {
    const catalog = ['A', 'B', 'C'].map((title) => ({ title, bytes: 100, releaseDay: 0, ...(title === 'C' ? { retireDay: 1 } : {}) }));
    await expect(readWorkloadFiles(writeTinyWorkload(TINY_TRACE, catalog))).rejects.toThrow(
      /trace\.csv:8: title 'C' is requested on day 1, on or after its retirement on day 1/,
    );
  });

  it('reports a trace it cannot read, and an empty one', async () => {
    const files = writeTinyWorkload(TINY_TRACE);
    await expect(readWorkloadFiles({ ...files, trace: `${files.trace}.missing` })).rejects.toThrow(/trace\.csv\.missing: cannot read: ENOENT/);
    fs.writeFileSync(files.trace, '');
    await expect(readWorkloadFiles(files)).rejects.toThrow(/trace\.csv:1: the header must be 'day,cluster,title,bytes' \(got ''\)/);
  });

  it('streams a trace of hundreds of thousands of rows, CRLF line ends included, into requests sorted by day in trace order', async () => {
    const rows = 300_000;
    const days = 7;
    const lines = ['day,cluster,title,bytes'];
    const expectedByDay = new Array<number>(days).fill(0);
    for (let row = 0; row < rows; row++) {
      // Days out of order, as a trace merged from several exports would be.
      const day = (row * 3) % days;
      const bytes = 1 + (row % 97);
      lines.push(`${day},isp-a,${'ABC'[row % 3]},${bytes}`);
      expectedByDay[day] += bytes;
    }
    const files = writeTinyWorkload(`${lines.join('\r\n')}\r\n`);
    const workload = await readWorkloadFiles(files);
    expect(workload.requests.length).toBe(rows);
    const byDay = new Array<number>(days).fill(0);
    let outOfOrder = 0;
    for (let index = 0; index < rows; index++) {
      byDay[workload.requests.day[index]] += workload.requests.bytes[index];
      outOfOrder += index > 0 && workload.requests.day[index] < workload.requests.day[index - 1] ? 1 : 0;
    }
    expect(outOfOrder).toBe(0);
    expect(byDay).toEqual(expectedByDay);
    // Day 0 holds rows 0, 7, 14...: titles A, B, C in turn, in trace order.
    expect([...workload.requests.title.subarray(0, 4)]).toEqual([0, 1, 2, 0]);
    expect([...workload.requests.bytes.subarray(0, 3)]).toEqual([1, 8, 15]);
  });
});

describe('npm run sim', () => {
  const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
  const SIM = path.join(ROOT, 'bin', 'sim.ts');
  const sim = (...args: string[]) => runProcess(TSX, [SIM, ...args]);

  it('prints one JSON object with every policy and draws the plot', async () => {
    const files = writeTinyWorkload(TINY_TRACE);
    const plot = path.join(path.dirname(files.trace), 'offload.svg');
    const result = await mustRun(TSX, [SIM, '--trace', files.trace, '--catalog', files.catalog, '--fleet', files.fleet, '--warmup', '0', '--json', '--plot', plot]);
    const output = JSON.parse(result.stdout);
    expect(Object.keys(output.policies)).toEqual(['planner', 'lru', 'lfu', 'belady']);
    expect(output.policies.belady.offload).toBe(0.8);
    const svg = fs.readFileSync(plot, 'utf8');
    expect(svg).toMatch(/^<svg/);
    expect(svg.match(/<polyline/g)).toHaveLength(4);
  });

  it('fails on a malformed line, naming it, and writes nothing', async () => {
    const files = writeTinyWorkload(`${TINY_TRACE}\n2,isp-a,A,lots`);
    const plot = path.join(path.dirname(files.trace), 'offload.svg');
    const result = await sim('--trace', files.trace, '--catalog', files.catalog, '--fleet', files.fleet, '--plot', plot);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/trace\.csv:12: bytes 'lots' is not a positive whole number/);
    expect(result.stdout).toBe('');
    expect(fs.readdirSync(path.dirname(files.trace)).sort()).toEqual(['catalog.json', 'fleet.json', 'trace.csv']);
  });

  it.each([
    [['--warmup', '2'], /--warmup must be a whole number of days below the 2 replayed \(got 2\)/],
    [['--plot', '/nonexistent-dir/x.svg'], /--plot: the directory of \/nonexistent-dir\/x.svg does not exist/],
  ])('refuses %p with a usage error', async (args, message) => {
    const files = writeTinyWorkload(TINY_TRACE);
    const result = await sim('--trace', files.trace, '--catalog', files.catalog, '--fleet', files.fleet, ...args);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it.each([
    [['--lost-days', '1,x'], /--lost-days: 'x' is not a whole day/],
    [['--lost-days', '5'], /--lost-days: day 5 is not replayed by the workload/],
  ])('refuses %p on a file workload with a usage error', async (args, message) => {
    const files = writeTinyWorkload(TINY_TRACE);
    const result = await sim('--trace', files.trace, '--catalog', files.catalog, '--fleet', files.fleet, ...args);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it.each([
    [['--language-groups', '5'], /--language-groups must be a whole number from 1 to the 4 clusters \(got 5\)/],
    [['--language-skew', '0.5'], /--language-skew must be at least 1 \(got 0.5\)/],
    [['--taste-shift-day', '30'], /--taste-shift-day must be a whole day from 0 to 29 \(got 30\)/],
    [['--flash-crowd-day', '30'], /--flash-crowd-day must be a whole day from 0 to 29 \(got 30\)/],
    [['--series', '2.5'], /--series must be a whole number of series, 0 or more \(got 2.5\)/],
    [['--series-drop-share', '2'], /--series-drop-share must be a share from 0 to 1 \(got 2\)/],
    [['--lost-day', '3'], /Unknown option '--lost-day'/],
  ])('refuses synthetic %p with a usage error', async (args, message) => {
    const result = await sim(...args);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('reports per-day offload, lost days and days at or above in its JSON', async () => {
    const files = writeTinyWorkload(TINY_TRACE);
    const result = await mustRun(TSX, [SIM, '--trace', files.trace, '--catalog', files.catalog, '--fleet', files.fleet, '--warmup', '0', '--lost-days', '0', '--json']);
    const output = JSON.parse(result.stdout);
    expect(output.lostDemandDays).toEqual([0]);
    expect(output.policies.lru.offloadByDay).toEqual([20 / 60, 20 / 40]);
    expect(output.plannerDaysAtOrAbove.lru).toBe(1);
    const help = await mustRun(TSX, [SIM, '--help']);
    expect(help.stdout).toMatch(/--lost-days D1,D2/);
    expect(help.stdout).toMatch(/--language-groups N/);
    expect(help.stdout).toMatch(/--taste-shift-day D/);
    expect(help.stdout).toMatch(/--flash-crowd-day D/);
  });

  it('refuses more retirements than the catalog holds, with a usage error', async () => {
    const result = await sim('--titles', '100', '--days', '10', '--retirements', '10');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--retirements must be a whole number of titles per day, 0 or more, retiring fewer than the 100 catalog titles over 10 days (got 10)');
    const help = await mustRun(TSX, [SIM, '--help']);
    expect(help.stdout).toMatch(/--retirements N/);
  });

  it('refuses a negative number of releases before generating anything', async () => {
    const result = await sim('--releases=-200');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--releases must be a whole number of titles per day, 0 or more (got -200)');
  });
});
