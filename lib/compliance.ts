import { App, Stack, Token, Validations } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { AwsSolutionsChecks } from 'cdk-nag';

/**
 * Runs cdk-nag's AWS Solutions pack and cfn-guard's Control Tower proactive controls over every
 * stack of the app at synth. An unacknowledged finding fails the synth; acknowledgements live next
 * to the resource they are about, each with its reason.
 */
export function addComplianceChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new CfnGuardValidator());
}

/**
 * How cdk-nag renders the ARN of a bucket named with pseudo parameters, in `scope`'s stack: the
 * partition is a literal when CDK knows it (feature flag enablePartitionLiterals), else a Ref.
 */
export function nagBucketArn(scope: Construct, bucketName: string): string {
  const partition = Stack.of(scope).partition;
  return `arn:${Token.isUnresolved(partition) ? '<AWS::Partition>' : partition}:s3:::${bucketName}`;
}
