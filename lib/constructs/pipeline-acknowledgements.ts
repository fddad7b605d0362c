import { Stack, Validations } from 'aws-cdk-lib';
import { CfnPolicy } from 'aws-cdk-lib/aws-iam';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { CfnBucket, IBucket } from 'aws-cdk-lib/aws-s3';
import { CodePipeline } from 'aws-cdk-lib/pipelines';
import { IConstruct } from 'constructs';
import { restrictGrantsToAwsServices } from './key-policies';

/** A wildcard in a policy, and why it is acceptable there. */
export interface WildcardReason {
  /** Matches cdk-nag's rendering: `Action::s3:GetObject*`, `Resource::<Bucket.Arn>/*`, `Resource::*`. */
  readonly pattern: RegExp;
  /** Only in policies whose construct path matches. @default - in any policy under the scope */
  readonly policyPath?: RegExp;
  readonly reason: string;
}

const ARTIFACT_OBJECTS_REASON =
  'Objects of the pipeline\'s own artifact bucket or its cross-region replication bucket: every execution writes artifacts under new keys, unknown at deploy.';

/**
 * Wildcards that CDK, CodePipeline and CDK Pipelines put into the roles they generate. Each is
 * matched against cdk-nag's rendering of the action or resource and acknowledged on that policy
 * only; a wildcard nobody listed here stays a finding.
 */
const GENERATED_WILDCARDS: readonly WildcardReason[] = [
  {
    pattern: /^Action::(s3:(GetObject|GetBucket|List|DeleteObject|Abort)|kms:(GenerateDataKey|ReEncrypt))\*$/,
    reason: 'CDK grantRead/grantReadWrite on a pipeline artifact bucket and its KMS key: the action groups CodePipeline and CodeBuild use to move artifacts, on that bucket and key only.',
  },
  {
    pattern: /^Resource::<[A-Za-z0-9]*ArtifactsBucket[A-Za-z0-9]*\.Arn>\/\*$/,
    reason: ARTIFACT_OBJECTS_REASON,
  },
  {
    pattern: /^Resource::arn:(aws[a-z-]*|<AWS::Partition>):logs:[a-z0-9-]+:\d{12}:log-group:\/aws\/codebuild\/(<[A-Za-z0-9]+>:)?\*$/,
    reason: 'CodeBuild\'s default log group of its project (or of the generated asset projects): CodeBuild creates one log stream per build, named at build time.',
  },
  {
    pattern: /^Resource::arn:(aws[a-z-]*|<AWS::Partition>):codebuild:[a-z0-9-]+:\d{12}:report-group\/(<[A-Za-z0-9]+>-)?\*$/,
    reason: 'CodeBuild test-report groups named after the project, which CodeBuild creates at build time when a build reports; no other project\'s reports.',
  },
  {
    pattern: /^Resource::<[A-Za-z0-9]+\.Arn>:\*$/,
    reason: 'Log streams of the pipeline\'s own encrypted build log group: CodeBuild creates one stream per build, named at build time.',
  },
];

/** Acknowledges the generated wildcards above in every policy under `scope`. */
export function acknowledgeGeneratedWildcards(scope: IConstruct, extra: readonly WildcardReason[] = []): void {
  const known = [...extra, ...GENERATED_WILDCARDS];
  for (const policy of scope.node.findAll().filter((node): node is CfnPolicy => node instanceof CfnPolicy)) {
    const document = Stack.of(policy).resolve(policy.policyDocument) as { Statement: { Action: unknown; Resource: unknown }[] };
    const findings = new Set<string>();
    for (const statement of document.Statement) {
      for (const action of asList(statement.Action)) {
        findings.add(`Action::${nagRendering(action)}`);
      }
      for (const resource of asList(statement.Resource)) {
        findings.add(`Resource::${nagRendering(resource)}`);
      }
    }
    for (const finding of [...findings].filter((candidate) => candidate.includes('*'))) {
      const match = known.find(({ pattern, policyPath }) => pattern.test(finding) && (policyPath?.test(policy.node.path) ?? true));
      if (match) {
        Validations.of(policy).acknowledge({ id: `AwsSolutions::AwsSolutions-IAM5[${finding}]`, reason: match.reason });
      }
    }
  }
}

/**
 * Brings a bucket CodePipeline creates for artifacts as close to the house rules as CDK lets it:
 * versioned with old versions and stale artifacts expiring, events on EventBridge, its key's grants
 * limited to AWS services; and acknowledges what cannot apply to an artifact store.
 */
export function hardenArtifactBucket(bucket: IBucket): void {
  const cfnBucket = bucket.node.defaultChild as CfnBucket;
  cfnBucket.versioningConfiguration = { status: 'Enabled' };
  cfnBucket.lifecycleConfiguration = {
    rules: [
      {
        id: 'ExpireArtifacts',
        status: 'Enabled',
        expirationInDays: 90,
        noncurrentVersionExpiration: { noncurrentDays: 7 },
        abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
      },
    ],
  };
  cfnBucket.notificationConfiguration = { eventBridgeConfiguration: { eventBridgeEnabled: true } };
  if (bucket.encryptionKey) {
    restrictGrantsToAwsServices(bucket.encryptionKey as IKey);
  }
  const transient = 'Pipeline artifacts: source zips and cloud assemblies, rebuilt from git by any execution and expired after 90 days;';
  Validations.of(bucket).acknowledge(
    { id: 'AwsSolutions::AwsSolutions-S1', reason: `${transient} CloudTrail records who read or wrote them, so server access logs add a log bucket per region and nothing more.` },
    { id: 'cdk-validator-cfnguard::s3_bucket_logging_enabled_check', reason: `${transient} CloudTrail records who read or wrote them, so server access logs add a log bucket per region and nothing more.` },
    { id: 'cdk-validator-cfnguard::s3_bucket_object_lock_enabled_check', reason: `${transient} CodePipeline must be able to expire them, which Object Lock would forbid.` },
  );
}

function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [value];
}

/** How cdk-nag prints an action or resource of a resolved policy: `Ref`/`GetAtt` as `<Id>`/`<Id.Attr>`, joins concatenated. */
function nagRendering(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  const intrinsic = value as Record<string, unknown>;
  if ('Ref' in intrinsic) {
    return `<${String(intrinsic.Ref)}>`;
  }
  if ('Fn::GetAtt' in intrinsic) {
    return `<${(intrinsic['Fn::GetAtt'] as string[]).join('.')}>`;
  }
  if ('Fn::Join' in intrinsic) {
    const [separator, parts] = intrinsic['Fn::Join'] as [string, unknown[]];
    return parts.map(nagRendering).join(separator);
  }
  return JSON.stringify(value);
}

/** What CDK Pipelines generates with `*` resources, by the role it generates them in. */
const CDK_PIPELINES_WILDCARDS: readonly WildcardReason[] = [
  {
    pattern: /^Resource::\*$/,
    policyPath: /\/Pipeline\/Pipeline\/Role\/DefaultPolicy\/Resource$/,
    reason: 'KMS use of the secondary region\'s replication-bucket key, which lives in the support stack and is named by alias: CDK cannot name it here, and that key\'s policy admits only this account.',
  },
  {
    pattern: /^Resource::\*$/,
    policyPath: /\/Pipeline\/Assets\/FileRole\/DefaultPolicy\/Resource$/,
    reason: 'CDK Pipelines\' shared asset-publishing role starts and watches the CodeBuild project of whichever asset the pipeline publishes; one project per asset, generated at synth.',
  },
  {
    pattern: /^Resource::\*$/,
    policyPath: /\/Pipeline\/UpdatePipeline\/SelfMutation\/Role\/DefaultPolicy\/Resource$/,
    reason: 'Self-mutation runs `cdk deploy` of the pipeline stack: the CLI describes stacks and lists the bootstrap bucket, both read-only, before deploying through the bootstrap roles.',
  },
  {
    pattern: /^Resource::arn:\*:iam::\d{12}:role\/\*$/,
    policyPath: /\/Pipeline\/UpdatePipeline\/SelfMutation\/Role\/DefaultPolicy\/Resource$/,
    reason: 'Self-mutation assumes the CDK bootstrap roles of this account in any region, and only them: the statement\'s condition requires the tag aws-cdk:bootstrap-role to be deploy or publishing.',
  },
];

/** Why our CodeBuild projects run on a Docker image rather than a CodeBuild-provided one (cdk-nag CB5). */
const CUSTOM_IMAGE_REASON =
  'Debian 12 with Node 20 from the ECR Public mirror of Docker\'s official images: the test prerequisites are Debian packages (chromium is a snap on CodeBuild\'s Ubuntu images).';

/** Acknowledges CB5 on a project built on NODE_BUILD_IMAGE. */
export function acknowledgeBuildImage(project: IConstruct): void {
  Validations.of(project).acknowledge({ id: 'AwsSolutions::AwsSolutions-CB5', reason: CUSTOM_IMAGE_REASON });
}

export interface DeliveryPipelineFindings {
  /** Projects on NODE_BUILD_IMAGE (the synth and smoke steps). */
  readonly customImageProjects: readonly IConstruct[];
  /** The test-suite project that runs privileged, and why. */
  readonly privilegedProject: IConstruct;
  readonly privilegedReason: string;
  /** Wildcards of our own statements (the smoke test's). */
  readonly wildcards: readonly WildcardReason[];
}

/** Hardens and acknowledges what CDK Pipelines generated; call after `buildPipeline()`. */
export function acknowledgeDeliveryPipelineFindings(pipeline: CodePipeline, findings: DeliveryPipelineFindings): void {
  const buckets = new Set<IBucket>([pipeline.pipeline.artifactBucket, ...Object.values(pipeline.pipeline.crossRegionSupport).map((support) => support.replicationBucket)]);
  for (const bucket of buckets) {
    hardenArtifactBucket(bucket);
  }
  // A replication bucket lives in its support stack, so the pipeline's policies name it literally.
  const replicationObjects = [...buckets]
    .map((bucket) => Stack.of(pipeline).resolve(bucket.bucketName))
    .filter((name): name is string => typeof name === 'string')
    .map((name) => ({ pattern: new RegExp(`^Resource::arn:(aws[a-z-]*|<AWS::Partition>):s3:::${name.replace(/[.]/g, '\\.')}/\\*$`), reason: ARTIFACT_OBJECTS_REASON }));
  acknowledgeGeneratedWildcards(pipeline, [...CDK_PIPELINES_WILDCARDS, ...replicationObjects, ...findings.wildcards]);
  findings.customImageProjects.forEach(acknowledgeBuildImage);
  // cdk-nag's AwsSolutions pack has no privileged-mode rule; Control Tower's CT.CODEBUILD.PR.4 does.
  Validations.of(findings.privilegedProject).acknowledge({
    id: 'cdk-validator-cfnguard::codebuild_project_environment_privileged_check',
    reason: findings.privilegedReason,
  });
}
