import { Requests, SimCluster, SimTitle, Workload } from './workload';

/** The knobs of a synthetic workload. Every figure is per whole run unless it says per day. */
export interface SyntheticOptions {
  readonly seed: number;
  readonly days: number;
  readonly requests: number;
  /** Titles available before day 0. */
  readonly catalogTitles: number;
  /** Popularity by rank follows 1 / rank^zipf. */
  readonly zipf: number;
  /** Day-to-day popularity change: the standard deviation of a title's log-popularity, mean-reverting. */
  readonly churn: number;
  /** Titles released per day; each starts near the top and fades over about a week. */
  readonly releasesPerDay: number;
  readonly clusters: number;
  /** Each cluster's disk, all appliances together, as a share of the whole catalog's bytes (releases included). */
  readonly capacityShare: number;
  /** Appliances per cluster, sharing its disk equally. */
  readonly appliancesPerCluster: number;
  /**
   * An appliance's daily egress as a share of its cluster's mean daily requested bytes: a title
   * drawing more than this share of its cluster's bytes saturates an appliance holding its only
   * copy. `Infinity` for no limit.
   */
  readonly egressShare: number;
  /** How much taste differs between clusters: the standard deviation of a per-cluster log-popularity offset. */
  readonly regionalSkew: number;
  /**
   * Language groups: 1 is one shared taste. With more, the first group holds every cluster but
   * one per other group (a big language and small ones); a small group's cluster gets
   * `SMALL_GROUP_VOLUME` of a big-group cluster's requests, and each title belongs to one group,
   * drawn in proportion to the groups' request volume.
   */
  readonly languageGroups: number;
  /** How many times more a cluster plays a title of its own language group than any other title. */
  readonly languageSkew: number;
  /** The day every catalog title's popularity is re-drawn (a taste shift); -1 for none. */
  readonly tasteShiftDay: number;
  /**
   * The day one catalog title from the less popular half suddenly draws a crowd (news, a sequel, a
   * moment on social media): from that day it is as popular as a release of the top rank on its
   * release day, and fades as a release does. -1 for none.
   */
  readonly flashCrowdDay: number;
  /**
   * Catalog titles retired per day, drawn at random from those still available: a title is never
   * requested from its retire day on. Fewer than `catalogTitles` in all over the run.
   */
  readonly retirementsPerDay: number;
  /**
   * Series of `SERIES_EPISODES` episodes each, premiering at even intervals from before day 0 (a few
   * are running when the run starts) to the end. A series' viewers start at its premiere and fade
   * like a release's; each watches one episode a day, and `SERIES_CONTINUATION` of them go on to
   * the next episode the day after. Every language group watches them, with regional taste per
   * series; a taste shift leaves them alone.
   */
  readonly series: number;
  /** Share of the series released all at once (a binge drop); the others release one episode a day. */
  readonly seriesDropShare: number;
}

export const DEFAULT_SYNTHETIC: SyntheticOptions = {
  seed: 42,
  days: 30,
  requests: 1_000_000,
  catalogTitles: 4000,
  zipf: 0.9,
  churn: 0.3,
  releasesPerDay: 4,
  clusters: 4,
  capacityShare: 0.1,
  // One appliance with no egress limit: a cluster is one pool, and the default figures stay
  // comparable with every run before appliances were modelled.
  appliancesPerCluster: 1,
  egressShare: Infinity,
  regionalSkew: 0.3,
  languageGroups: 1,
  languageSkew: 10,
  tasteShiftDay: -1,
  flashCrowdDay: -1,
  retirementsPerDay: 0,
  series: 0,
  seriesDropShare: 0,
};

/** A small language group's cluster sees this share of a big-group cluster's requests. */
export const SMALL_GROUP_VOLUME = 0.25;
/** Language groups and taste shifts draw from their own stream, so the default workload is unchanged. */
const SCENARIO_SEED_SALT = 0x5eed;
/** Retirements draw from a stream of their own too. */
const RETIREMENT_SEED_SALT = 0x2e71;
/** And so does the title of a flash crowd. */
const FLASH_CROWD_SEED_SALT = 0xf1a5;

/** Series draw from a stream of their own. */
const SERIES_SEED_SALT = 0x5e7e5;
export const SERIES_EPISODES = 8;
/** Share of an episode's viewers who watch the next one the day after. */
export const SERIES_CONTINUATION = 0.8;
/** An episode's bytes: log-normal around 1.5 GB. */
const MEDIAN_EPISODE_BYTES = 1.5e9;

/** Mean-reversion of popularity from one day to the next. */
const PERSISTENCE = 0.9;
/** A release's popularity boost halves every this many days. */
const RELEASE_HALF_LIFE_DAYS = 5;
const RELEASE_BOOST = 30;
/** A title's bytes: log-normal around 4 GB (its whole ladder). */
const MEDIAN_TITLE_BYTES = 4e9;
/** A play fetches one rendition for part of the title: 2-20% of the ladder's bytes. */
const PLAY_SHARE = [0.02, 0.2] as const;

/** A seeded PRNG (mulberry32): the same seed makes the same workload on every machine. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(next: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
}

/** The episodes of every series, drawn from a stream of their own. */
interface SeriesPlan {
  readonly titles: SimTitle[];
  /** By episode: its series' audience, premiere day and place (0-based). */
  readonly audience: Float64Array;
  readonly premiereDay: Int32Array;
  readonly place: Int32Array;
  /** By episode and cluster: its series' regional taste. */
  readonly skew: Float64Array[];
  /** By episode: its series' popularity drift, updated daily. */
  readonly drift: Float64Array;
  readonly next: () => number;
}

function seriesPlan(options: SyntheticOptions, total: number): SeriesPlan {
  const next = random(options.seed ^ SERIES_SEED_SALT);
  const count = options.series * SERIES_EPISODES;
  const plan: SeriesPlan = {
    titles: [],
    audience: new Float64Array(count),
    premiereDay: new Int32Array(count),
    place: new Int32Array(count),
    skew: Array.from({ length: options.clusters }, () => new Float64Array(count)),
    drift: new Float64Array(count),
    next,
  };
  for (let series = 0; series < options.series; series++) {
    const premiereDay = Math.floor((series * (options.days + SERIES_EPISODES)) / options.series) - SERIES_EPISODES;
    const drop = next() < options.seriesDropShare;
    // Series start among the popular, as releases do.
    const audience = 1 / Math.pow(1 + Math.floor(next() * total * 0.1), options.zipf);
    const taste = plan.skew.map(() => Math.exp(options.regionalSkew * gaussian(next)));
    const drift = gaussian(next);
    for (let place = 0; place < SERIES_EPISODES; place++) {
      const at = series * SERIES_EPISODES + place;
      plan.titles.push({
        id: `s${series}e${place + 1}`,
        bytes: Math.round(MEDIAN_EPISODE_BYTES * Math.exp(0.5 * gaussian(next))),
        releaseDay: drop ? premiereDay : premiereDay + place,
        seriesId: `s${series}`,
        episode: place + 1,
      });
      plan.audience[at] = audience;
      plan.premiereDay[at] = premiereDay;
      plan.place[at] = place;
      plan.skew.forEach((cluster, index) => (cluster[at] = taste[index]));
      plan.drift[at] = drift;
    }
  }
  return plan;
}

/**
 * An episode's weight on `day`: its series' viewers who started `place` days earlier, less those
 * who stopped on the way. Updates the series' drift once a day (on its first episode).
 */
function episodeWeight(plan: SeriesPlan, at: number, day: number, churn: number): number {
  if (plan.place[at] === 0) {
    const drift = PERSISTENCE * plan.drift[at] + Math.sqrt(1 - PERSISTENCE ** 2) * gaussian(plan.next);
    for (let place = 0; place < SERIES_EPISODES; place++) {
      plan.drift[at + place] = drift;
    }
  }
  const started = day - plan.place[at];
  if (started < plan.premiereDay[at]) {
    return 0;
  }
  const boost = 1 + RELEASE_BOOST * Math.pow(0.5, (started - plan.premiereDay[at]) / RELEASE_HALF_LIFE_DAYS);
  return plan.audience[at] * boost * Math.pow(SERIES_CONTINUATION, plan.place[at]) * Math.exp(churn * plan.drift[at]);
}

/**
 * Generates a workload: Zipf popularity with daily churn, releases, regional taste, optional
 * language groups, a taste shift and series, seeded.
 */
export function syntheticWorkload(options: SyntheticOptions): Workload {
  const next = random(options.seed);
  const total = options.catalogTitles + options.releasesPerDay * options.days;
  const titles: SimTitle[] = [];
  const base = new Float64Array(total);
  const ranks = shuffledRanks(total, next);
  const retireDays = retirements(options);
  for (let index = 0; index < total; index++) {
    const releaseDay = index < options.catalogTitles ? -1 : Math.floor((index - options.catalogTitles) / options.releasesPerDay);
    const retireDay = retireDays.get(index);
    titles.push({ id: `t${index}`, bytes: Math.round(MEDIAN_TITLE_BYTES * Math.exp(0.5 * gaussian(next))), releaseDay, ...(retireDay === undefined ? {} : { retireDay }) });
    base[index] = 1 / Math.pow(ranks[index], options.zipf);
  }
  // Releases start among the popular: their base rank comes from the top tenth.
  for (let index = options.catalogTitles; index < total; index++) {
    base[index] = 1 / Math.pow(1 + Math.floor(next() * total * 0.1), options.zipf);
  }
  const skew = Array.from({ length: options.clusters }, () => Float64Array.from({ length: total }, () => Math.exp(options.regionalSkew * gaussian(next))));
  const drift = new Float64Array(total).map(() => gaussian(next));
  const scenario = random(options.seed ^ SCENARIO_SEED_SALT);
  const volume = languageGroups(options, skew, scenario);
  const series = seriesPlan(options, total);
  titles.push(...series.titles);
  const catalogBytes = titles.reduce((sum, title) => sum + title.bytes, 0);
  const everyTitle = titles.length;
  const taste = series.titles.length === 0 ? skew : skew.map((cluster, index) => Float64Array.from([...cluster, ...series.skew[index]]));
  const shiftedBase = options.tasteShiftDay >= 0 ? redrawnCatalog(base, options.catalogTitles, scenario) : base;
  const crowded = flashCrowdTitle(options, base, titles);

  const perDay = Math.floor(options.requests / options.days);
  const counts = clusterCounts(perDay, volume);
  const rows: Requests = {
    length: perDay * options.days,
    day: new Int32Array(perDay * options.days),
    cluster: new Uint16Array(perDay * options.days),
    title: new Uint32Array(perDay * options.days),
    bytes: new Float64Array(perDay * options.days),
  };
  const weights = new Float64Array(everyTitle);
  const cumulative = new Float64Array(everyTitle);
  let row = 0;
  for (let day = 0; day < options.days; day++) {
    for (let index = 0; index < total; index++) {
      drift[index] = PERSISTENCE * drift[index] + Math.sqrt(1 - PERSISTENCE ** 2) * gaussian(next);
      const age = day - titles[index].releaseDay;
      const released = titles[index].releaseDay <= day && day < (titles[index].retireDay ?? Infinity);
      const boost = titles[index].releaseDay >= 0 ? 1 + RELEASE_BOOST * Math.pow(0.5, age / RELEASE_HALF_LIFE_DAYS) : 1;
      const popularity = day >= options.tasteShiftDay && options.tasteShiftDay >= 0 ? shiftedBase[index] : base[index];
      // A crowd makes an old title as popular as a new release of the top rank (popularity 1).
      const crowd = index === crowded && day >= options.flashCrowdDay ? 1 + RELEASE_BOOST * Math.pow(0.5, (day - options.flashCrowdDay) / RELEASE_HALF_LIFE_DAYS) : 0;
      weights[index] = released ? (crowd > 0 ? crowd : popularity * boost) * Math.exp(options.churn * drift[index]) : 0;
    }
    for (let index = total; index < everyTitle; index++) {
      weights[index] = episodeWeight(series, index - total, day, options.churn);
    }
    for (let cluster = 0; cluster < options.clusters; cluster++) {
      let sum = 0;
      for (let index = 0; index < everyTitle; index++) {
        sum += weights[index] * taste[cluster][index];
        cumulative[index] = sum;
      }
      const count = counts[cluster];
      for (let request = 0; request < count; request++) {
        const title = search(cumulative, next() * sum);
        rows.day[row] = day;
        rows.cluster[row] = cluster;
        rows.title[row] = title;
        rows.bytes[row] = Math.round(titles[title].bytes * (PLAY_SHARE[0] + next() * (PLAY_SHARE[1] - PLAY_SHARE[0])));
        row++;
      }
    }
  }
  return { titles, clusters: syntheticClusters(options, catalogBytes, rows), requests: rows };
}

/** Clusters `c0`, `c1`... of appliances `c0-1`, `c0-2`..., with the disk and egress `options` give them. */
function syntheticClusters(options: SyntheticOptions, catalogBytes: number, rows: Requests): SimCluster[] {
  const requestedBytes = new Float64Array(options.clusters);
  for (let row = 0; row < rows.length; row++) {
    requestedBytes[rows.cluster[row]] += rows.bytes[row];
  }
  const diskBytes = Math.round((catalogBytes * options.capacityShare) / options.appliancesPerCluster);
  return Array.from({ length: options.clusters }, (_, cluster) => ({
    id: `c${cluster}`,
    appliances: Array.from({ length: options.appliancesPerCluster }, (_, appliance) => ({
      id: `c${cluster}-${appliance + 1}`,
      diskBytes,
      egressBytesPerDay: Number.isFinite(options.egressShare) ? Math.round((options.egressShare * requestedBytes[cluster]) / options.days) : Infinity,
    })),
  }));
}

/**
 * Assigns clusters and titles to language groups (multiplying each cluster's taste for its own
 * group's titles by `languageSkew`) and returns each cluster's share of the daily requests.
 */
function languageGroups(options: SyntheticOptions, skew: Float64Array[], next: () => number): number[] {
  const groups = Math.min(options.languageGroups, options.clusters);
  if (groups <= 1) {
    return skew.map(() => 1);
  }
  const groupOf = skew.map((_, cluster) => Math.max(0, cluster - (options.clusters - groups)));
  const volume = groupOf.map((group) => (group === 0 ? 1 : SMALL_GROUP_VOLUME));
  const groupVolume = Array.from({ length: groups }, (_, group) => volume.reduce((sum, value, cluster) => sum + (groupOf[cluster] === group ? value : 0), 0));
  const cumulative = groupVolume.map((_, group) => groupVolume.slice(0, group + 1).reduce((sum, value) => sum + value, 0));
  const totalVolume = cumulative[groups - 1];
  for (let index = 0; index < skew[0].length; index++) {
    const draw = next() * totalVolume;
    const titleGroup = cumulative.findIndex((bound) => draw < bound);
    skew.forEach((taste, cluster) => {
      if (groupOf[cluster] === titleGroup) {
        taste[index] *= options.languageSkew;
      }
    });
  }
  return volume;
}

/** Retire day by catalog title index: `retirementsPerDay` distinct catalog titles each day, drawn at random. */
function retirements(options: SyntheticOptions): Map<number, number> {
  const retiring = options.retirementsPerDay * options.days;
  if (retiring >= options.catalogTitles) {
    throw new RangeError(`retiring ${retiring} titles would leave none of the ${options.catalogTitles} catalog titles`);
  }
  const retireDays = new Map<number, number>();
  if (retiring === 0) {
    return retireDays;
  }
  const next = random(options.seed ^ RETIREMENT_SEED_SALT);
  const order = Int32Array.from({ length: options.catalogTitles }, (_, index) => index);
  // A partial Fisher-Yates shuffle: the first `retiring` positions are a uniform draw without replacement.
  for (let position = 0; position < retiring; position++) {
    const other = position + Math.floor(next() * (options.catalogTitles - position));
    [order[position], order[other]] = [order[other], order[position]];
    retireDays.set(order[position], Math.floor(position / options.retirementsPerDay));
  }
  return retireDays;
}

/**
 * The catalog title a flash crowd picks, drawn from those less popular than the median and still
 * available on the day; -1 with no flash crowd.
 */
function flashCrowdTitle(options: SyntheticOptions, base: Float64Array, titles: readonly SimTitle[]): number {
  if (options.flashCrowdDay === -1) {
    return -1;
  }
  if (!Number.isInteger(options.flashCrowdDay) || options.flashCrowdDay < 0 || options.flashCrowdDay >= options.days) {
    throw new RangeError(`the flash crowd day must be a whole day from 0 to ${options.days - 1}, or -1 for none (got ${options.flashCrowdDay})`);
  }
  const median = Array.from(base.subarray(0, options.catalogTitles)).sort((a, b) => a - b)[options.catalogTitles >> 1];
  const candidates: number[] = [];
  for (let index = 0; index < options.catalogTitles; index++) {
    if (base[index] < median && options.flashCrowdDay < (titles[index].retireDay ?? Infinity)) {
      candidates.push(index);
    }
  }
  if (candidates.length === 0) {
    throw new RangeError(`no catalog title is left for a flash crowd on day ${options.flashCrowdDay}`);
  }
  return candidates[Math.floor(random(options.seed ^ FLASH_CROWD_SEED_SALT)() * candidates.length)];
}

/** Catalog popularity re-drawn: the same values, shuffled over the catalog titles (releases keep theirs). */
function redrawnCatalog(base: Float64Array, catalogTitles: number, next: () => number): Float64Array {
  const shifted = Float64Array.from(base);
  for (let index = catalogTitles - 1; index > 0; index--) {
    const other = Math.floor(next() * (index + 1));
    [shifted[index], shifted[other]] = [shifted[other], shifted[index]];
  }
  return shifted;
}

/** Requests per cluster per day, in proportion to `volume`, summing to `perDay`. */
function clusterCounts(perDay: number, volume: readonly number[]): number[] {
  if (volume.every((value) => value === volume[0])) {
    return volume.map((_, cluster) => Math.floor(perDay / volume.length) + (cluster < perDay % volume.length ? 1 : 0));
  }
  const sum = volume.reduce((total, value) => total + value, 0);
  const counts = volume.map((value) => Math.floor((perDay * value) / sum));
  let left = perDay - counts.reduce((total, value) => total + value, 0);
  for (let cluster = 0; left > 0; cluster = (cluster + 1) % counts.length, left--) {
    counts[cluster]++;
  }
  return counts;
}

function shuffledRanks(count: number, next: () => number): Int32Array {
  const ranks = Int32Array.from({ length: count }, (_, index) => index + 1);
  for (let index = count - 1; index > 0; index--) {
    const other = Math.floor(next() * (index + 1));
    [ranks[index], ranks[other]] = [ranks[other], ranks[index]];
  }
  return ranks;
}

/** The first index whose cumulative weight exceeds `target`. */
function search(cumulative: Float64Array, target: number): number {
  let low = 0;
  let high = cumulative.length - 1;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (cumulative[middle] > target) {
      high = middle;
    } else {
      low = middle + 1;
    }
  }
  return low;
}
