import { Duration, Validations } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/**
 * Where EventBridge Scheduler puts an invocation it could not deliver after its retries (its role
 * denied, the function gone): a schedule that silently stops is the failure nobody sees. The
 * monitoring construct alarms on anything in it. Scheduler invokes Lambda asynchronously, so a run
 * that fails inside the function never lands here: the function's own error alarms catch those.
 */
export function scheduleDeadLetters(scope: Construct, id: string, schedule: string): Queue {
  const queue = new Queue(scope, id, {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  const reason = `This queue is itself the dead-letter queue of ${schedule}; an alarm fires on its first message, and nothing consumes it.`;
  Validations.of(queue).acknowledge({ id: 'AwsSolutions::AwsSolutions-SQS3', reason }, { id: 'cdk-validator-cfnguard::sqs_dlq_check', reason });
  return queue;
}
