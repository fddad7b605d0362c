import { predictDemand } from '../../../lambda/planning/demand-forecast';
import { ClusterDemand, DEFAULT_PLANNER_OPTIONS } from '../../../lambda/planning/fill-plan';
import { plays, shuffledPopularity, zipfPopularity } from '../../support/plays';

const TITLES = 300;
const titles = Array.from({ length: TITLES }, (_, index) => ({ titleId: `t${index}`, bytes: 1e9, releaseDay: -100 }));
const before = zipfPopularity(TITLES);
const after = shuffledPopularity(TITLES, 99);

/** The forecast for `day` from every day before it, those in `lost` excepted. */
const forecast = (demand: ClusterDemand, day: number, lost: readonly number[] = []) =>
  predictDemand(demand, titles, day, (past) => past >= 0 && past < day && !lost.includes(past), DEFAULT_PLANNER_OPTIONS);

/** A full window's weight: what a day's weight is measured against in `historyShare`. */
const FULL_WEIGHT = (1 - DEFAULT_PLANNER_OPTIONS.decay ** DEFAULT_PLANNER_OPTIONS.historyDays) / (1 - DEFAULT_PLANNER_OPTIONS.decay);

describe('predictDemand', () => {
  it('counts a title released the evening before the planned day as new, even in a cluster with no demand yet', () => {
    const fresh = [{ titleId: 'late-release', bytes: 1e9, releaseDay: 9 }];

    const result = predictDemand(new Map(), fresh, 10, () => false, DEFAULT_PLANNER_OPTIONS);

    expect([...result.unobserved]).toEqual(['late-release']);
    // Not a title released two days before with no demand since, in a cluster with no data either.
    expect([...predictDemand(new Map(), [{ ...fresh[0], releaseDay: 8 }], 10, () => false, DEFAULT_PLANNER_OPTIONS).unobserved]).toEqual([]);
  });

  it('restarts the history on a day of another taste: tomorrow is predicted from that day alone', () => {
    const demand = plays(15, 600, 1, (day) => (day < 14 ? before : after));
    const result = forecast(demand, 15);
    expect(result.tasteShiftDays).toEqual([14]);
    expect(result.historyShare).toBeCloseTo(1 / FULL_WEIGHT, 9);
    for (const [titleId, byDay] of demand) {
      expect({ titleId, predicted: result.predicted.get(titleId) ?? 0 }).toEqual({ titleId, predicted: byDay.get(14) ?? 0 });
    }
  });

  it('judges the first day of the new taste whose data arrived when the shift day itself was lost', () => {
    const demand = plays(16, 600, 1, (day) => (day < 14 ? before : after));
    expect(forecast(demand, 16, [14]).tasteShiftDays).toEqual([15]);
  });

  it('keeps the history of a cluster whose taste holds, however small its daily sample', () => {
    for (const perDay of [60, 300, 3000]) {
      for (const seed of [1, 2, 3, 4, 5]) {
        const demand = plays(28, perDay, seed, () => before);
        expect({ perDay, seed, shifts: forecast(demand, 28).tasteShiftDays }).toEqual({ perDay, seed, shifts: [] });
      }
    }
  });

  it('takes a crowd on one title for no taste shift: that title restarts its own history, the others keep theirs', () => {
    const demand = plays(15, 1000, 4, () => before);
    demand.get('t250')!.set(14, 400);
    const result = forecast(demand, 15);
    expect(result.tasteShiftDays).toEqual([]);
    expect(result.predicted.get('t250')).toBe(400);
    // The favourite is still judged on two weeks: its decaying average, not its last day.
    const favourite = demand.get('t0')!;
    let weighted = 0;
    let weights = 0;
    for (let day = 14, weight = 1; day >= 0; day--, weight *= DEFAULT_PLANNER_OPTIONS.decay) {
      weighted += (favourite.get(day) ?? 0) * weight;
      weights += weight;
    }
    expect(result.predicted.get('t0')).toBeCloseTo(weighted / weights, 9);
  });
});
