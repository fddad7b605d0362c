import { createHash } from 'node:crypto';

/** A synthesized CloudFormation template, as much of it as the IAM check reads. */
export interface CfnTemplate {
  readonly Resources: Readonly<Record<string, CfnResource>>;
  readonly Outputs?: Readonly<Record<string, { readonly Value: unknown; readonly Export?: { readonly Name: unknown } }>>;
  readonly Mappings?: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, unknown>>>>>>;
}

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Readonly<Record<string, unknown>>;
}

/** One deployed stack: where it goes and what it says. */
export interface DeployedStack {
  readonly stackName: string;
  readonly region: string;
  readonly account: string;
  readonly template: CfnTemplate;
}

/**
 * Secrets Manager appends six random characters to a secret's name in its ARN. The check uses
 * these six everywhere, on the policy side (a secret's `Ref`) and on the call side (a secret named
 * in a request), so the two agree as they would in AWS.
 */
export const SECRET_ARN_SUFFIX = 'AbCdEf';

/**
 * Resolves CloudFormation intrinsics to the concrete values a deployment would produce, across all
 * the stacks of one environment. Resources the platform names (buckets, tables, secrets, job
 * templates) get their real names; generated names and ids are derived from the stack and logical
 * id, so they are stable and the same wherever they are referenced.
 */
export class TemplateResolver {
  private exports?: Map<string, { stack: DeployedStack; value: unknown }>;

  constructor(readonly stacks: readonly DeployedStack[]) {}

  stack(stackName: string, region?: string): DeployedStack {
    const found = this.stacks.find((stack) => stack.stackName === stackName && (region === undefined || stack.region === region));
    if (!found) {
      throw new Error(`no synthesized stack named ${stackName}${region ? ` in ${region}` : ''}; stacks: ${this.stacks.map((s) => s.stackName).join(', ')}`);
    }
    return found;
  }

  resolve(stack: DeployedStack, value: unknown): unknown {
    if (Array.isArray(value)) {
      return value.map((item) => this.resolve(stack, item)).filter((item) => item !== NO_VALUE);
    }
    if (typeof value !== 'object' || value === null) {
      return value;
    }
    const entries = Object.entries(value);
    const [name, argument] = entries[0] ?? [];
    if (entries.length === 1 && (name === 'Ref' || name.startsWith('Fn::'))) {
      return this.intrinsic(stack, name, argument);
    }
    return Object.fromEntries(entries.map(([key, item]) => [key, this.resolve(stack, item)]).filter(([, item]) => item !== NO_VALUE));
  }

  resolveString(stack: DeployedStack, value: unknown): string {
    const resolved = this.resolve(stack, value);
    if (typeof resolved !== 'string') {
      throw new Error(`expected ${JSON.stringify(value)} in ${stack.stackName} to resolve to a string, got ${JSON.stringify(resolved)}`);
    }
    return resolved;
  }

  /** What `Ref` of a resource gives, by type: a name, an ARN or an id. */
  ref(stack: DeployedStack, logicalId: string): string {
    const resource = this.resource(stack, logicalId);
    const props = resource.Properties ?? {};
    const named = (property: string) => (props[property] === undefined ? undefined : this.resolveString(stack, props[property]));
    const generated = `${stack.stackName}-${logicalId}`;
    switch (resource.Type) {
      case 'AWS::S3::Bucket':
        return named('BucketName') ?? generated.toLowerCase();
      case 'AWS::DynamoDB::Table':
      case 'AWS::DynamoDB::GlobalTable':
        return named('TableName') ?? generated;
      case 'AWS::IAM::Role':
        return named('RoleName') ?? generated.slice(0, 64);
      case 'AWS::SecretsManager::Secret':
        return `arn:aws:secretsmanager:${stack.region}:${stack.account}:secret:${named('Name') ?? generated}-${SECRET_ARN_SUFFIX}`;
      case 'AWS::SNS::Topic':
        return `arn:aws:sns:${stack.region}:${stack.account}:${named('TopicName') ?? generated}`;
      case 'AWS::KMS::Key': {
        const hex = digest(stack, logicalId);
        return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20, 32)].join('-');
      }
      case 'AWS::ApiGatewayV2::Api':
        return digest(stack, logicalId).slice(0, 10);
      case 'AWS::MediaConvert::JobTemplate':
        return named('Name') ?? generated;
      default:
        return generated;
    }
  }

  /** What `Fn::GetAtt` of a resource gives; ARNs follow each service's format. */
  attribute(stack: DeployedStack, logicalId: string, attribute: string): string {
    const resource = this.resource(stack, logicalId);
    const props = resource.Properties ?? {};
    const { region, account } = stack;
    const ref = () => this.ref(stack, logicalId);
    const named = (property: string) =>
      props[property] === undefined ? `${stack.stackName}-${logicalId}` : this.resolveString(stack, props[property]);
    const arns: Record<string, () => string> = {
      'AWS::S3::Bucket': () => `arn:aws:s3:::${ref()}`,
      'AWS::DynamoDB::Table': () => `arn:aws:dynamodb:${region}:${account}:table/${ref()}`,
      'AWS::DynamoDB::GlobalTable': () => `arn:aws:dynamodb:${region}:${account}:table/${ref()}`,
      'AWS::IAM::Role': () => `arn:aws:iam::${account}:role/${ref()}`,
      'AWS::KMS::Key': () => `arn:aws:kms:${region}:${account}:key/${ref()}`,
      'AWS::SecretsManager::Secret': ref,
      'AWS::SNS::Topic': ref,
      'AWS::Lambda::Function': () => `arn:aws:lambda:${region}:${account}:function:${named('FunctionName')}`,
      'AWS::Logs::LogGroup': () => `arn:aws:logs:${region}:${account}:log-group:${named('LogGroupName')}:*`,
      'AWS::MediaConvert::JobTemplate': () => `arn:aws:mediaconvert:${region}:${account}:jobTemplates/${ref()}`,
      'AWS::SQS::Queue': () => `arn:aws:sqs:${region}:${account}:${named('QueueName')}`,
    };
    const arn = arns[resource.Type];
    if ((attribute === 'Arn' || (attribute === 'TopicArn' && resource.Type === 'AWS::SNS::Topic')) && arn) {
      return arn();
    }
    // Nothing a recorded call names: stable, and unlike any real ARN it could be mistaken for.
    return `arn:aws:unresolved:${region}:${account}:${stack.stackName}/${logicalId}/${attribute}`;
  }

  private resource(stack: DeployedStack, logicalId: string): CfnResource {
    const resource = stack.template.Resources[logicalId];
    if (!resource) {
      throw new Error(`${stack.stackName} has no resource ${logicalId}`);
    }
    return resource;
  }

  private intrinsic(stack: DeployedStack, name: string, argument: unknown): unknown {
    const resolve = (value: unknown) => this.resolve(stack, value);
    switch (name) {
      case 'Ref':
        return this.pseudoParameter(stack, argument as string) ?? this.ref(stack, argument as string);
      case 'Fn::GetAtt': {
        const [logicalId, attribute] = typeof argument === 'string' ? argument.split(/\.(.+)/) : (argument as [string, string]);
        return this.attribute(stack, logicalId, attribute);
      }
      case 'Fn::Join': {
        const [separator, parts] = argument as [string, unknown];
        return (resolve(parts) as unknown[]).join(separator);
      }
      case 'Fn::Select': {
        const [index, list] = argument as [unknown, unknown];
        return (resolve(list) as unknown[])[Number(resolve(index))];
      }
      case 'Fn::Split': {
        const [separator, text] = argument as [string, unknown];
        return (resolve(text) as string).split(separator);
      }
      case 'Fn::Sub':
        return this.substitute(stack, argument);
      case 'Fn::Base64':
        return Buffer.from(resolve(argument) as string).toString('base64');
      case 'Fn::GetAZs':
        return ['a', 'b', 'c'].map((zone) => `${(resolve(argument) as string) || stack.region}${zone}`);
      case 'Fn::FindInMap': {
        const [map, first, second] = (resolve(argument) as string[]);
        return stack.template.Mappings?.[map]?.[first]?.[second];
      }
      case 'Fn::ImportValue':
        return this.importValue(resolve(argument) as string);
      case 'Fn::GetStackOutput': {
        const { StackName, Region, OutputName } = resolve(argument) as Record<string, string>;
        return this.output(this.stack(StackName, Region), OutputName);
      }
      default:
        throw new Error(`${stack.stackName} uses ${name}, which test/support/iam/template-resolver.ts cannot resolve yet: teach it, so policies using it can be checked`);
    }
  }

  private pseudoParameter(stack: DeployedStack, name: string): unknown {
    const values: Record<string, unknown> = {
      'AWS::Region': stack.region,
      'AWS::AccountId': stack.account,
      'AWS::Partition': 'aws',
      'AWS::URLSuffix': 'amazonaws.com',
      'AWS::StackName': stack.stackName,
      'AWS::StackId': `arn:aws:cloudformation:${stack.region}:${stack.account}:stack/${stack.stackName}/${digest(stack, 'stack')}`,
      'AWS::NoValue': NO_VALUE,
    };
    return values[name];
  }

  private substitute(stack: DeployedStack, argument: unknown): string {
    const [text, variables] = typeof argument === 'string' ? [argument, {}] : (argument as [string, Record<string, unknown>]);
    return text.replace(/\$\{([^!}][^}]*)\}/g, (_, reference: string) => {
      if (reference in variables) {
        return String(this.resolve(stack, variables[reference]));
      }
      const [logicalId, attribute] = reference.split(/\.(.+)/);
      return String(attribute ? this.attribute(stack, logicalId, attribute) : this.intrinsic(stack, 'Ref', logicalId));
    });
  }

  private output(stack: DeployedStack, outputName: string): unknown {
    const output = stack.template.Outputs?.[outputName];
    if (!output) {
      throw new Error(`${stack.stackName} has no output ${outputName}`);
    }
    return this.resolve(stack, output.Value);
  }

  private importValue(exportName: string): unknown {
    if (!this.exports) {
      this.exports = new Map();
      for (const stack of this.stacks) {
        for (const output of Object.values(stack.template.Outputs ?? {})) {
          if (output.Export) {
            this.exports.set(this.resolveString(stack, output.Export.Name), { stack, value: output.Value });
          }
        }
      }
    }
    const exported = this.exports.get(exportName);
    if (!exported) {
      throw new Error(`no stack exports ${exportName}`);
    }
    return this.resolve(exported.stack, exported.value);
  }
}

/** `AWS::NoValue`: dropped from the list or object that holds it. */
const NO_VALUE = Symbol('AWS::NoValue');

function digest(stack: DeployedStack, logicalId: string): string {
  return createHash('sha256').update(`${stack.region}/${stack.stackName}/${logicalId}`).digest('hex');
}
