import * as path from 'node:path';
import { Aws, CfnOutput, Stack, StackProps, Validations } from 'aws-cdk-lib';
import { HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { HostedZone } from 'aws-cdk-lib/aws-route53';
import { Construct } from 'constructs';
import { API_ROUTES } from '../../lambda/shared/api-routes';
import { EnvironmentConfig } from '../config/environment';
import { EnvironmentNaming } from '../config/naming';
import { retentionOf } from '../config/retention';
import { FillPlanning } from '../constructs/fill-planning';
import { LogEncryptionKey } from '../constructs/log-encryption-key';
import { importMediaBucket } from '../constructs/media-bucket-ref';
import { LatencyRoutedApiDomain } from '../constructs/latency-routed-api-domain';
import { NearstreamFunction } from '../constructs/nearstream-function';
import { PlaybackApi } from '../constructs/playback-api';
import { ChaosExperiments } from '../constructs/chaos-experiments';
import { EncodingWorkflow } from '../constructs/encoding-workflow';
import { RegionMonitoring } from '../constructs/region-monitoring';
import { GlobalSteadyState } from '../constructs/global-steady-state';
import { FAULT_TARGETS } from '../chaos/catalog';
import { RegionalApi } from '../constructs/regional-api';
import { SteeringSnapshots } from '../constructs/steering-snapshots';
import { SharedDataOutputs } from './data-stack';
import { NotificationTopic } from '../constructs/notification-topic';

export interface ControlPlaneStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  /** The region this stack serves; must equal `env.region`. */
  readonly region: string;
  /** Viewer token issuer and origin tier, from the data stack. */
  readonly shared: SharedDataOutputs;
  /** The key of this region's origin bucket (the primary, or its replica), for the fill planner. */
  readonly originKey: IKey;
  /** The other active region: the control table replicates to it. */
  readonly otherRegion: string;
  /** The encoding workflow, when it runs in this region: its dead letters alarm here. */
  readonly encoding?: EncodingWorkflow;
}

const LAMBDA_ROOT = path.join(__dirname, '..', '..', 'lambda');

/**
 * One region's control plane. It finds the data stack's replicated table and secret by their
 * derived names in its own region, so both regions are built the same way and neither depends on
 * the other at run time.
 */
export class ControlPlaneStack extends Stack {
  readonly api: RegionalApi;
  readonly healthFunction: NearstreamFunction;
  readonly playback: PlaybackApi;
  readonly fillPlanning: FillPlanning;
  readonly steering: SteeringSnapshots;
  readonly routing?: LatencyRoutedApiDomain;
  readonly monitoring: RegionMonitoring;
  /** With chaos `leashed` or `on`: this region's FIS experiment templates. */
  readonly chaos?: ChaosExperiments;
  /** This region's API: its custom hostname when the environment has a domain, else execute-api. */
  readonly regionalApiUrl: string;

  constructor(scope: Construct, id: string, props: ControlPlaneStackProps) {
    super(scope, id, props);
    const { config, region } = props;
    const naming = new EnvironmentNaming(config);
    const logRemovalPolicy = retentionOf(config).removalPolicy;
    const controlTable = TableV2.fromTableName(this, 'ControlTable', naming.controlTableName);

    const logKey = new LogEncryptionKey(this, 'LogKey', {
      aliasName: `alias/${naming.prefix}/logs`,
      removalPolicy: logRemovalPolicy,
    }).key;
    const alarmTopic = new NotificationTopic(this, 'AlarmTopic', {
      displayName: `${naming.prefix} control plane alarms (${region})`,
      publishers: ['cloudwatch-alarms'],
      removalPolicy: logRemovalPolicy,
    }).topic;

    this.api = new RegionalApi(this, 'Api', {
      apiName: `${naming.prefix}-${region}`,
      throttle: config.apiThrottle,
      alarms: config.apiAlarms,
      corsAllowedOrigins: config.corsAllowedOrigins,
      alarmTopic,
      logRetentionDays: config.logRetentionDays,
      logRemovalPolicy,
      logEncryptionKey: logKey,
    });

    const functionDefaults = { logRetentionDays: config.logRetentionDays, logRemovalPolicy, logEncryptionKey: logKey };

    this.healthFunction = new NearstreamFunction(this, 'HealthFunction', {
      ...functionDefaults,
      entry: path.join(LAMBDA_ROOT, 'health', 'handler.ts'),
      description: 'GET /health: heartbeat round trip to this region\'s control table replica',
      serviceName: 'health',
      environment: { HEALTH_TABLE_BUDGET_MS: String(config.healthProbe.tableBudgetMs) },
    }).bindTable(controlTable, { envVar: 'CONTROL_TABLE_NAME', actions: ['dynamodb:PutItem', 'dynamodb:GetItem'] });
    const healthRoute = API_ROUTES.find((route) => route.fn === 'health')!;
    const publicHealthReason =
      'GET /health is public on purpose: Route 53 health checkers cannot sign requests, and it reveals only up/down and the region.';
    Validations.of(this.api.addLambdaRoute(HttpMethod[healthRoute.method], healthRoute.path, this.healthFunction)).acknowledge(
      { id: 'AwsSolutions::AwsSolutions-APIG4', reason: publicHealthReason },
      { id: 'cdk-validator-cfnguard::api_gw_v2_authorization_type_configured_check', reason: publicHealthReason },
    );

    this.steering = new SteeringSnapshots(this, 'Steering', {
      controlTable,
      bucketName: naming.mediaBucketName(Aws.ACCOUNT_ID, region, 'steer'),
      removalPolicy: logRemovalPolicy,
      functionDefaults,
    });
    this.playback = new PlaybackApi(this, 'Playback', {
      api: this.api,
      controlTable,
      urlSigningSecret: Secret.fromSecretNameV2(this, 'UrlSigningSecret', naming.urlSigningSecretName),
      originSigningSecret: Secret.fromSecretNameV2(this, 'OriginSigningSecret', naming.originSigningSecretName),
      viewerAuth: props.shared.viewerAuth,
      origin: props.shared.origin,
      playback: config.playback,
      contentKeyAlias: naming.contentKeyAlias,
      licenseServices: config.contentProtection.licenseServices,
      homeThrottle: {
        ratePerSecond: Math.max(1, Math.floor(config.apiThrottle.ratePerSecond / 4)),
        burst: Math.max(1, Math.floor(config.apiThrottle.burst / 4)),
      },
      functionDefaults,
    });
    this.steering.grantRead(this.playback.functions.play);

    // One hour before the fill windows open (02:00 UTC unless the fleet config says otherwise).
    const fillWindowStartHourUtc = config.applianceFleet?.fillWindow.startHourUtc ?? 2;
    this.fillPlanning = new FillPlanning(this, 'FillPlanning', {
      controlTable,
      origin: importMediaBucket(this, naming, 'origin', props.originKey),
      urlSigningSecret: Secret.fromSecretNameV2(this, 'PlanningSigningSecret', naming.urlSigningSecretName),
      runHourUtc: (fillWindowStartHourUtc + 23) % 24,
      functionDefaults,
    });

    // With chaos, the platform's steady state as one alarm here: the region evacuation stops on it.
    const globalSteadyState =
      config.chaos.mode === 'off'
        ? undefined
        : new GlobalSteadyState(this, 'GlobalSteadyState', {
            name: `${naming.prefix}-${region}`,
            peerRegion: props.otherRegion,
            telemetryService: this.playback.functions.telemetry.serviceName,
            thresholds: config.alarms,
            alarmTopic,
            functionDefaults,
          });

    this.monitoring = new RegionMonitoring(this, 'Monitoring', {
      name: `${naming.prefix}-${region}`,
      otherRegion: props.otherRegion,
      alarmTopic,
      thresholds: config.alarms,
      api: this.api,
      playback: this.playback,
      steering: this.steering,
      fillPlanning: this.fillPlanning,
      functions: [
        this.healthFunction,
        ...Object.values(this.playback.functions),
        this.steering.builder,
        this.fillPlanning.function,
        ...(globalSteadyState ? [globalSteadyState.publisher] : []),
      ],
      controlTableName: naming.controlTableName,
      encoding: props.encoding,
    });

    if (globalSteadyState) {
      this.chaos = new ChaosExperiments(this, 'Chaos', {
        prefix: naming.prefix,
        environmentName: config.name,
        settings: config.chaos,
        stopAlarm: this.monitoring.spsAlarm,
        globalStopAlarm: globalSteadyState.alarm,
        controlTableName: naming.controlTableName,
        dashboardName: this.monitoring.dashboardName,
        functions: FAULT_TARGETS.chaos.map((fn) => this.playback.functions[fn]),
        evacuationOnlyFunctions: FAULT_TARGETS.evacuationOnly.map((fn) => ({ health: this.healthFunction })[fn]),
        ...functionDefaults,
        logEncryptionKey: logKey,
        removalPolicy: logRemovalPolicy,
      });
      this.monitoring.deadLetterAlarm(
        this.chaos.monkeyDeadLetters,
        'ChaosMonkeySchedule',
        'the Chaos Monkey schedule',
        'The scheduler could not start the chaos-monkey experiment (its role denied, the template gone, or FIS refusing it): read the message for FIS\'s error.',
      );
      this.monitoring.deadLetterAlarm(
        globalSteadyState.deadLetters,
        'GlobalStartsSchedule',
        'the global stream-start sum',
        'The scheduler could not run the function that sums both regions\' stream starts: minutes without a sum breach the global steady-state alarm, which pages and stops a running region evacuation. Read the message for the cause.',
      );
    }

    new CfnOutput(this, 'ApiUrl', { value: this.api.stage.url, description: `execute-api URL of ${region}` });
    new CfnOutput(this, 'AlarmTopicArn', { value: alarmTopic.topicArn, description: 'Subscribe to receive alarm state changes' });

    const sharedHostname = naming.sharedApiHostname;
    const regionalHostname = naming.regionalApiHostname(region);
    this.regionalApiUrl = regionalHostname ? `https://${regionalHostname}/` : this.api.stage.url;
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
      new CfnOutput(this, 'RegionalApiUrl', { value: this.regionalApiUrl });
      new CfnOutput(this, 'SharedApiUrl', { value: `https://${sharedHostname}/` });
    }
  }

  /** Lets an appliance role (EC2 instance profile or IAM Roles Anywhere) call the fleet routes. */
  grantApplianceAccess(grantee: IGrantable): void {
    this.playback.grantApplianceAccess(grantee);
  }
}
