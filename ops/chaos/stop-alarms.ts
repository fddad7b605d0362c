import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { ExperimentStopCondition } from '@aws-sdk/client-fis';

/** The alarms among an experiment's stop conditions, by name (the part of the ARN after `:alarm:`). */
export function stopAlarmNames(stopConditions: readonly ExperimentStopCondition[] | undefined): string[] {
  return (stopConditions ?? [])
    .filter((condition) => condition.source === 'aws:cloudwatch:alarm' && condition.value)
    .map((condition) => {
      const arn = condition.value!;
      const marker = arn.indexOf(':alarm:');
      return marker >= 0 ? arn.slice(marker + ':alarm:'.length) : arn;
    });
}

/**
 * Each alarm's state (`OK`, `ALARM`, `INSUFFICIENT_DATA`), or `missing` for one CloudWatch does
 * not know, in one DescribeAlarms call. The SPS alarm is a metric alarm; composite alarms are asked
 * for too, so a stop condition on either reads right.
 */
export async function readAlarmStates(cloudWatch: Pick<CloudWatchClient, 'send'>, alarmNames: readonly string[]): Promise<Map<string, string>> {
  const answer = await cloudWatch.send(new DescribeAlarmsCommand({ AlarmNames: [...alarmNames], AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] }));
  const states = new Map<string, string>();
  for (const alarm of [...(answer.MetricAlarms ?? []), ...(answer.CompositeAlarms ?? [])]) {
    if (alarm.AlarmName && alarm.StateValue) {
      states.set(alarm.AlarmName, alarm.StateValue);
    }
  }
  return new Map(alarmNames.map((name) => [name, states.get(name) ?? 'missing']));
}
