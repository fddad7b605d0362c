import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { API_ROUTES } from '../../lambda/shared/api-routes';
import { ALARMS_BY_KIND, alarmSettingProblems } from '../../lib/config/alarm-settings';
import { resolveEnvironment } from '../../lib/config/environment';
import { synthEnvironment } from '../support/synth';

type Resource = { Properties: Record<string, any> };

function alarmsOf(template: Template): Resource[] {
  return Object.values(template.findResources('AWS::CloudWatch::Alarm')) as Resource[];
}

/** The alarm whose name ends with `suffix` (names are `<env>-<region>-<what>`). */
function alarmEndingWith(template: Template, suffix: string): Resource {
  const found = alarmsOf(template).filter((alarm) => typeof alarm.Properties.AlarmName === 'string' && alarm.Properties.AlarmName.endsWith(suffix));
  expect(found.map((alarm) => alarm.Properties.AlarmName)).toHaveLength(1);
  return found[0];
}

/** A dashboard's body with its CloudFormation joins flattened to text (tokens as JSON). */
function dashboardBodies(stack: Stack, template: Template): string[] {
  return Object.values(template.findResources('AWS::CloudWatch::Dashboard')).map((dashboard) => {
    const body = (dashboard as Resource).Properties.DashboardBody;
    const parts: unknown[] = body['Fn::Join'] ? body['Fn::Join'][1] : [body];
    return parts.map((part) => (typeof part === 'string' ? part : JSON.stringify(stack.resolve(part)))).join('');
  });
}

/** Graph titles, and the markdown headers cdk-monitoring-constructs puts above each monitored thing. */
function widgetTitles(body: string): string[] {
  return [...body.matchAll(/"(?:title|markdown)":"(?:#+ )?((?:[^"\\]|\\.)*)"/g)].map((match) => match[1]);
}

describe('RegionMonitoring', () => {
  const environments = {
    prod: synthEnvironment({ name: 'prod', viewerEmailFrom: 'no-reply@example.com' }),
    staging: synthEnvironment({ name: 'staging' }),
    ephemeral: synthEnvironment({ name: 'pr-7', creator: 'alice', expiresAt: '2030-01-01T00:00:00Z' }),
  };
  const prod = environments.prod;
  const [primary, secondary] = prod.environment.controlPlanes;

  it.each([0, 1])('gives region #%i one dashboard with the steady state, every route, function, the table, the fleet and planning', (index) => {
    const stack = prod.environment.controlPlanes[index];
    const template = prod.template(stack);
    const regional = dashboardBodies(stack, template).filter((body) => body.includes(`"nearstream-prod-${stack.region}`) || widgetTitles(body).some((title) => title.includes('Stream starts per minute, with the band')));
    expect(regional).toHaveLength(1);
    const titles = widgetTitles(regional[0]);
    const has = (pattern: RegExp) => expect(titles.filter((title) => pattern.test(title))).not.toHaveLength(0);
    has(/Stream starts per minute, with the band/);
    has(/Play failure rate/);
    has(/Play outcomes/);
    for (const route of API_ROUTES) {
      has(new RegExp(`^API Gateway V2 HTTP Endpoint \\*\\*${route.method} ${route.path.replace(/[{}]/g, '\\$&')}\\*\\*$`));
    }
    for (const service of ['health', 'catalog', 'play', 'telemetry', 'home', 'fleet', 'steering-snapshot', 'fill-planning']) {
      has(new RegExp(`^Lambda Function \\*\\*\\[${service}\\]`));
    }
    has(/Replication latency to us-(west-2|east-1)/);
    has(/Silent appliances/);
    has(/Titles held/);
    has(/Clusters planned/);
    has(/Planning runs failed/);
    has(/Steering snapshot builds failed/);
    // Encoding runs in the primary region only.
    expect(titles.some((title) => /MediaConvert jobs/.test(title))).toBe(index === 0);
    // Per-route metrics exist only with the stage's detailed metrics on.
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { DefaultRouteSettings: { DetailedMetricsEnabled: true } });
  });

  it('routes every alarm of the control plane to the region\'s alarm topic, with a runbook line', () => {
    for (const stack of [primary, secondary]) {
      const template = prod.template(stack);
      const topics = Object.keys(template.findResources('AWS::SNS::Topic'));
      expect(topics).toHaveLength(1);
      const alarms = alarmsOf(template);
      expect(alarms.length).toBeGreaterThan(20);
      for (const alarm of alarms) {
        expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topics[0] }]);
        expect(alarm.Properties.AlarmDescription).toMatch(/Runbook: \S/);
      }
    }
  });

  it('alarms on SPS below its learned band, in prod breaching when starts stop arriving', () => {
    const template = prod.template(primary);
    const sps = alarmEndingWith(template, '-SteadyState-Sps').Properties;
    const thresholds = ALARMS_BY_KIND.prod;
    // An idle staging or ephemeral environment reports no starts at all: that must not page.
    expect(alarmEndingWith(environments.staging.template(environments.staging.environment.controlPlanes[0]), '-SteadyState-Sps').Properties.TreatMissingData).toBe('notBreaching');
    expect(sps).toMatchObject({
      ComparisonOperator: 'LessThanLowerThreshold',
      TreatMissingData: 'breaching',
      DatapointsToAlarm: thresholds.spsDatapointsToAlarm,
      EvaluationPeriods: thresholds.spsEvaluationMinutes,
    });
    const band = sps.Metrics.find((metric: any) => metric.Id === sps.ThresholdMetricId);
    expect(band.Expression).toMatch(new RegExp(`^ANOMALY_DETECTION_BAND\\(\\w+,${thresholds.spsBandStandardDeviations}\\)$`));
    const starts = sps.Metrics.find((metric: any) => metric.MetricStat);
    expect(starts.MetricStat).toEqual({
      Metric: { Namespace: 'Nearstream', MetricName: 'StreamStarts', Dimensions: [{ Name: 'region', Value: 'us-east-1' }, { Name: 'service', Value: 'telemetry' }] },
      Period: 60,
      Stat: 'Sum',
    });
    expect(sps.Metrics.some((metric: any) => /^FILL\(\w+, 0\)$/.test(metric.Expression ?? ''))).toBe(true);
    // The construct hands the same alarm to whoever needs a stop condition.
    const [spsId] = Object.entries(template.findResources('AWS::CloudWatch::Alarm')).find(([, alarm]) => alarm.Properties.AlarmName === sps.AlarmName)!;
    expect(primary.resolve(primary.monitoring.spsAlarm.alarmName)).toEqual({ Ref: spsId });
  });

  it.each(['prod', 'staging', 'ephemeral'] as const)('takes every threshold from the %s kind, not from literals', (kind) => {
    const synthesized = environments[kind];
    const template = synthesized.template(synthesized.environment.controlPlanes[0]);
    const thresholds = ALARMS_BY_KIND[kind];
    const threshold = (suffix: string) => alarmEndingWith(template, suffix).Properties.Threshold;
    expect(threshold('-PlayFailures')).toBe(thresholds.playFailureRatePercent);
    expect(threshold('-play-Fault-Count-Errors')).toBe(thresholds.functionErrorsPer5Minutes);
    expect(threshold('-telemetry-Throttled-Count-Throttled')).toBe(thresholds.functionThrottlesPer5Minutes);
    expect(threshold('-ControlTable-Write-Throttled-Events-Throttled')).toBe(thresholds.tableThrottledRequestsPer5Minutes);
    expect(threshold('-ReplicationLatency-Lagging')).toBe(thresholds.replicationLatencyMs);
    expect(threshold('-SilentAppliances-Silent')).toBe(thresholds.silentAppliancesPercent);
    expect(threshold('-SnapshotBuilds-Failing')).toBe(thresholds.snapshotBuildFailuresPer5Minutes);
    expect(threshold('-PlanningRuns-Failed')).toBe(thresholds.planningFailuresPerHour);
    const failureRate = alarmEndingWith(template, '-PlayFailures').Properties.Metrics.find((metric: any) => metric.Expression);
    expect(failureRate.Expression).toContain(`>= ${thresholds.playFailureMinimumPlays}`);
  });

  it('alarms on replication to the other region, by the table\'s name', () => {
    for (const [stack, other] of [[primary, 'us-west-2'], [secondary, 'us-east-1']] as const) {
      const alarm = alarmEndingWith(prod.template(stack), '-ReplicationLatency-Lagging').Properties;
      expect(alarm.Metrics[0].MetricStat.Metric).toEqual({
        Namespace: 'AWS/DynamoDB',
        MetricName: 'ReplicationLatency',
        Dimensions: [{ Name: 'ReceivingRegion', Value: other }, { Name: 'TableName', Value: 'nearstream-prod-control' }],
      });
    }
  });

  it('gives both schedules a dead-letter queue its role may send to, each alarmed on its first message', () => {
    const template = prod.template(primary);
    const schedules = Object.values(template.findResources('AWS::Scheduler::Schedule')) as Resource[];
    const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Resource[];
    expect(schedules).toHaveLength(2);
    for (const schedule of schedules) {
      const queue = schedule.Properties.Target.DeadLetterConfig.Arn['Fn::GetAtt'][0];
      expect(template.findResources('AWS::SQS::Queue')[queue]).toBeDefined();
      const alarms = alarmsOf(template).filter((alarm) => JSON.stringify(alarm.Properties.Metrics ?? []).includes(queue));
      expect(alarms).toHaveLength(1);
      expect(alarms[0].Properties).toMatchObject({ ComparisonOperator: 'GreaterThanThreshold', Threshold: 0 });
      expect(JSON.stringify(alarms[0].Properties.Metrics)).toContain('ApproximateNumberOfMessagesVisible');
      // The schedule's own role, and only it, may send to its queue.
      const role = schedule.Properties.Target.RoleArn['Fn::GetAtt'][0];
      const senders = policies.filter((policy) =>
        policy.Properties.PolicyDocument.Statement.some(
          (statement: any) => statement.Action === 'sqs:SendMessage' && JSON.stringify(statement.Resource) === JSON.stringify({ 'Fn::GetAtt': [queue, 'Arn'] }),
        ),
      );
      expect(senders.map((policy) => policy.Properties.Roles)).toEqual([[{ Ref: role }]]);
    }
  });

  it('pages on a failed planning run and on failing snapshot builds, which the dead letters never see', () => {
    const template = prod.template(primary);
    const thresholds = ALARMS_BY_KIND.prod;
    const planning = alarmEndingWith(template, '-PlanningRuns-Failed').Properties;
    expect(planning).toMatchObject({ Threshold: thresholds.planningFailuresPerHour, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    expect(planning.Metrics[0].MetricStat).toMatchObject({ Metric: { Namespace: 'AWS/Lambda', MetricName: 'Errors' }, Period: 3600, Stat: 'Sum' });
    const planner = primary.resolve(primary.fillPlanning.function.function.functionName);
    expect(planning.Metrics[0].MetricStat.Metric.Dimensions).toEqual([{ Name: 'FunctionName', Value: planner }]);
    const builds = alarmEndingWith(template, '-SnapshotBuilds-Failing').Properties;
    expect(builds).toMatchObject({ Threshold: thresholds.snapshotBuildFailuresPer5Minutes, ComparisonOperator: 'GreaterThanThreshold' });
    expect(builds.Metrics[0].MetricStat.Metric).toMatchObject({ Namespace: 'Nearstream', MetricName: 'SnapshotBuildFailures', Dimensions: [{ Name: 'service', Value: 'steering-snapshot' }] });
  });

  it('alarms on the encoding dead letters from the primary region, where the workflow runs', () => {
    const encodingQueue = prod.environment.encoding.workflow.deadLetters;
    const template = prod.template(primary);
    const alarm = alarmEndingWith(template, '-EncodingEvents-Queue-Message-Count-Max-DeadLetters').Properties;
    expect(JSON.stringify(alarm.Metrics)).toContain(prod.environment.encoding.resolve(encodingQueue.queueName)['Fn::GetAtt'][0]);
    expect(alarmsOf(prod.template(secondary)).some((entry) => /EncodingEvents/.test(entry.Properties.AlarmName))).toBe(false);
  });

  it('puts both regions on one summary dashboard in the primary region, without references into the other stack', () => {
    const template = prod.template(primary);
    const summary = dashboardBodies(primary, template).find((body) => body.includes('both regions'));
    expect(summary).toBeDefined();
    for (const region of ['us-east-1', 'us-west-2']) {
      expect(summary).toContain(`"region":"${region}"`);
    }
    expect(widgetTitles(summary!)).toEqual(expect.arrayContaining(['Stream starts per minute', 'Play failure rate (%)', 'Control table replication latency (ms)', 'Appliances silent (%)']));
    expect(summary).not.toMatch(/Fn::ImportValue|Fn::GetStackOutput|SSMParameter/);
    expect(dashboardBodies(secondary, prod.template(secondary)).some((body) => body.includes('both regions'))).toBe(false);
  });
});

describe('alarm settings', () => {
  it('names every threshold that could never fire', () => {
    const problems = alarmSettingProblems({
      ...ALARMS_BY_KIND.prod,
      spsBandStandardDeviations: 0,
      spsDatapointsToAlarm: 6,
      spsEvaluationMinutes: 5,
      playFailureRatePercent: 120,
      silentAppliancesPercent: 0,
      replicationLatencyMs: 2.5,
      snapshotBuildFailuresPer5Minutes: 0,
    });
    expect(problems.map((problem) => problem.field).sort()).toEqual([
      'alarms.playFailureRatePercent',
      'alarms.replicationLatencyMs',
      'alarms.silentAppliancesPercent',
      'alarms.snapshotBuildFailuresPer5Minutes',
      'alarms.spsBandStandardDeviations',
      'alarms.spsDatapointsToAlarm',
    ]);
    expect(problems.find((problem) => problem.field === 'alarms.spsDatapointsToAlarm')!.rule).toMatch(/could never fire/);
    for (const kind of ['prod', 'staging', 'ephemeral'] as const) {
      expect(alarmSettingProblems(ALARMS_BY_KIND[kind])).toEqual([]);
    }
  });

  it('resolves each environment\'s thresholds from its kind', () => {
    expect(resolveEnvironment({ name: 'staging' }).alarms).toEqual(ALARMS_BY_KIND.staging);
    expect(resolveEnvironment({ name: 'pr-9' }).alarms).toEqual(ALARMS_BY_KIND.ephemeral);
  });
});
