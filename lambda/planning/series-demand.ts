import type { ClusterDemand, PlannerOptions, PlanTitle } from './fill-plan';

/**
 * Series demand, pure: viewers of a series watch its episodes in order, so an episode nobody has
 * watched here yet is predicted from the one before it, or from its series' demand per episode.
 */

export type Episode = PlanTitle & { readonly seriesId: string; readonly episode: number };

export function isEpisode(title: PlanTitle): title is Episode {
  return title.seriesId !== undefined && title.episode !== undefined;
}

/** The playable episodes of each series in episode order (ties on title id), series by id. */
export function seriesOf(titles: readonly PlanTitle[]): Episode[][] {
  const bySeries = new Map<string, Episode[]>();
  for (const title of titles) {
    if (isEpisode(title)) {
      const episodes = bySeries.get(title.seriesId) ?? [];
      episodes.push(title);
      bySeries.set(title.seriesId, episodes);
    }
  }
  return [...bySeries.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, episodes]) => episodes.sort((a, b) => a.episode - b.episode || (a.titleId < b.titleId ? -1 : 1)));
}

/** The last day of the history window whose data arrived, or undefined for none. */
export function latestObservedDay(day: number, observed: (past: number) => boolean, options: PlannerOptions): number | undefined {
  for (let past = day - 1; past >= day - options.historyDays; past--) {
    if (observed(past)) {
      return past;
    }
  }
  return undefined;
}

/**
 * Viewers binge. An episode with no observed day yet is expected to do at least as well as a
 * release (the generic prior), and better when its series has an audience here: `bingeShare` of
 * its predecessor's viewers of the latest observed day (scaled by size: demand is in bytes), or,
 * with the predecessor unwatched, its series' mean recent demand per watched episode. An episode
 * released with a predecessor nobody has seen yet (a binge drop) waits for viewers to reach it.
 * An observed episode with no demand of its own yet (released before its viewers got to it) takes
 * the binge term; one with demand keeps its own average, which already follows its viewers.
 * One pass over each series: O(titles).
 */
export function withBinges(
  predicted: Map<string, number>,
  series: readonly (readonly Episode[])[],
  history: ClusterDemand | undefined,
  latestDay: number | undefined,
  unobserved: ReadonlySet<string>,
  prior: number,
  bingeShare: number,
): void {
  const recentDensity = (title: PlanTitle) => (latestDay === undefined ? 0 : (history?.get(title.titleId)?.get(latestDay) ?? 0) / title.bytes);
  for (const episodes of series) {
    const densities = episodes.map(recentDensity);
    const watched = densities.filter((density) => density > 0);
    const seriesDensity = watched.length > 0 ? watched.reduce((sum, density) => sum + density, 0) / watched.length : 0;
    episodes.forEach((episode, at) => {
      const binge = at > 0 ? bingeShare * densities[at - 1] * episode.bytes : 0;
      const own = predicted.get(episode.titleId) ?? 0;
      if (!unobserved.has(episode.titleId)) {
        if (own === 0 && binge > 0) {
          predicted.set(episode.titleId, binge);
        }
        return;
      }
      if (binge === 0 && seriesDensity === 0 && at > 0 && unobserved.has(episodes[at - 1].titleId)) {
        return;
      }
      const inherited = binge > 0 ? binge : seriesDensity * episode.bytes;
      predicted.set(episode.titleId, Math.max(own, prior, inherited));
    });
  }
}
