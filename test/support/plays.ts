import { random } from '../../simulator/synthetic';

/**
 * Seeded daily plays for planning tests: titles `t0`, `t1`... drawn one play at a time from a
 * popularity, so each day carries the sampling noise of a real cluster of that volume.
 */

/** Popularity 1 / rank over `count` titles, the most popular first in `order` (t0 first by default). */
export function zipfPopularity(count: number, order: readonly number[] = Array.from({ length: count }, (_, index) => index)): Float64Array {
  const weights = new Float64Array(count);
  order.forEach((title, rank) => (weights[title] = 1 / (rank + 1)));
  return weights;
}

/** The same popularity re-drawn: the ranks of `count` titles in a shuffle seeded by `seed` (a taste shift). */
export function shuffledPopularity(count: number, seed: number): Float64Array {
  const next = random(seed);
  const order = Array.from({ length: count }, (_, index) => index);
  for (let index = order.length - 1; index > 0; index--) {
    const other = Math.floor(next() * (index + 1));
    [order[index], order[other]] = [order[other], order[index]];
  }
  return zipfPopularity(count, order);
}

/** `perDay` plays a day from day 0 to `days` - 1, each drawn by the day's popularity: plays by title id and day. */
export function plays(days: number, perDay: number, seed: number, popularityOn: (day: number) => Float64Array): Map<string, Map<number, number>> {
  const next = random(seed);
  const demand = new Map<string, Map<number, number>>();
  for (let day = 0; day < days; day++) {
    const weights = popularityOn(day);
    const total = weights.reduce((sum, weight) => sum + weight, 0);
    for (let play = 0; play < perDay; play++) {
      let target = next() * total;
      let title = 0;
      while (title < weights.length - 1 && target >= weights[title]) {
        target -= weights[title];
        title++;
      }
      const byDay = demand.get(`t${title}`) ?? new Map<number, number>();
      byDay.set(day, (byDay.get(day) ?? 0) + 1);
      demand.set(`t${title}`, byDay);
    }
  }
  return demand;
}
