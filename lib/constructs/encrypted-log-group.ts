import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** Control Tower's proactive control CT.CLOUDWATCH.PR.2 wants a year of retention. */
const CONTROL_TOWER_MIN_RETENTION_DAYS = 365;

export interface EncryptedLogGroupProps {
  /** Retention in days; a CloudWatch Logs period (the environment config validates it). */
  readonly retentionDays: number;
  /** The region's customer managed log key. */
  readonly encryptionKey: IKey;
  /** Follows the environment kind. */
  readonly removalPolicy: RemovalPolicy;
}

/** Every log group Nearstream creates: KMS-encrypted, with the environment's retention. */
export class EncryptedLogGroup extends LogGroup {
  constructor(scope: Construct, id: string, props: EncryptedLogGroupProps) {
    super(scope, id, {
      retention: props.retentionDays as RetentionDays,
      encryptionKey: props.encryptionKey,
      removalPolicy: props.removalPolicy,
    });
    if (props.retentionDays < CONTROL_TOWER_MIN_RETENTION_DAYS) {
      Validations.of(this).acknowledge({
        id: 'cdk-validator-cfnguard::cloudwatch_log_group_retention_period_check',
        reason: `Retention is ${props.retentionDays} days by the environment's config: only prod keeps logs a year; staging and ephemeral environments keep them shorter to bound cost.`,
      });
    }
  }
}
