import * as path from 'node:path';
import { Stack, Token, Validations } from 'aws-cdk-lib';
import { AccessLogFormat, AuthorizationType, EndpointType, LambdaIntegration, LogGroupLogDestination, MethodLoggingLevel, RestApi } from 'aws-cdk-lib/aws-apigateway';
import { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { AnyPrincipal, Effect, IRole, PolicyDocument, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { RemovalPolicy } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { CONTENT_KEY_PURPOSE, contentKeyItemKeys } from '../../lambda/keys/content-key-store';
import { EncryptedLogGroup } from './encrypted-log-group';
import { NearstreamFunction, NearstreamFunctionProps } from './nearstream-function';

/** The path MediaConvert's jobs call: `POST /speke/v2`. */
export const SPEKE_PATH = ['speke', 'v2'] as const;

export interface KeyProviderApiProps {
  /** `nearstream-<env>`: names. */
  readonly prefix: string;
  /** The control table (a global table): content keys are written here and replicate with it. */
  readonly controlTable: ITableV2;
  /** `alias/<prefix>/content-keys`: this region's key and the other region's, under the same alias. */
  readonly contentKeyAlias: string;
  /** The other region, whose key every data key is also wrapped with so its licenses can open it. */
  readonly replicaRegion: string;
  /** MediaConvert's service role: the only caller the API admits. */
  readonly mediaConvertRole: IRole;
  /**
   * The base URL of the API serving licenses, named in manifests as ClearKey's license URL.
   * @default - none: players get the license URL with their play grant
   */
  readonly licenseBaseUrl?: string;
  readonly functionDefaults: Pick<NearstreamFunctionProps, 'logRetentionDays' | 'logRemovalPolicy' | 'logEncryptionKey'>;
  readonly logEncryptionKey: IKey;
  readonly logRemovalPolicy: RemovalPolicy;
}

/**
 * The SPEKE v2 key provider MediaConvert encrypts protected titles with: a regional REST API with
 * IAM authorization whose resource policy admits MediaConvert's service role only, in front of a
 * function that makes each title's content keys (one per key group), seals them under a data key
 * wrapped by both regions' content-key KMS keys, and stores them in the control table, which
 * replicates them to the other region. Keys are never logged; the API's access log records callers
 * and statuses, not bodies.
 */
export class KeyProviderApi extends Construct {
  readonly api: RestApi;
  readonly function: NearstreamFunction;
  /** What MediaConvert jobs name as `SpekeKeyProvider.Url`. */
  readonly spekeUrl: string;

  constructor(scope: Construct, id: string, props: KeyProviderApiProps) {
    super(scope, id);
    const { region, account } = Stack.of(this);
    const keyArn = (inRegion: string) => `arn:aws:kms:${inRegion}:${account}:${props.contentKeyAlias}`;
    this.function = new NearstreamFunction(this, 'Function', {
      ...props.functionDefaults,
      entry: path.join(__dirname, '..', '..', 'lambda', 'keys', 'handler.ts'),
      description: 'SPEKE v2 key provider: content keys for MediaConvert, sealed under both regions\' KMS keys',
      serviceName: 'key-provider',
      environment: {
        CONTENT_KEY_KMS_KEY_ID: keyArn(region),
        CONTENT_KEY_REPLICAS: `${props.replicaRegion}=${keyArn(props.replicaRegion)}`,
        ...(props.licenseBaseUrl ? { LICENSE_BASE_URL: props.licenseBaseUrl } : {}),
      },
    }).bindTable(props.controlTable, {
      envVar: 'CONTROL_TABLE_NAME',
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'],
      leadingKeys: [`${contentKeyItemKeys.contentKey('', '').pk}*`],
    });
    const onlyContentKeys = { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': props.contentKeyAlias }, StringEquals: { 'kms:EncryptionContext:purpose': CONTENT_KEY_PURPOSE } };
    this.function.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [`arn:aws:kms:${region}:${account}:key/*`], conditions: onlyContentKeys }),
    );
    this.function.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['kms:Encrypt'], resources: [`arn:aws:kms:${props.replicaRegion}:${account}:key/*`], conditions: onlyContentKeys }),
    );
    const nagAccount = Token.isUnresolved(account) ? '<AWS::AccountId>' : account;
    Validations.of(this.function.role).acknowledge(
      ...[region, props.replicaRegion].map((inRegion) => ({
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::arn:aws:kms:${inRegion}:${nagAccount}:key/*]`,
        reason: `Held by condition to the key aliased ${props.contentKeyAlias} in ${inRegion} (made at deploy in a stateful stack) and to content-key encryption contexts.`,
      })),
    );

    const accessLogs = new EncryptedLogGroup(this, 'AccessLogs', {
      retentionDays: props.functionDefaults.logRetentionDays,
      encryptionKey: props.logEncryptionKey,
      removalPolicy: props.logRemovalPolicy,
    });
    const invoke = `arn:aws:execute-api:${region}:${account}:*/*/POST/${SPEKE_PATH.join('/')}`;
    this.api = new RestApi(this, 'Api', {
      restApiName: `${props.prefix}-key-provider`,
      description: 'SPEKE v2 key provider for MediaConvert (IAM authorization; MediaConvert\'s role only)',
      endpointConfiguration: { types: [EndpointType.REGIONAL] },
      cloudWatchRole: false,
      deployOptions: {
        stageName: 'v1',
        tracingEnabled: true,
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields({
          caller: true, httpMethod: true, ip: true, protocol: true, requestTime: true, resourcePath: true, responseLength: true, status: true, user: true,
        }),
      },
      // Only MediaConvert's role may call, and only the SPEKE route; IAM authorization checks its signature.
      policy: new PolicyDocument({
        statements: [
          new PolicyStatement({ principals: [props.mediaConvertRole], actions: ['execute-api:Invoke'], resources: [invoke] }),
          new PolicyStatement({
            effect: Effect.DENY,
            principals: [new AnyPrincipal()],
            actions: ['execute-api:Invoke'],
            resources: ['execute-api:/*'],
            conditions: { ArnNotEquals: { 'aws:PrincipalArn': props.mediaConvertRole.roleArn } },
          }),
        ],
      }),
    });
    const method = this.api.root
      .resourceForPath(SPEKE_PATH.join('/'))
      .addMethod('POST', new LambdaIntegration(this.function.handler, { proxy: true, allowTestInvoke: false }), { authorizationType: AuthorizationType.IAM });
    Validations.of(method).acknowledge({
      id: 'cdk-validator-cfnguard::lambda_function_public_access_prohibited_check',
      reason: 'The invoke permission is scoped by SourceArn to this API\'s SPEKE method; the rule cannot evaluate the Fn::Join that builds that ARN.',
    });
    const onlyMediaConvert = 'The API admits MediaConvert\'s service role only (resource policy and IAM authorization): no viewer or user reaches it';
    Validations.of(this.api).acknowledge(
      { id: 'AwsSolutions::AwsSolutions-APIG2', reason: `${onlyMediaConvert}, and its body is a CPIX XML document, which API Gateway models cannot describe; the function parses it strictly (no DTD, size and element limits) and answers 400 naming what is wrong.` },
      { id: 'AwsSolutions::AwsSolutions-APIG3', reason: `${onlyMediaConvert}: a request without a valid signature of that role is refused before any rule could run.` },
      { id: 'AwsSolutions::AwsSolutions-COG4', reason: `${onlyMediaConvert}; it authorizes by IAM, not by Cognito users.` },
    );
    props.mediaConvertRole.addToPrincipalPolicy(new PolicyStatement({ actions: ['execute-api:Invoke'], resources: [this.api.arnForExecuteApi('POST', `/${SPEKE_PATH.join('/')}`, 'v1')] }));
    this.spekeUrl = this.api.urlForPath(`/${SPEKE_PATH.join('/')}`);
  }
}
