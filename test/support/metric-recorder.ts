import { MetricSink } from '../../lambda/shared/metric-names';

/** A `MetricSink` that keeps every value, for tests to read back by metric name. */
export class MetricRecorder implements MetricSink {
  readonly recorded: { name: string; unit: string; value: number }[] = [];

  addMetric(name: string, unit: string, value: number): void {
    this.recorded.push({ name, unit, value });
  }

  values(name: string): number[] {
    return this.recorded.filter((entry) => entry.name === name).map((entry) => entry.value);
  }
}
