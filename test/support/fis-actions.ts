/**
 * AWS FIS actions as AWS documents them (FIS User Guide, "AWS FIS actions reference" and "Actions
 * for AWS FIS": action ids, the resource type and target key of their targets, their parameters),
 * pinned here so that a template the project renders is checked against AWS's table, not its own.
 * https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html
 */
export interface DocumentedAction {
  /** The action's target key and the resource type its target must be; none for actions without targets. */
  readonly target?: { readonly key: string; readonly resourceType: string };
  readonly required: readonly string[];
  readonly optional: readonly string[];
}

export const FIS_ACTIONS: Readonly<Record<string, DocumentedAction>> = {
  'aws:ec2:terminate-instances': { target: { key: 'Instances', resourceType: 'aws:ec2:instance' }, required: [], optional: [] },
  'aws:ec2:stop-instances': { target: { key: 'Instances', resourceType: 'aws:ec2:instance' }, required: [], optional: ['startInstancesAfterDuration', 'completeIfInstancesTerminated'] },
  'aws:lambda:invocation-add-delay': {
    target: { key: 'Functions', resourceType: 'aws:lambda:function' },
    required: ['duration'],
    optional: ['invocationPercentage', 'startupDelayMilliseconds'],
  },
  'aws:lambda:invocation-error': {
    target: { key: 'Functions', resourceType: 'aws:lambda:function' },
    required: ['duration', 'preventExecution'],
    optional: ['invocationPercentage'],
  },
  'aws:lambda:invocation-http-integration-response': {
    target: { key: 'Functions', resourceType: 'aws:lambda:function' },
    required: ['contentTypeHeader', 'duration', 'preventExecution', 'statusCode'],
    optional: ['invocationPercentage'],
  },
  'aws:ebs:volume-io-latency': {
    target: { key: 'Volumes', resourceType: 'aws:ec2:ebs-volume' },
    required: ['duration'],
    optional: ['readIOPercentage', 'readIOLatencyMilliseconds', 'writeIOPercentage', 'writeIOLatencyMilliseconds'],
  },
  'aws:dynamodb:global-table-pause-replication': { target: { key: 'Tables', resourceType: 'aws:dynamodb:global-table' }, required: ['duration'], optional: [] },
  'aws:ssm:send-command': { target: { key: 'Instances', resourceType: 'aws:ec2:instance' }, required: ['documentArn', 'duration'], optional: ['documentVersion', 'documentParameters'] },
  'aws:fis:wait': { required: ['duration'], optional: [] },
  'aws:cloudwatch:assert-alarm-state': { required: ['alarmArns', 'alarmStates'], optional: [] },
};

/** ISO 8601 durations as FIS takes them (`PT10M`, `PT1H30M`, `PT45S`). */
export const FIS_DURATION = /^PT(?:\d+H)?(?:\d+M)?(?:\d+S)?$/;
