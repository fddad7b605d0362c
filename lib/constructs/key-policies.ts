import { AnyPrincipal, Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { IKey } from 'aws-cdk-lib/aws-kms';

/**
 * Denies `kms:CreateGrant` unless the grant is for an AWS resource or made by an AWS service:
 * nobody can hand out use of the key by grant behind the key policy's back (CT.KMS.PR.3).
 */
export function restrictGrantsToAwsServices(key: IKey): void {
  key.addToResourcePolicy(
    new PolicyStatement({
      sid: 'DenyGrantsNotForAwsServices',
      effect: Effect.DENY,
      principals: [new AnyPrincipal()],
      actions: ['kms:CreateGrant'],
      resources: ['*'],
      conditions: {
        BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
      },
    }),
  );
}
