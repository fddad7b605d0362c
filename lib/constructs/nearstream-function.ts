import { Duration, RemovalPolicy, Stack, Tags, Validations } from 'aws-cdk-lib';
import { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Metric, Stats } from 'aws-cdk-lib/aws-cloudwatch';
import { Architecture, IFunction, ILayerVersion, LayerVersion, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { StringParameter } from 'aws-cdk-lib/aws-ssm';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { EncryptedLogGroup } from './encrypted-log-group';

/** The CloudWatch namespace every Nearstream function publishes its metrics to. */
export const METRICS_NAMESPACE = 'Nearstream';

/** How a dashboard or alarm reads one of a function's metrics. */
export interface PublishedMetricOptions {
  /** Dimensions the handler adds beyond `service` (the telemetry function's `region`). */
  readonly dimensions?: Readonly<Record<string, string>>;
  /** @default Stats.SUM */
  readonly statistic?: string;
  /** @default Duration.minutes(1) */
  readonly period?: Duration;
  readonly label?: string;
  /** Read the metric from another region (dashboards only: an alarm watches its own region). */
  readonly region?: string;
}

/** Where FIS writes Lambda fault configurations in a region, and the tag that makes a function a target. */
export interface FaultInjectionLocation {
  readonly bucketName: string;
  /** The bucket's logical id, as cdk-nag names it in findings. */
  readonly bucketLogicalId: string;
  /** Ends with `/`. */
  readonly prefix: string;
  /** Tags that make the function a target: which experiments it opts in to. */
  readonly optInTags: readonly { readonly key: string; readonly value: string }[];
}

/**
 * The FIS Lambda extension for arm64 (Nearstream's functions), one per stack: its ARN differs by
 * region and version, so it is read at deploy time from the public SSM parameter AWS keeps it in.
 */
function fisExtensionLayer(stack: Stack): ILayerVersion {
  const id = 'FisLambdaExtension';
  return (
    (stack.node.tryFindChild(id) as ILayerVersion | undefined) ??
    LayerVersion.fromLayerVersionArn(stack, id, StringParameter.valueForStringParameter(stack, '/aws/service/fis/lambda-extension/AWS-FIS-extension-arm64/1.x.x'))
  );
}

/** A metric math id for `name` in `region` (`starts_us_east_1`), unique when both regions share a graph. */
export function metricId(name: string, region: string): string {
  return `${name}_${region.replace(/[^a-z0-9]/g, '_')}`;
}

/** Period, statistic, label and (for dashboards) region of an intent metric. */
export type MetricOptions = Omit<PublishedMetricOptions, 'dimensions'>;

export interface NearstreamFunctionProps {
  /** Absolute path of the handler's TypeScript module. */
  readonly entry: string;
  /** What the function does, shown in the console. */
  readonly description: string;
  /** The Powertools service name: logs, metrics and traces are grouped by it. */
  readonly serviceName: string;
  /** Retention of the function's log group, in days. */
  readonly logRetentionDays: number;
  /** What happens to the log group when the stack goes away; follows the environment kind. */
  readonly logRemovalPolicy: RemovalPolicy;
  /** The region's customer managed key for log groups. */
  readonly logEncryptionKey: IKey;
  /**
   * Exported name of the handler inside `entry`.
   * @default 'handler'
   */
  readonly handler?: string;
  /**
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /**
   * Memory, which also buys CPU.
   * @default 512
   */
  readonly memorySizeMb?: number;
  /**
   * Extra environment variables. Tables and secrets are better bound with `bindTable` and
   * `bindSecret`, which set the variable and the grant together.
   * @default - only the house variables
   */
  readonly environment?: Record<string, string>;
}

/** What a function may do with a table it is bound to. */
export interface TableBinding {
  /** The environment variable that receives the table's name. */
  readonly envVar: string;
  /** The DynamoDB actions granted, nothing more. */
  readonly actions: readonly string[];
  /**
   * Indexes the same actions apply to, by name.
   * @default - none: the table only
   */
  readonly indexes?: readonly string[];
  /**
   * Limits the grant to items whose partition key matches one of these patterns (`cluster#*`).
   * @default - every item
   */
  readonly leadingKeys?: readonly string[];
}

/**
 * The one way Nearstream runs code in Lambda: a `NodejsFunction` with the house defaults (arm64,
 * the current Node.js runtime, X-Ray tracing, source maps, its own log group with retention, and
 * Powertools configured through the environment) and a role that starts with nothing but the right
 * to write its own logs. Access to anything else is added with `bindTable` / `bindSecret`.
 */
export class NearstreamFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly logGroup: EncryptedLogGroup;
  /** The Powertools service name: the `service` dimension of every metric the function publishes. */
  readonly serviceName: string;

  constructor(scope: Construct, id: string, props: NearstreamFunctionProps) {
    super(scope, id);
    this.serviceName = props.serviceName;

    this.logGroup = new EncryptedLogGroup(this, 'Logs', {
      retentionDays: props.logRetentionDays,
      encryptionKey: props.logEncryptionKey,
      removalPolicy: props.logRemovalPolicy,
    });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs ${props.serviceName}: its logs, its traces and the resources bound to it`,
    });
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: props.handler ?? 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySizeMb ?? 512,
      timeout: props.timeout ?? Duration.seconds(10),
      tracing: Tracing.ACTIVE,
      role: this.role,
      logGroup: this.logGroup,
      bundling: {
        format: OutputFormat.CJS,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        target: 'node24',
      },
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        ...props.environment,
      },
    });

    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray PutTraceSegments/PutTelemetryRecords have no resource-level permissions; Resource * is the only form AWS accepts.',
    });
    Validations.of(this.function).acknowledge({
      id: 'cdk-validator-cfnguard::lambda_inside_vpc_check',
      reason: 'Control-plane functions reach only regional AWS APIs (DynamoDB, Secrets Manager, CloudWatch); a VPC would add NAT or endpoint cost and cold-start latency and isolate nothing.',
    });
  }

  /** The function as a Lambda `IFunction`, for integrations and event sources. */
  get handler(): IFunction {
    return this.function;
  }

  /**
   * A custom metric the function publishes through Powertools (namespace `Nearstream`, dimension
   * `service`), named as its handler names it (`lambda/shared/metric-names.ts`).
   */
  publishedMetric(metricName: string, options: PublishedMetricOptions = {}): Metric {
    return new Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { service: this.serviceName, ...options.dimensions },
      statistic: options.statistic ?? Stats.SUM,
      period: options.period ?? Duration.minutes(1),
      label: options.label,
      region: options.region,
    });
  }

  /**
   * Lets AWS FIS delay or fail this function's invocations (the FIS Lambda extension, which reads
   * the fault configuration FIS writes under `location` while an experiment runs) and tags it as
   * a target the chaos experiments may pick. Only environments with chaos on call this.
   */
  enableFaultInjection(location: FaultInjectionLocation): this {
    this.function.addLayers(fisExtensionLayer(Stack.of(this)));
    this.function.addEnvironment('AWS_FIS_CONFIGURATION_LOCATION', `arn:aws:s3:::${location.bucketName}/${location.prefix}`);
    this.function.addEnvironment('AWS_LAMBDA_EXEC_WRAPPER', '/opt/aws-fis/bootstrap');
    this.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['s3:ListBucket'], resources: [`arn:aws:s3:::${location.bucketName}`], conditions: { StringLike: { 's3:prefix': [`${location.prefix}*`] } } }),
    );
    this.role.addToPrincipalPolicy(new PolicyStatement({ actions: ['s3:GetObject'], resources: [`arn:aws:s3:::${location.bucketName}/${location.prefix}*`] }));
    for (const tag of location.optInTags) {
      Tags.of(this.function).add(tag.key, tag.value);
    }
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::arn:aws:s3:::<${Stack.of(this).resolve(location.bucketLogicalId)}>/${location.prefix}*]`,
      reason: 'The FIS extension reads whichever fault configuration FIS writes for this function under the chaos prefix; FIS names the objects.',
    });
    return this;
  }

  /** Sets `binding.envVar` to the table's name and grants exactly `binding.actions` on it and the named indexes. */
  bindTable(table: ITableV2, binding: TableBinding): this {
    this.function.addEnvironment(binding.envVar, table.tableName);
    Grant.addToPrincipal({
      grantee: this.role,
      actions: [...binding.actions],
      resourceArns: [table.tableArn, ...(binding.indexes ?? []).map((index) => `${table.tableArn}/index/${index}`)],
      conditions: binding.leadingKeys && { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...binding.leadingKeys] } },
    });
    return this;
  }

  /** Sets `envVar` to the secret's name and grants reading its current value. */
  bindSecret(secret: ISecret, envVar: string): this {
    this.function.addEnvironment(envVar, secret.secretName);
    secret.grantRead(this.role);
    return this;
  }
}
