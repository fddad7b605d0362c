import * as path from 'node:path';
import { Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import { HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import { MathExpression, Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { HttpIamAuthorizer, HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { CONTENT_KEY_PURPOSE, contentKeyItemKeys } from '../../lambda/keys/content-key-store';
import type { LicenseServices } from '../../lambda/license/license-service';
import { Construct } from 'constructs';
import { API_ROUTES, ApiFunction, FLEET_ROUTES } from '../../lambda/shared/api-routes';
import { PLAY_METRICS, TELEMETRY_METRICS } from '../../lambda/shared/metric-names';
import { CONTROL_TABLE_SCHEMA, FLEET_SHARD_PREFIX, itemKeys } from '../../lambda/shared/control-table';
import { ApiThrottleSettings, PlaybackSettings, ViewerAuthSettings } from '../config/environment';
import { MetricOptions, metricId, NearstreamFunction, NearstreamFunctionProps } from './nearstream-function';
import { RegionalApi } from './regional-api';

const LAMBDA_ROOT = path.join(__dirname, '..', '..', 'lambda');

export interface PlaybackApiProps {
  /** The region's API the routes are added to. */
  readonly api: RegionalApi;
  /** This region's replica of the control table. */
  readonly controlTable: ITableV2;
  readonly urlSigningSecret: ISecret;
  readonly originSigningSecret: ISecret;
  /** Who signs viewers' JWTs. */
  readonly viewerAuth: ViewerAuthSettings;
  /** The origin tier's CloudFront domain; the key pair id comes with the key from `originSigningSecret`. */
  readonly origin: { readonly domainName: string };
  readonly playback: PlaybackSettings;
  /** `/home` gets its own, lower throttle, so it cannot take capacity from `/play`. */
  readonly homeThrottle: ApiThrottleSettings;
  /**
   * The alias of this region's content-key KMS key (`alias/<prefix>/content-keys`): licenses open
   * content keys with it, and only with it.
   */
  readonly contentKeyAlias: string;
  /** Commercial license services licenses are handed to, with their credentials' secrets. @default - none: ClearKey only */
  readonly licenseServices?: LicenseServices;
  /** Log settings every function shares. */
  readonly functionDefaults: Pick<NearstreamFunctionProps, 'logRetentionDays' | 'logRemovalPolicy' | 'logEncryptionKey'>;
}

/**
 * The playback control plane of one region: viewer routes behind the JWT authorizer (catalog,
 * play, telemetry, home) and appliance routes behind IAM (the fleet registry), each a thin
 * function granted exactly the table actions and secrets it uses.
 */
export class PlaybackApi extends Construct {
  readonly functions: Readonly<Record<'catalog' | 'play' | 'telemetry' | 'home' | 'fleet' | 'license', NearstreamFunction>>;
  private readonly api: RegionalApi;

  constructor(scope: Construct, id: string, props: PlaybackApiProps) {
    super(scope, id);
    this.api = props.api;
    const { controlTable, functionDefaults } = props;
    const lambda = (area: string) => path.join(LAMBDA_ROOT, area, 'handler.ts');
    const table = (fn: NearstreamFunction, actions: string[], indexes: string[] = []) =>
      fn.bindTable(controlTable, { envVar: 'CONTROL_TABLE_NAME', actions: actions.map((action) => `dynamodb:${action}`), indexes });
    const gsi1 = [CONTROL_TABLE_SCHEMA.index.name];

    const licenseServices = props.licenseServices ?? {};
    const licenseServicesEnv: Record<string, string> = Object.keys(licenseServices).length > 0 ? { LICENSE_SERVICES: JSON.stringify(licenseServices) } : {};
    const playback = {
      SESSION_TTL_SECONDS: String(props.playback.sessionTtlSeconds),
      STREAM_LEASE_SECONDS: String(props.playback.streamLeaseSeconds),
      FLEET_CACHE_SECONDS: String(props.playback.fleetCacheSeconds),
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
          ORIGIN_DOMAIN_NAME: props.origin.domainName,
          ...licenseServicesEnv,
        },
      }),
      ['GetItem', 'Query', 'PutItem', 'DeleteItem'],
    )
      .bindSecret(props.urlSigningSecret, 'URL_SIGNING_SECRET_NAME')
      .bindSecret(props.originSigningSecret, 'ORIGIN_SIGNING_SECRET_NAME');
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
    // The registry's items only: registration and holdings, health shards, principals' counts, and the manifest pointers it reads.
    const fleet = new NearstreamFunction(this, 'FleetFunction', {
      ...functionDefaults,
      entry: lambda('fleet'),
      description: 'POST /fleet/register, /fleet/report, GET /fleet/manifest: the appliance registry',
      serviceName: 'fleet',
    }).bindTable(controlTable, {
      envVar: 'CONTROL_TABLE_NAME',
      actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:PutItem'],
      leadingKeys: [`${itemKeys.applianceRegistration('').pk}*`, `${FLEET_SHARD_PREFIX}*`, `${itemKeys.clusterManifest('').pk}*`, `${itemKeys.principalAppliances('').pk}*`],
    });
    const { region, account } = Stack.of(this);
    // Sessions and their stream slots, the title, and the title's content keys: read only.
    const license = new NearstreamFunction(this, 'LicenseFunction', {
      ...functionDefaults,
      entry: lambda('license'),
      description: 'POST /license/{system}: the keys of one play session, within its plan, while its lease holds',
      serviceName: 'license',
      environment: { CONTENT_KEY_KMS_KEY_ID: `arn:aws:kms:${region}:${account}:${props.contentKeyAlias}`, ...licenseServicesEnv },
    }).bindTable(controlTable, {
      envVar: 'CONTROL_TABLE_NAME',
      actions: ['dynamodb:GetItem', 'dynamodb:Query'],
      leadingKeys: [`${itemKeys.session('').pk}*`, `${itemKeys.plan('').pk}*`, `${itemKeys.title('').pk}*`, `${contentKeyItemKeys.contentKey('', '').pk.replace(/#.*$/, '#')}*`],
    });
    license.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [`arn:aws:kms:${region}:${account}:key/*`],
        conditions: {
          'ForAnyValue:StringEquals': { 'kms:ResourceAliases': props.contentKeyAlias },
          StringEquals: { 'kms:EncryptionContext:purpose': CONTENT_KEY_PURPOSE },
        },
      }),
    );
    Validations.of(license.role).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::arn:aws:kms:${region}:${Token.isUnresolved(account) ? '<AWS::AccountId>' : account}:key/*]`,
      reason: `Held by condition to the key aliased ${props.contentKeyAlias} (its id is made at deploy, in a stateful stack) and to content-key encryption contexts.`,
    });
    for (const [system, service] of Object.entries(licenseServices)) {
      Secret.fromSecretCompleteArn(this, `LicenseService-${system}`, service.secretArn).grantRead(license.role);
    }
    this.functions = { catalog, play, telemetry, home, fleet, license };

    const authorizers = {
      viewer: new HttpJwtAuthorizer('ViewerJwt', props.viewerAuth.issuerUrl, { jwtAudience: [...props.viewerAuth.audiences] }),
      appliance: new HttpIamAuthorizer(),
    };
    const routed: Partial<Record<ApiFunction, NearstreamFunction>> = this.functions;
    for (const route of API_ROUTES) {
      const fn = routed[route.fn];
      if (fn && route.auth !== 'public') {
        this.api.addLambdaRoute(HttpMethod[route.method], route.path, fn, authorizers[route.auth]);
      }
    }
    this.api.throttleRoute(HttpMethod.GET, '/home', props.homeThrottle.ratePerSecond, props.homeThrottle.burst);
  }

  /** Lets an appliance role (EC2 instance profile or IAM Roles Anywhere) call the fleet routes. */
  grantApplianceAccess(grantee: IGrantable): void {
    for (const route of FLEET_ROUTES) {
      this.api.grantInvoke(grantee, HttpMethod[route.method], route.path);
    }
  }

  /**
   * Stream starts in this region, summed per minute by default: SPS x 60, the platform's steady
   * state, which the SPS alarm and the chaos experiments' stop conditions watch.
   */
  metricStreamStarts(options: MetricOptions = {}): Metric {
    return this.telemetryMetric(TELEMETRY_METRICS.streamStarts, { label: 'Stream starts', ...options });
  }

  /** Plays that failed fatally, as players report them. */
  metricPlayFailures(options: MetricOptions = {}): Metric {
    return this.telemetryMetric(TELEMETRY_METRICS.playFailures, { label: 'Play failures', ...options });
  }

  /** Rebuffering events players report. */
  metricRebuffers(options: MetricOptions = {}): Metric {
    return this.telemetryMetric(TELEMETRY_METRICS.rebuffers, { label: 'Rebuffers', ...options });
  }

  /**
   * Failed plays over plays started or failed, in percent; 0 while fewer than `minimumPlays`
   * happen in a period (a rate over a handful of plays says nothing).
   */
  metricPlayFailureRatePercent(minimumPlays: number, options: MetricOptions = {}): MathExpression {
    const period = options.period ?? Duration.minutes(5);
    // Ids unique per region: a dashboard may graph both regions' rates together.
    const [starts, failures] = ['starts', 'failures'].map((name) => metricId(name, options.region ?? Stack.of(this).region));
    return new MathExpression({
      expression: `IF(${starts} + ${failures} >= ${minimumPlays}, 100 * ${failures} / (${starts} + ${failures}), 0)`,
      usingMetrics: {
        [starts]: this.metricStreamStarts({ ...options, period }),
        [failures]: this.metricPlayFailures({ ...options, period }),
      },
      label: 'Play failure rate (%)',
      period,
    });
  }

  /** Plays `POST /play` authorized. */
  metricPlaysAuthorized(options: MetricOptions = {}): Metric {
    return this.functions.play.publishedMetric(PLAY_METRICS.playsAuthorized, { label: 'Plays authorized', ...options });
  }

  /** Plays `POST /play` refused (unknown title, no plan, stream limit...). */
  metricPlaysRefused(options: MetricOptions = {}): Metric {
    return this.functions.play.publishedMetric(PLAY_METRICS.playsRefused, { label: 'Plays refused', ...options });
  }

  /** Plays steered from a stale or missing fleet snapshot. */
  metricSteeringDegraded(options: MetricOptions = {}): Metric {
    return this.functions.play.publishedMetric(PLAY_METRICS.steeringDegraded, { label: 'Plays steered degraded', ...options });
  }

  private telemetryMetric(name: string, options: MetricOptions): Metric {
    return this.functions.telemetry.publishedMetric(name, { ...options, dimensions: { region: options.region ?? Stack.of(this).region } });
  }
}
