import { Arn, ArnFormat, Stack, Validations } from 'aws-cdk-lib';
import { Grant, IGrantable, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { CfnJobTemplate } from 'aws-cdk-lib/aws-mediaconvert';
import { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { JobKind, jobSettings, TEMPLATE_DESTINATION } from '../../lambda/encoding/ladder';

export interface EncodingLadderProps {
  /** Prefix of the templates' names, `nearstream-<env>`. */
  readonly namePrefix: string;
  /** Uploads MediaConvert may read, their key, and the bucket ARN as cdk-nag renders it. */
  readonly source: MediaBucketRef;
  /** The origin MediaConvert writes `titles/` into. */
  readonly origin: MediaBucketRef;
}

/** A media bucket from the data stack, imported by its derived name. */
export interface MediaBucketRef {
  readonly bucket: IBucket;
  readonly key: IKey;
  /** The bucket's ARN as cdk-nag prints it, to acknowledge findings on exactly this bucket. */
  readonly nagArn: string;
}

const JOB_KINDS: readonly JobKind[] = ['fixed', 'automated', 'av1'];

/**
 * The platform's MediaConvert job templates, rendered from the typed ladder, and the service role
 * jobs run as: it may read only the source bucket and write only the origin's `titles/` prefix.
 */
export class EncodingLadder extends Construct {
  readonly templates: Readonly<Record<JobKind, CfnJobTemplate>>;
  readonly serviceRole: Role;

  constructor(scope: Construct, id: string, props: EncodingLadderProps) {
    super(scope, id);
    this.serviceRole = new Role(this, 'ServiceRole', {
      assumedBy: new ServicePrincipal('mediaconvert.amazonaws.com'),
      description: 'MediaConvert jobs: read uploads, write encoded titles',
    });
    this.serviceRole.addToPolicy(new PolicyStatement({ actions: ['s3:GetObject'], resources: [props.source.bucket.arnForObjects('*')] }));
    this.serviceRole.addToPolicy(new PolicyStatement({ actions: ['s3:PutObject'], resources: [props.origin.bucket.arnForObjects('titles/*')] }));
    props.source.key.grant(this.serviceRole, 'kms:Decrypt');
    props.origin.key.grant(this.serviceRole, 'kms:GenerateDataKey', 'kms:Decrypt');
    Validations.of(this.serviceRole).acknowledge(
      {
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::${props.source.nagArn}/*]`,
        reason: 'MediaConvert reads whichever upload a job names; every object of the source bucket is an upload.',
      },
      {
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::${props.origin.nagArn}/titles/*]`,
        reason: 'MediaConvert writes each title under titles/<titleId>/; the prefix is the narrowest scope that covers every title.',
      },
    );

    this.templates = Object.fromEntries(
      JOB_KINDS.map((kind) => [
        kind,
        new CfnJobTemplate(this, `${kind}Template`, {
          name: `${props.namePrefix}-${kind}`,
          description: `Nearstream ${kind} ladder: CMAF with HLS and DASH under titles/<titleId>/<codec>/`,
          category: 'nearstream',
          settingsJson: jobSettings(kind, () => TEMPLATE_DESTINATION),
          statusUpdateInterval: 'SECONDS_60',
          accelerationSettings: { mode: 'PREFERRED' },
        }),
      ]),
    ) as Record<JobKind, CfnJobTemplate>;
  }

  /** Template names by job kind, as the submit function's configuration. */
  get templateNames(): Record<JobKind, string> {
    return Object.fromEntries(JOB_KINDS.map((kind) => [kind, this.templates[kind].name])) as Record<JobKind, string>;
  }

  /**
   * Lets `grantee` probe uploads and submit jobs from these templates as the service role, and
   * pass that role to MediaConvert and nothing else.
   */
  grantSubmitJob(grantee: IGrantable): void {
    const stack = Stack.of(this);
    const mediaConvertArn = (resource: string, resourceName: string) =>
      Arn.format({ service: 'mediaconvert', resource, resourceName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME }, stack);
    Grant.addToPrincipal({
      grantee,
      actions: ['mediaconvert:CreateJob'],
      resourceArns: [...JOB_KINDS.map((kind) => this.templates[kind].attrArn), mediaConvertArn('queues', 'Default')],
    });
    Grant.addToPrincipal({ grantee, actions: ['mediaconvert:Probe'], resourceArns: ['*'] });
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [this.serviceRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'mediaconvert.amazonaws.com' } },
      }),
    );
  }
}
