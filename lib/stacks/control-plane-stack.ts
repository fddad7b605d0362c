import * as path from 'node:path';
import { CfnOutput, RemovalPolicy, Stack, StackProps, Validations } from 'aws-cdk-lib';
import { HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Alias } from 'aws-cdk-lib/aws-kms';
import { HostedZone } from 'aws-cdk-lib/aws-route53';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { EnvironmentConfig } from '../config/environment';
import { EnvironmentNaming } from '../config/naming';
import { LogEncryptionKey } from '../constructs/log-encryption-key';
import { LatencyRoutedApiDomain } from '../constructs/latency-routed-api-domain';
import { NearstreamFunction } from '../constructs/nearstream-function';
import { RegionalApi } from '../constructs/regional-api';
import { CONTROL_TABLE_SCHEMA } from '../../lambda/shared/control-table';
import { SharedDataOutputs } from './data-stack';

export interface ControlPlaneStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  /** The region this stack serves; must equal `env.region`. */
  readonly region: string;
  /** Viewer token issuer and origin tier, from the data stack. */
  readonly shared: SharedDataOutputs;
}

/** The appliance-facing routes, all behind IAM (SigV4) authorization. */
export const FLEET_ROUTES: readonly [HttpMethod, string][] = [
  [HttpMethod.POST, '/fleet/register'],
  [HttpMethod.POST, '/fleet/report'],
  [HttpMethod.GET, '/fleet/manifest'],
];

const LAMBDA_ROOT = path.join(__dirname, '..', '..', 'lambda');

/**
 * One region's control plane. It finds the data stack's replicated table and secret by their
 * derived names in its own region, so both regions are built the same way and neither depends on
 * the other at run time.
 */
export class ControlPlaneStack extends Stack {
  readonly api: RegionalApi;
  readonly healthFunction: NearstreamFunction;
  readonly functions: Readonly<Record<'catalog' | 'play' | 'telemetry' | 'home' | 'fleet', NearstreamFunction>>;
  readonly routing?: LatencyRoutedApiDomain;

  constructor(scope: Construct, id: string, props: ControlPlaneStackProps) {
    super(scope, id, props);
    const { config, region } = props;
    const naming = new EnvironmentNaming(config);
    const logRemovalPolicy = config.kind === 'ephemeral' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    const controlTable = TableV2.fromTableName(this, 'ControlTable', naming.controlTableName);

    const logKey = new LogEncryptionKey(this, 'LogKey', {
      aliasName: `alias/${naming.prefix}/logs`,
      removalPolicy: logRemovalPolicy,
    }).key;
    const alarmTopic = new Topic(this, 'AlarmTopic', {
      displayName: `${naming.prefix} control plane alarms (${region})`,
      enforceSSL: true,
      masterKey: Alias.fromAliasName(this, 'SnsManagedKey', 'alias/aws/sns'),
    });

    this.api = new RegionalApi(this, 'Api', {
      apiName: `${naming.prefix}-${region}`,
      throttle: config.apiThrottle,
      alarms: config.apiAlarms,
      alarmTopic,
      logRetentionDays: config.logRetentionDays,
      logRemovalPolicy,
      logEncryptionKey: logKey,
    });

    const functionDefaults = { logRetentionDays: config.logRetentionDays, logRemovalPolicy, logEncryptionKey: logKey };
    const lambda = (area: string) => path.join(LAMBDA_ROOT, area, 'handler.ts');
    const table = (fn: NearstreamFunction, actions: string[], indexes: string[] = []) =>
      fn.bindTable(controlTable, { envVar: 'CONTROL_TABLE_NAME', actions: actions.map((action) => `dynamodb:${action}`), indexes });
    const gsi1 = [CONTROL_TABLE_SCHEMA.index.name];

    this.healthFunction = table(
      new NearstreamFunction(this, 'HealthFunction', {
        ...functionDefaults,
        entry: lambda('health'),
        description: 'GET /health: heartbeat round trip to this region\'s control table replica',
        serviceName: 'health',
        environment: { HEALTH_TABLE_BUDGET_MS: String(config.healthProbe.tableBudgetMs) },
      }),
      ['PutItem', 'GetItem'],
    );
    const publicHealthReason =
      'GET /health is public on purpose: Route 53 health checkers cannot sign requests, and it reveals only up/down and the region.';
    Validations.of(this.api.addLambdaRoute(HttpMethod.GET, '/health', this.healthFunction)).acknowledge(
      { id: 'AwsSolutions::AwsSolutions-APIG4', reason: publicHealthReason },
      { id: 'cdk-validator-cfnguard::api_gw_v2_authorization_type_configured_check', reason: publicHealthReason },
    );

    const playback = {
      SESSION_TTL_SECONDS: String(config.playback.sessionTtlSeconds),
      STREAM_LEASE_SECONDS: String(config.playback.streamLeaseSeconds),
      FLEET_CACHE_SECONDS: String(config.playback.fleetCacheSeconds),
    };
    const catalog = table(
      new NearstreamFunction(this, 'CatalogFunction', {
        ...functionDefaults,
        entry: lambda('catalog'),
        description: 'GET /titles and /titles/{titleId}: the playable catalog',
        serviceName: 'catalog',
      }),
      ['GetItem', 'Query'],
      gsi1,
    );
    const play = table(
      new NearstreamFunction(this, 'PlayFunction', {
        ...functionDefaults,
        entry: lambda('playback'),
        description: 'POST /play: entitlements, stream slots, steering and signed sources',
        serviceName: 'play',
        memorySizeMb: 1024,
        environment: {
          ...playback,
          ORIGIN_DOMAIN_NAME: props.shared.origin.domainName,
          ORIGIN_KEY_PAIR_ID: props.shared.origin.keyPairId,
        },
      }),
      ['GetItem', 'Query', 'PutItem', 'DeleteItem'],
      gsi1,
    )
      .bindSecret(Secret.fromSecretNameV2(this, 'UrlSigningSecret', naming.urlSigningSecretName), 'URL_SIGNING_SECRET_NAME')
      .bindSecret(Secret.fromSecretNameV2(this, 'OriginSigningSecret', naming.originSigningSecretName), 'ORIGIN_SIGNING_SECRET_NAME');
    const telemetry = table(
      new NearstreamFunction(this, 'TelemetryFunction', {
        ...functionDefaults,
        entry: lambda('telemetry'),
        description: 'POST /events: SPS and failure metrics, demand counters, stream leases',
        serviceName: 'telemetry',
        environment: playback,
      }),
      ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'],
    );
    const home = table(
      new NearstreamFunction(this, 'HomeFunction', {
        ...functionDefaults,
        entry: lambda('home'),
        description: 'GET /home: continue watching and the region\'s top titles, apart from the play path',
        serviceName: 'home',
      }),
      ['GetItem', 'Query'],
    );
    const fleet = table(
      new NearstreamFunction(this, 'FleetFunction', {
        ...functionDefaults,
        entry: lambda('fleet'),
        description: 'POST /fleet/register, /fleet/report, GET /fleet/manifest: the appliance registry',
        serviceName: 'fleet',
      }),
      ['GetItem', 'UpdateItem'],
    );
    this.functions = { catalog, play, telemetry, home, fleet };

    const viewers = new HttpJwtAuthorizer('ViewerJwt', props.shared.viewerAuth.issuerUrl, {
      jwtAudience: [...props.shared.viewerAuth.audiences],
    });
    this.api.addLambdaRoute(HttpMethod.GET, '/titles', catalog, viewers);
    this.api.addLambdaRoute(HttpMethod.GET, '/titles/{titleId}', catalog, viewers);
    this.api.addLambdaRoute(HttpMethod.POST, '/play', play, viewers);
    this.api.addLambdaRoute(HttpMethod.POST, '/events', telemetry, viewers);
    this.api.addLambdaRoute(HttpMethod.GET, '/home', home, viewers);
    this.api.throttleRoute(
      HttpMethod.GET,
      '/home',
      Math.max(1, Math.floor(config.apiThrottle.ratePerSecond / 4)),
      Math.max(1, Math.floor(config.apiThrottle.burst / 4)),
    );
    const appliances = new HttpIamAuthorizer();
    for (const [method, route] of FLEET_ROUTES) {
      this.api.addLambdaRoute(method, route, fleet, appliances);
    }

    new CfnOutput(this, 'ApiUrl', { value: this.api.stage.url, description: `execute-api URL of ${region}` });
    new CfnOutput(this, 'AlarmTopicArn', { value: alarmTopic.topicArn, description: 'Subscribe to receive alarm state changes' });

    const sharedHostname = naming.sharedApiHostname;
    const regionalHostname = naming.regionalApiHostname(region);
    if (config.domain && sharedHostname && regionalHostname) {
      this.routing = new LatencyRoutedApiDomain(this, 'Routing', {
        httpApi: this.api.httpApi,
        stage: this.api.stage,
        zone: HostedZone.fromHostedZoneAttributes(this, 'Zone', {
          hostedZoneId: config.domain.hostedZoneId,
          zoneName: config.domain.name,
        }),
        sharedHostname,
        regionalHostname,
        region,
        removalPolicy: logRemovalPolicy,
      });
      new CfnOutput(this, 'RegionalApiUrl', { value: `https://${regionalHostname}/` });
      new CfnOutput(this, 'SharedApiUrl', { value: `https://${sharedHostname}/` });
    }
  }

  /** Lets an appliance role (EC2 instance profile or IAM Roles Anywhere) call the fleet routes. */
  grantApplianceAccess(grantee: IGrantable): void {
    for (const [method, route] of FLEET_ROUTES) {
      this.api.grantInvoke(grantee, method, route);
    }
  }
}
