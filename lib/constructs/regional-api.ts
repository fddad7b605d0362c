import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { CfnStage, CorsHttpMethod, HttpApi, HttpMethod, HttpRoute, HttpStage, IHttpRouteAuthorizer, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { Grant, IGrantable } from 'aws-cdk-lib/aws-iam';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import {
  Alarm,
  ComparisonOperator,
  IMetric,
  MathExpression,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { ITopic } from 'aws-cdk-lib/aws-sns';
import { API_CORS } from '../../lambda/shared/api-routes';
import { Construct } from 'constructs';
import { ApiAlarmSettings, ApiThrottleSettings } from '../config/environment';
import { EncryptedLogGroup } from './encrypted-log-group';
import { NearstreamFunction } from './nearstream-function';

export interface RegionalApiProps {
  /** The API's name in the console, unique per environment and region. */
  readonly apiName: string;
  readonly throttle: ApiThrottleSettings;
  readonly alarms: ApiAlarmSettings;
  /** Web origins whose players may call the API from a browser; `*` for any. */
  readonly corsAllowedOrigins: readonly string[];
  /** Where the API's alarms send their state changes. */
  readonly alarmTopic: ITopic;
  /** Retention of the access log group, in days. */
  readonly logRetentionDays: number;
  /** What happens to the access logs when the stack goes away; follows the environment kind. */
  readonly logRemovalPolicy: RemovalPolicy;
  /** The region's customer managed key for log groups. */
  readonly logEncryptionKey: IKey;
}

/**
 * One region's HTTP API: a single auto-deployed `$default` stage with throttling and JSON access
 * logs, and alarms on its 5xx rate and p99 latency. Routes are added with `addLambdaRoute`.
 */
export class RegionalApi extends Construct {
  readonly httpApi: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogs: EncryptedLogGroup;
  readonly serverErrorRateAlarm: Alarm;
  readonly p99LatencyAlarm: Alarm;
  private readonly integrations = new Map<NearstreamFunction, HttpLambdaIntegration>();
  private readonly routes = new Map<string, HttpRoute>();
  private readonly routeThrottles: Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }> = {};

  constructor(scope: Construct, id: string, props: RegionalApiProps) {
    super(scope, id);

    this.httpApi = new HttpApi(this, 'HttpApi', {
      apiName: props.apiName,
      createDefaultStage: false,
      // Browser players send a preflight before every JSON POST and before any request carrying
      // the Authorization header; API Gateway answers it before the authorizer runs. Viewers
      // authenticate with bearer tokens, not cookies, so credentials stay off.
      corsPreflight: {
        allowOrigins: [...props.corsAllowedOrigins],
        allowMethods: API_CORS.allowMethods.map((method) => CorsHttpMethod[method]),
        allowHeaders: [...API_CORS.allowHeaders],
        maxAge: Duration.seconds(API_CORS.maxAgeSeconds),
      },
    });
    this.accessLogs = new EncryptedLogGroup(this, 'AccessLogs', {
      retentionDays: props.logRetentionDays,
      encryptionKey: props.logEncryptionKey,
      removalPolicy: props.logRemovalPolicy,
    });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      // Per-route requests, errors and latency on the region's dashboard.
      detailedMetricsEnabled: true,
      throttle: { rateLimit: props.throttle.ratePerSecond, burstLimit: props.throttle.burst },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });

    this.serverErrorRateAlarm = new Alarm(this, 'ServerErrorRateAlarm', {
      alarmDescription: `${props.apiName}: more than ${props.alarms.serverErrorRatePercent}% of requests answered 5xx in 2 of 3 five-minute periods. Runbook: the region's dashboard shows which route; that function's errors and logs say why. If the region is failing, its /health fails too and Route 53 moves players to the other region.`,
      metric: this.metricServerErrorRatePercent(),
      threshold: props.alarms.serverErrorRatePercent,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.p99LatencyAlarm = new Alarm(this, 'P99LatencyAlarm', {
      alarmDescription: `${props.apiName}: p99 latency above ${props.alarms.p99LatencyMs} ms in 2 of 3 five-minute periods. Runbook: the region's dashboard shows which route; compare its integration latency (the function) with the API's, and the control table's latency and throttles.`,
      metric: this.httpApi.metricLatency({ statistic: 'p99', period: Duration.minutes(5) }),
      threshold: props.alarms.p99LatencyMs,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    for (const alarm of [this.serverErrorRateAlarm, this.p99LatencyAlarm]) {
      alarm.addAlarmAction(new SnsAction(props.alarmTopic));
      alarm.addOkAction(new SnsAction(props.alarmTopic));
    }
  }

  /** Share of requests answered with a 5xx, in percent, over 5-minute periods. */
  metricServerErrorRatePercent(): IMetric {
    return new MathExpression({
      expression: '100 * errors / MAX([requests, 1])',
      usingMetrics: {
        errors: this.httpApi.metricServerError({ statistic: 'Sum', period: Duration.minutes(5) }),
        requests: this.httpApi.metricCount({ statistic: 'Sum', period: Duration.minutes(5) }),
      },
      label: '5xx rate (%)',
      period: Duration.minutes(5),
    });
  }

  /**
   * Routes `method path` to a Nearstream function through a Lambda proxy integration, behind
   * `authorizer` (none: a public route, which the caller must justify to cdk-nag and cfn-guard on
   * the returned route). Routes to the same function share one integration.
   */
  addLambdaRoute(method: HttpMethod, path: string, fn: NearstreamFunction, authorizer?: IHttpRouteAuthorizer): HttpRoute {
    let integration = this.integrations.get(fn);
    if (!integration) {
      integration = new HttpLambdaIntegration(`${fn.node.id}Integration`, fn.handler);
      this.integrations.set(fn, integration);
    }
    const [route] = this.httpApi.addRoutes({ path, methods: [method], integration, authorizer });
    this.routes.set(`${method} ${path}`, route);
    Validations.of(route).acknowledge({
      id: 'cdk-validator-cfnguard::lambda_function_public_access_prohibited_check',
      reason: 'The invoke permission is scoped by SourceArn to this API\'s route; the rule cannot evaluate the Fn::Join that builds that ARN.',
    });
    return route;
  }

  /**
   * Throttles one route below the stage default, so it cannot take capacity from the others. The
   * stage then depends on the route: API Gateway refuses settings for a route that does not exist
   * yet, and CloudFormation would otherwise create the stage first.
   */
  throttleRoute(method: HttpMethod, path: string, ratePerSecond: number, burst: number): void {
    const routeKey = `${method} ${path}`;
    const route = this.routes.get(routeKey);
    if (!route) {
      throw new Error(`cannot throttle ${routeKey}: the API has no such route (add it with addLambdaRoute first)`);
    }
    this.routeThrottles[routeKey] = { ThrottlingRateLimit: ratePerSecond, ThrottlingBurstLimit: burst };
    const stage = this.stage.node.defaultChild as CfnStage;
    stage.routeSettings = this.routeThrottles;
    stage.node.addDependency(route);
  }

  /** Lets `grantee` call `method path` with SigV4, for routes behind the IAM authorizer. */
  grantInvoke(grantee: IGrantable, method: HttpMethod, path: string): Grant {
    return Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: [this.httpApi.arnForExecuteApi(method, path, this.stage.stageName)],
    });
  }
}

/** One JSON object per request; HTTP APIs fill in the `$context` variables. */
const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTimeEpoch',
  ip: '$context.identity.sourceIp',
  method: '$context.httpMethod',
  routeKey: '$context.routeKey',
  path: '$context.path',
  protocol: '$context.protocol',
  status: '$context.status',
  responseLength: '$context.responseLength',
  latencyMs: '$context.responseLatency',
  integrationLatencyMs: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  userAgent: '$context.identity.userAgent',
};
