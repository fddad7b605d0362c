import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { ApiMapping, DomainName, IHttpApi, IHttpStage, SecurityPolicy } from 'aws-cdk-lib/aws-apigatewayv2';
import { Certificate, CertificateValidation } from 'aws-cdk-lib/aws-certificatemanager';
import { ARecord, HealthCheck, HealthCheckType, IHostedZone, RecordTarget } from 'aws-cdk-lib/aws-route53';
import { ApiGatewayv2DomainProperties } from 'aws-cdk-lib/aws-route53-targets';
import { Construct } from 'constructs';

export interface LatencyRoutedApiDomainProps {
  readonly httpApi: IHttpApi;
  readonly stage: IHttpStage;
  /** The public zone that holds both names and validates the certificate. */
  readonly zone: IHostedZone;
  /** The name every region answers on, e.g. `api.example.com`. */
  readonly sharedHostname: string;
  /** This region's own name, e.g. `api-us-east-1.example.com`; the health check probes it. */
  readonly regionalHostname: string;
  /** This region; also the latency record's region and set identifier. */
  readonly region: string;
  /** What happens to the certificate when the stack goes away; follows the environment kind. */
  readonly removalPolicy: RemovalPolicy;
  /**
   * Path the health check requests over HTTPS; anything but a 2xx or 3xx within the timeout is a
   * failure.
   * @default '/health'
   */
  readonly healthPath?: string;
}

/**
 * Puts one region's API behind custom domains for active-active serving: a DNS-validated
 * certificate for both names, the regional and the shared custom domain, a Route 53 health check
 * on the regional name, and the region's latency record for the shared name carrying that health
 * check. When the region fails its check, Route 53 stops answering with it and players go to the
 * other region.
 */
export class LatencyRoutedApiDomain extends Construct {
  readonly healthCheck: HealthCheck;
  readonly latencyRecord: ARecord;

  constructor(scope: Construct, id: string, props: LatencyRoutedApiDomainProps) {
    super(scope, id);

    const certificate = new Certificate(this, 'Certificate', {
      domainName: props.regionalHostname,
      subjectAlternativeNames: [props.sharedHostname],
      validation: CertificateValidation.fromDns(props.zone),
    });
    certificate.applyRemovalPolicy(props.removalPolicy);

    const regionalDomain = this.mapDomain('RegionalDomain', props.regionalHostname, certificate, props);
    const sharedDomain = this.mapDomain('SharedDomain', props.sharedHostname, certificate, props);

    new ARecord(this, 'RegionalRecord', {
      zone: props.zone,
      recordName: props.regionalHostname,
      target: RecordTarget.fromAlias(
        new ApiGatewayv2DomainProperties(regionalDomain.regionalDomainName, regionalDomain.regionalHostedZoneId),
      ),
    });

    this.healthCheck = new HealthCheck(this, 'HealthCheck', {
      type: HealthCheckType.HTTPS,
      fqdn: props.regionalHostname,
      port: 443,
      resourcePath: props.healthPath ?? '/health',
      enableSNI: true,
      requestInterval: Duration.seconds(10),
      failureThreshold: 3,
      measureLatency: true,
    });

    this.latencyRecord = new ARecord(this, 'LatencyRecord', {
      zone: props.zone,
      recordName: props.sharedHostname,
      region: props.region,
      setIdentifier: `api-${props.region}`,
      healthCheck: this.healthCheck,
      target: RecordTarget.fromAlias(
        new ApiGatewayv2DomainProperties(sharedDomain.regionalDomainName, sharedDomain.regionalHostedZoneId),
      ),
    });
  }

  private mapDomain(
    id: string,
    hostname: string,
    certificate: Certificate,
    props: LatencyRoutedApiDomainProps,
  ): DomainName {
    const domain = new DomainName(this, id, {
      domainName: hostname,
      certificate,
      securityPolicy: SecurityPolicy.TLS_1_2,
    });
    new ApiMapping(this, `${id}Mapping`, { api: props.httpApi, domainName: domain, stage: props.stage });
    return domain;
  }
}
