import { Template } from 'aws-cdk-lib/assertions';
import { CHAOS_EXPERIMENTS, experimentNamed } from '../../lib/chaos/catalog';
import { resolveEnvironment } from '../../lib/config/environment';
import { ConfigError } from '../../lib/config/config-error';
import { FIS_ACTIONS, FIS_DURATION } from '../support/fis-actions';
import { synthEnvironment } from '../support/synth';

type Resource = { Properties: Record<string, any> };

const FLEET = { applianceAmis: { 'us-east-1': 'ami-0123456789abcdef0', 'us-west-2': 'ami-0fedcba9876543210' } };
const OPTED_IN = ['catalog', 'play', 'telemetry', 'home', 'license'];
const EVACUATION_ONLY = ['health'];

function templatesOf(template: Template): Record<string, Resource> {
  return template.findResources('AWS::FIS::ExperimentTemplate') as Record<string, Resource>;
}

/** The function resources of a stack, by the Powertools service name they run as. */
function functionsByService(template: Template): Record<string, Resource> {
  return Object.fromEntries(
    (Object.values(template.findResources('AWS::Lambda::Function')) as Resource[])
      .filter((fn) => fn.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME)
      .map((fn) => [fn.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME, fn]),
  );
}

describe('chaos experiments', () => {
  const on = synthEnvironment({ name: 'staging', chaos: 'on', ...FLEET });
  const leashed = synthEnvironment({ name: 'pr-3', chaos: 'leashed', creator: 'alice', expiresAt: '2030-01-01T00:00:00Z' });
  const off = synthEnvironment({ name: 'dev', ...FLEET });

  it.each([0, 1])('renders every catalog experiment in region #%i, each stopping on the SPS alarm of its steady state', (index) => {
    const stack = on.environment.controlPlanes[index];
    const template = on.template(stack);
    const templates = Object.values(templatesOf(template));
    expect(templates.map((entry) => entry.Properties.Tags['nearstream:experiment']).sort()).toEqual(CHAOS_EXPERIMENTS.map((experiment) => experiment.name).sort());
    const spsAlarm = stack.resolve(stack.monitoring.spsAlarm.alarmArn);
    const [globalAlarm] = Object.keys(template.findResources('AWS::CloudWatch::Alarm')).filter((id) => id.startsWith('GlobalSteadyStateAlarm'));
    for (const { Properties: properties } of templates) {
      const scope = experimentNamed(properties.Tags['nearstream:experiment']).steadyState;
      expect(properties.StopConditions).toEqual([{ Source: 'aws:cloudwatch:alarm', Value: scope === 'region' ? spsAlarm : { 'Fn::GetAtt': [globalAlarm, 'Arn'] } }]);
      expect(properties.LogConfiguration).toEqual({ CloudWatchLogsConfiguration: { LogGroupArn: { 'Fn::GetAtt': [expect.stringMatching(/^ChaosLogs/), 'Arn'] } }, LogSchemaVersion: 2 });
      const report = properties.ExperimentReportConfiguration;
      expect(report.Outputs.ExperimentReportS3Configuration).toEqual({ BucketName: { Ref: expect.stringMatching(/^ChaosBucket/) }, Prefix: `reports/${properties.Tags['nearstream:experiment']}/` });
      expect(JSON.stringify(report.DataSources.CloudWatchDashboards)).toContain(`:dashboard/${stack.monitoring.dashboardName}`);
      expect(properties.ExperimentOptions).toEqual({ AccountTargeting: 'single-account', EmptyTargetResolutionMode: 'fail' });
      expect(properties.Description.length).toBeLessThanOrEqual(512);
    }
  });

  it('uses only actions, target keys, resource types and parameters AWS documents, with ISO 8601 durations', () => {
    const templates = Object.values(templatesOf(on.template(on.environment.controlPlanes[0])));
    let actions = 0;
    for (const { Properties: properties } of templates) {
      for (const action of Object.values<any>(properties.Actions)) {
        actions++;
        const documented = FIS_ACTIONS[action.ActionId];
        expect(documented).toBeDefined();
        const parameters = Object.keys(action.Parameters ?? {});
        for (const required of documented.required) {
          expect(parameters).toContain(required);
        }
        for (const parameter of parameters) {
          expect([...documented.required, ...documented.optional]).toContain(parameter);
          // A string, or a CloudFormation intrinsic that resolves to one (an alarm's ARN).
          const value = action.Parameters[parameter];
          expect(typeof value === 'string' || /^(Fn::GetAtt|Ref|Fn::Join)$/.test(Object.keys(value).join())).toBe(true);
        }
        if (action.Parameters?.duration !== undefined) {
          expect(action.Parameters.duration).toMatch(FIS_DURATION);
        }
        if (documented.target) {
          expect(Object.keys(action.Targets)).toEqual([documented.target.key]);
          const target = properties.Targets[action.Targets[documented.target.key]];
          expect(target.ResourceType).toBe(documented.target.resourceType);
        } else {
          expect(action.Targets).toBeUndefined();
        }
      }
    }
    // One action per experiment, and the evacuation's five.
    expect(actions).toBe(CHAOS_EXPERIMENTS.length + 4);
  });

  it('evacuates a region in order: its API answers 503 and replication pauses, then after the drain the platform must be serving', () => {
    const stack = on.environment.controlPlanes[1];
    const template = on.template(stack);
    const [, { Properties: evacuation }] = Object.entries(templatesOf(template)).find(([, entry]) => entry.Properties.Tags['nearstream:experiment'] === 'region-evacuation')!;
    const [globalAlarm] = Object.keys(template.findResources('AWS::CloudWatch::Alarm')).filter((id) => id.startsWith('GlobalSteadyStateAlarm'));
    expect(evacuation.Actions.evacuate).toMatchObject({
      ActionId: 'aws:lambda:invocation-http-integration-response',
      Parameters: { statusCode: '503', preventExecution: 'true', invocationPercentage: '100', duration: 'PT15M' },
    });
    expect(evacuation.Targets[evacuation.Actions.evacuate.Targets.Functions]).toEqual({
      ResourceType: 'aws:lambda:function',
      ResourceTags: { 'nearstream:evacuation': 'opt-in', 'nearstream:environment': 'staging' },
      SelectionMode: 'ALL',
    });
    // Replication pauses only after the region's last writes had a minute to reach the other region.
    expect(evacuation.Actions.settle).toMatchObject({ ActionId: 'aws:fis:wait', Parameters: { duration: 'PT1M' } });
    expect(evacuation.Actions.pauseReplication).toMatchObject({ ActionId: 'aws:dynamodb:global-table-pause-replication', Parameters: { duration: 'PT14M' }, StartAfter: ['settle'] });
    const table = evacuation.Targets[evacuation.Actions.pauseReplication.Targets.Tables];
    expect(JSON.stringify(table.ResourceArns)).toContain(`:dynamodb:us-west-2:`);
    expect(JSON.stringify(table.ResourceArns)).toContain(':table/nearstream-staging-control');
    expect(evacuation.Actions.drain).toMatchObject({ ActionId: 'aws:fis:wait', Parameters: { duration: 'PT8M' } });
    expect(evacuation.Actions.drain.StartAfter).toBeUndefined();
    expect(evacuation.Actions.assertServed).toEqual(
      expect.objectContaining({ ActionId: 'aws:cloudwatch:assert-alarm-state', StartAfter: ['drain'], Parameters: { alarmArns: { 'Fn::GetAtt': [globalAlarm, 'Arn'] }, alarmStates: 'OK' } }),
    );
  });

  it('watches both regions\' stream starts from each region, summed there every minute from the minute the run was scheduled for', () => {
    for (const [index, peer] of [[0, 'us-west-2'], [1, 'us-east-1']] as const) {
      const template = on.template(on.environment.controlPlanes[index]);
      const functions = functionsByService(template);
      expect(functions['steady-state'].Properties.Environment.Variables).toMatchObject({ PEER_REGION: peer, TELEMETRY_SERVICE: 'telemetry', METRICS_NAMESPACE: 'Nearstream' });
      const [alarm] = (Object.entries(template.findResources('AWS::CloudWatch::Alarm')) as [string, Resource][]).filter(([id]) => id.startsWith('GlobalSteadyStateAlarm'));
      expect(alarm[1].Properties).toMatchObject({ ComparisonOperator: 'LessThanLowerThreshold', TreatMissingData: 'breaching' });
      const metric = (alarm[1].Properties.Metrics as any[]).find((entry) => entry.MetricStat).MetricStat;
      // Maximum: each minute's datapoint is the whole sum, so a minute published twice counts once.
      expect(metric).toMatchObject({ Metric: { Namespace: 'Nearstream', MetricName: 'GlobalStreamStarts', Dimensions: [{ Name: 'service', Value: 'steady-state' }] }, Stat: 'Maximum', Period: 60 });
      const schedules = (Object.values(template.findResources('AWS::Scheduler::Schedule')) as Resource[]).filter((schedule) =>
        JSON.stringify(schedule.Properties.Target.Arn).includes('GlobalSteadyStateGlobalStarts'),
      );
      expect(schedules.map((schedule) => [schedule.Properties.ScheduleExpression, JSON.parse(schedule.Properties.Target.Input)])).toEqual([
        ['rate(1 minute)', { scheduledTime: '<aws.scheduler.scheduled-time>' }],
      ]);
    }
    expect(Object.keys(functionsByService(off.template(off.environment.controlPlanes[0])))).not.toContain('steady-state');
  });

  it('selects appliances one at a time, by this environment\'s opt-in tags, never ALL', () => {
    for (const { Properties: properties } of Object.values(templatesOf(on.template(on.environment.controlPlanes[0])))) {
      for (const target of Object.values<any>(properties.Targets)) {
        if (target.ResourceType === 'aws:dynamodb:global-table') {
          // This region's replica of the control table, by ARN: one table, never chosen by tag.
          expect(target.ResourceArns).toHaveLength(1);
          continue;
        }
        expect(target.ResourceTags).toMatchObject({
          [properties.Tags['nearstream:experiment'] === 'region-evacuation' ? 'nearstream:evacuation' : 'nearstream:chaos']: 'opt-in',
          'nearstream:environment': 'staging',
        });
        expect(target.ResourceArns).toBeUndefined();
        if (target.ResourceType.startsWith('aws:ec2:')) {
          expect(target.SelectionMode).toBe('COUNT(1)');
        }
      }
    }
    // The volumes the disk experiment picks by tag carry the tags: the launch template puts them on volumes.
    const appliances = on.template(on.environment.appliances[0]);
    const [launchTemplate] = Object.values(appliances.findResources('AWS::EC2::LaunchTemplate')) as Resource[];
    const volumeTags = launchTemplate.Properties.LaunchTemplateData.TagSpecifications.find((spec: any) => spec.ResourceType === 'volume').Tags;
    expect(volumeTags).toEqual(expect.arrayContaining([{ Key: 'nearstream:chaos', Value: 'opt-in' }, { Key: 'nearstream:environment', Value: 'staging' }, { Key: 'nearstream:role', Value: 'appliance' }]));
  });

  it('runs as a role only FIS may assume, harming only opted-in resources of this environment', () => {
    const template = on.template(on.environment.controlPlanes[0]);
    const [roleId, role] = Object.entries(template.findResources('AWS::IAM::Role')).find(([id]) => id.startsWith('ChaosRole'))! as [string, Resource];
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      expect.objectContaining({
        Principal: { Service: 'fis.amazonaws.com' },
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } }, ArnLike: { 'aws:SourceArn': expect.anything() } },
      }),
    ]);
    const statements = (Object.values(template.findResources('AWS::IAM::Policy')) as Resource[])
      .filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement);
    const granting = (action: string) => statements.filter((statement: any) => [statement.Action].flat().includes(action));
    for (const harmful of ['ec2:TerminateInstances', 'ec2:InjectVolumeIOLatency']) {
      expect(granting(harmful)).toHaveLength(1);
      expect(granting(harmful)[0].Condition).toEqual({ StringEquals: { 'aws:ResourceTag/nearstream:chaos': 'opt-in', 'aws:ResourceTag/nearstream:environment': 'staging' } });
    }
    const getFunction = granting('lambda:GetFunction')[0].Resource;
    expect(getFunction).toHaveLength(OPTED_IN.length + EVACUATION_ONLY.length);
    // Replication pauses on this region's replica only.
    const pause = granting('dynamodb:PutResourcePolicy');
    expect(pause).toHaveLength(1);
    expect(JSON.stringify(pause[0].Resource)).toMatch(/:dynamodb:us-east-1:.*:table\/nearstream-staging-control"/);
    for (const statement of statements) {
      for (const action of [statement.Action].flat()) {
        expect(action).not.toMatch(/^\*$|:\*$/);
      }
    }
  });

  it('wires the FIS Lambda extension into exactly the opted-in functions when chaos is on', () => {
    const template = on.template(on.environment.controlPlanes[0]);
    const functions = functionsByService(template);
    const [bucketId] = Object.keys(template.findResources('AWS::S3::Bucket')).filter((id) => id.startsWith('ChaosBucket'));
    const parameter = Object.entries(template.toJSON().Parameters as Record<string, { Default?: string; Type: string }>).find(([, value]) => value.Default === '/aws/service/fis/lambda-extension/AWS-FIS-extension-arm64/1.x.x');
    expect(parameter?.[1].Type).toBe('AWS::SSM::Parameter::Value<String>');
    for (const [service, fn] of Object.entries(functions)) {
      const variables = fn.Properties.Environment.Variables;
      if (OPTED_IN.includes(service) || EVACUATION_ONLY.includes(service)) {
        expect(fn.Properties.Layers).toEqual([{ Ref: parameter![0] }]);
        expect(variables.AWS_LAMBDA_EXEC_WRAPPER).toBe('/opt/aws-fis/bootstrap');
        expect(variables.AWS_FIS_CONFIGURATION_LOCATION).toEqual({ 'Fn::Join': ['', ['arn:aws:s3:::', { Ref: bucketId }, '/FisConfigs/']] });
        expect(fn.Properties.Tags).toEqual(expect.arrayContaining([{ Key: 'nearstream:evacuation', Value: 'opt-in' }]));
        // The health check opts in to the evacuation only: a latency or error experiment must not fail the region by accident.
        const chaosTag = expect.arrayContaining([{ Key: 'nearstream:chaos', Value: 'opt-in' }]);
        if (OPTED_IN.includes(service)) {
          expect(fn.Properties.Tags).toEqual(chaosTag);
        } else {
          expect(fn.Properties.Tags).not.toEqual(chaosTag);
        }
      } else {
        expect(fn.Properties.Layers).toBeUndefined();
        expect(variables.AWS_LAMBDA_EXEC_WRAPPER).toBeUndefined();
        expect(fn.Properties.Tags ?? []).not.toEqual(expect.arrayContaining([{ Key: 'nearstream:chaos', Value: 'opt-in' }]));
      }
    }
    expect(Object.keys(functions)).toEqual(expect.arrayContaining(OPTED_IN));
  });

  it('has templates in leashed mode too, and nothing at all with chaos off', () => {
    expect(Object.keys(templatesOf(leashed.template(leashed.environment.controlPlanes[1])))).toHaveLength(CHAOS_EXPERIMENTS.length);
    for (const stack of off.environment.controlPlanes) {
      const template = off.template(stack);
      expect(Object.keys(templatesOf(template))).toHaveLength(0);
      for (const fn of Object.values(functionsByService(template))) {
        expect(fn.Properties.Layers).toBeUndefined();
        expect(fn.Properties.Environment.Variables.AWS_FIS_CONFIGURATION_LOCATION).toBeUndefined();
      }
    }
    expect(resolveEnvironment({ name: 'prod', viewerEmailFrom: 'a@example.com' }).chaos.mode).toBe('off');
  });

  it('schedules Chaos Monkey at a random moment of every slot of business hours, straight through FIS, leashed as skip-all', () => {
    const monkey = (synthesized: typeof on, index = 0) => {
      const template = synthesized.template(synthesized.environment.controlPlanes[index]);
      const schedules = (Object.values(template.findResources('AWS::Scheduler::Schedule')) as Resource[]).filter((schedule) =>
        JSON.stringify(schedule.Properties.Target.Arn).includes(':scheduler:::aws-sdk:fis:startExperiment'),
      );
      expect(schedules).toHaveLength(1);
      return { template, schedule: schedules[0].Properties };
    };
    const { template, schedule } = monkey(on);
    expect(schedule).toMatchObject({
      ScheduleExpression: 'cron(0 9-16/4 ? * MON-FRI *)',
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 240 },
    });
    const [monkeyTemplateId] = Object.entries(templatesOf(template)).find(([, entry]) => entry.Properties.Tags['nearstream:experiment'] === 'chaos-monkey')!;
    /** The input with the template id's attribute written as <id>. */
    const inputOf = (properties: Record<string, any>) =>
      (properties.Target.Input['Fn::Join'][1] as unknown[]).map((part) => (typeof part === 'string' ? part : `<${(part as any)['Fn::GetAtt'][0]}>`)).join('');
    expect(JSON.parse(inputOf(schedule))).toEqual({ ExperimentTemplateId: `<${monkeyTemplateId}>`, ClientToken: '<aws.scheduler.execution-id>' });
    expect(schedule.Target.DeadLetterConfig).toBeDefined();
    // The schedule's role may start this template's experiments and nothing else.
    const role = schedule.Target.RoleArn['Fn::GetAtt'][0];
    const statements = (Object.values(template.findResources('AWS::IAM::Policy')) as Resource[])
      .filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: role }]))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement);
    expect(statements.filter((statement: any) => statement.Action === 'fis:StartExperiment')).toHaveLength(1);
    expect(JSON.stringify(statements)).toContain(monkeyTemplateId);
    expect(statements.every((statement: any) => ['fis:StartExperiment', 'sqs:SendMessage'].includes(statement.Action))).toBe(true);

    const leashedMonkey = monkey(leashed, 1).schedule;
    expect(JSON.parse(inputOf(leashedMonkey))).toMatchObject({ ExperimentOptions: { ActionsMode: 'skip-all' } });
    const hourly = synthEnvironment({ name: 'staging', chaos: 'on', chaosMeanMinutes: 20, chaosTimezone: 'Europe/Amsterdam' });
    expect(monkey(hourly).schedule).toMatchObject({ ScheduleExpression: 'cron(0/20 9-16 ? * MON-FRI *)', ScheduleExpressionTimezone: 'Europe/Amsterdam', FlexibleTimeWindow: { MaximumWindowInMinutes: 20 } });
  });

  it('tags an opted-out cluster\'s appliances out of every experiment', () => {
    const optedOut = synthEnvironment({ name: 'staging', chaos: 'on', chaosOptOut: ['ec2-us-west-2'], ...FLEET });
    const chaosTag = (index: number) => {
      const [group] = Object.values(optedOut.template(optedOut.environment.appliances[index]).findResources('AWS::AutoScaling::AutoScalingGroup')) as Resource[];
      return group.Properties.Tags.find((tag: any) => tag.Key === 'nearstream:chaos').Value;
    };
    expect([chaosTag(0), chaosTag(1)]).toEqual(['opt-in', 'opt-out']);
  });

  it.each([
    [{ chaosMeanMinutes: 45 }, /chaosMeanMinutes: must be one of 10, 15, 20, 30, 60, 120, 240, 480/],
    [{ chaosTimezone: 'Mars/Olympus' }, /chaosTimezone: 'Mars\/Olympus' is not an IANA time zone/],
    [{ chaosOptOut: ['Bad Cluster'] }, /chaosOptOut: 'Bad Cluster' is not a cluster id/],
  ])('refuses chaos settings %j, naming the field', (input, message) => {
    expect(() => resolveEnvironment({ name: 'staging', chaos: 'on', ...input })).toThrow(message);
  });

  it('refuses an unknown chaos mode, naming the field and the modes', () => {
    expect(() => resolveEnvironment({ name: 'staging', chaos: 'sometimes' })).toThrow(ConfigError);
    expect(() => resolveEnvironment({ name: 'staging', chaos: 'sometimes' })).toThrow("chaos: must be one of off, leashed, on (got 'sometimes')");
  });

  it('names the catalog when asked for an experiment it does not have', () => {
    expect(experimentNamed('chaos-monkey').fault).toEqual({ kind: 'terminate-appliance', count: 1 });
    expect(() => experimentNamed('chaos-gorilla')).toThrow(/no chaos experiment 'chaos-gorilla': the catalog has chaos-monkey, latency-monkey/);
  });
});
