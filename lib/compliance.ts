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
 * How cdk-nag renders one of a stack's pseudo parameters inside a finding: the literal value when
 * CDK knows it (an environment with an account, or enablePartitionLiterals), else `<AWS::…>`.
 */
export function nagPseudo(value: string, pseudoParameter: 'AWS::Partition' | 'AWS::Region' | 'AWS::AccountId'): string {
  return Token.isUnresolved(value) ? `<${pseudoParameter}>` : value;
}

/** How cdk-nag renders the ARN of a bucket named with pseudo parameters, in `scope`'s stack. */
export function nagBucketArn(scope: Construct, bucketName: string): string {
  return `arn:${nagPseudo(Stack.of(scope).partition, 'AWS::Partition')}:s3:::${bucketName}`;
}
