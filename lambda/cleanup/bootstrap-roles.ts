/** The qualifier `cdk bootstrap` uses unless told otherwise. */
export const DEFAULT_BOOTSTRAP_QUALIFIER = 'hnb659fds';

/** The two roles of a CDK-bootstrapped region that `cdk destroy` acts through. */
export interface BootstrapRoles {
  /**
   * `cdk-<qualifier>-deploy-role-<account>-<region>`: trusts its own account, and may describe
   * stacks (AWSCloudFormationReadOnlyAccess), delete them (its CliPermissions statement) and pass
   * the execution role (bootstrap template version 32, the one @aws-cdk/toolkit-lib ships).
   */
  readonly deployRoleArn: string;
  /** `cdk-<qualifier>-cfn-exec-role-<account>-<region>`: what CloudFormation deletes the resources as. */
  readonly executionRoleArn: string;
}

/** The bootstrap template's own AllowedPattern for its Qualifier parameter. */
const QUALIFIER = /^[A-Za-z0-9_-]{1,10}$/;

/**
 * The bootstrap roles of `region` in `account`. The construct builds its IAM policy and the
 * handler its AssumeRole and DeleteStack calls from this one function, so the two cannot drift.
 * `account` and `partition` may be CDK tokens.
 */
export function bootstrapRoles(account: string, region: string, qualifier: string, partition = 'aws'): BootstrapRoles {
  if (!QUALIFIER.test(qualifier)) {
    throw new Error(`CDK bootstrap qualifier '${qualifier}' must be 1-10 letters, digits, '_' or '-' (as cdk bootstrap --qualifier accepts), like ${DEFAULT_BOOTSTRAP_QUALIFIER}`);
  }
  const role = (name: string) => `arn:${partition}:iam::${account}:role/cdk-${qualifier}-${name}-${account}-${region}`;
  return { deployRoleArn: role('deploy-role'), executionRoleArn: role('cfn-exec-role') };
}
