import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

const CDK_PROVIDER_HANDLER = /\/Custom::(CrossRegionExport(Reader|Writer)|S3AutoDeleteObjects|VpcRestrictDefaultSG)CustomResourceProvider\/Handler$/;

/**
 * CDK adds its own custom resource providers (cross-region exports, auto-deleting buckets, locking
 * down a VPC's default security group) while
 * it prepares the app, after aspects have run, so nothing can acknowledge their findings at
 * construction time. This registers a validation on `scope`, which runs once preparation is done,
 * and acknowledges exactly those providers' Lambda functions, by construct path, and nothing else.
 */
export function acknowledgeCdkProviders(scope: IConstruct): void {
  scope.node.addValidation({
    validate: () => {
      for (const node of scope.node.findAll()) {
        if (node instanceof CfnResource && node.cfnResourceType === 'AWS::Lambda::Function' && CDK_PROVIDER_HANDLER.test(node.node.path)) {
          Validations.of(node).acknowledge({
            id: 'cdk-validator-cfnguard::lambda_inside_vpc_check',
            reason: `A CDK-provided deployment-time provider in ${Stack.of(node).stackName} that only calls SSM, S3 or EC2 while CloudFormation runs; it serves no traffic and needs no VPC.`,
          });
        }
      }
      return [];
    },
  });
}
