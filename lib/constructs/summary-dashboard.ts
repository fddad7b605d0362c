import { Duration } from 'aws-cdk-lib';
import { Dashboard, GraphWidget, IMetric, MathExpression, PeriodOverride, SingleValueWidget, TextWidget } from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { metricId } from './nearstream-function';
import { PlaybackApi } from './playback-api';
import { metricReplicationLatency } from './region-monitoring';
import { SteeringSnapshots } from './steering-snapshots';

/** What the summary shows of one region: constructs of that region's stack, read through their intent methods. */
export interface SummarizedRegion {
  readonly region: string;
  readonly playback: PlaybackApi;
  readonly steering: SteeringSnapshots;
  /** The region whose replica this one replicates to. */
  readonly otherRegion: string;
  /** Each region's per-region dashboard, named in the summary for the details. */
  readonly dashboardName: string;
}

export interface SummaryDashboardProps {
  readonly dashboardName: string;
  readonly regions: readonly SummarizedRegion[];
  readonly controlTableName: string;
  readonly playFailureMinimumPlays: number;
}

/**
 * Both regions at a glance, side by side on one dashboard (CloudWatch dashboards read any
 * region's metrics): SPS and play failures, steering, the fleet and replication. Only metrics
 * without deploy-time tokens are used, so one region's stack holds it without a reference into
 * the other's.
 */
export class SummaryDashboard extends Construct {
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: SummaryDashboardProps) {
    super(scope, id);
    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(6),
      periodOverride: PeriodOverride.INHERIT,
    });
    const perRegion = (title: string, metric: (region: SummarizedRegion) => IMetric, width = 12) =>
      new GraphWidget({ title, width, height: 6, left: props.regions.map(metric) });

    this.dashboard.addWidgets(
      new TextWidget({
        markdown: `# Nearstream, both regions\nStream starts (SPS x 60) are the steady state. Details per region: ${props.regions.map((entry) => `\`${entry.dashboardName}\``).join(', ')}.`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new SingleValueWidget({
        title: 'Stream starts per second, last minute',
        width: 24,
        height: 3,
        metrics: props.regions.map((entry) => {
          const id = metricId('starts', entry.region);
          return new MathExpression({
            expression: `FILL(${id}, 0) / 60`,
            usingMetrics: { [id]: entry.playback.metricStreamStarts({ region: entry.region, period: Duration.minutes(1) }) },
            label: `${entry.region} SPS`,
            period: Duration.minutes(1),
          });
        }),
      }),
    );
    this.dashboard.addWidgets(
      perRegion('Stream starts per minute', (entry) => entry.playback.metricStreamStarts({ region: entry.region, label: entry.region })),
      perRegion('Play failure rate (%)', (entry) => entry.playback.metricPlayFailureRatePercent(props.playFailureMinimumPlays, { region: entry.region }).with({ label: entry.region })),
    );
    this.dashboard.addWidgets(
      perRegion('Plays refused', (entry) => entry.playback.metricPlaysRefused({ region: entry.region, period: Duration.minutes(5), label: entry.region }), 8),
      perRegion('Plays steered degraded', (entry) => entry.playback.metricSteeringDegraded({ region: entry.region, period: Duration.minutes(5), label: entry.region }), 8),
      perRegion('Appliances silent (%)', (entry) => entry.steering.metricSilentAppliancesPercent({ region: entry.region }).with({ label: entry.region }), 8),
    );
    this.dashboard.addWidgets(
      perRegion('Appliances registered', (entry) => entry.steering.metricAppliancesRegistered({ region: entry.region, period: Duration.minutes(5), label: entry.region })),
      perRegion('Control table replication latency (ms)', (entry) => metricReplicationLatency(props.controlTableName, entry.otherRegion, entry.region)),
    );
  }
}
