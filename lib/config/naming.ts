import { EnvironmentConfig } from './environment';

/**
 * Every physical name an environment creates, derived from its name alone so that two environments
 * (`pr-41`, `pr-42`) never collide in one account. Stacks in different regions compute the same
 * names independently, which is what lets a secondary region find the primary's replicated table
 * and secret without a cross-region reference.
 */
export class EnvironmentNaming {
  /** `nearstream-<env>`: the prefix of every stack and physical name. */
  readonly prefix: string;

  constructor(private readonly config: EnvironmentConfig) {
    this.prefix = `nearstream-${config.name}`;
  }

  /** `nearstream-<env>-<part>`, or `nearstream-<env>-<part>-<region>` for per-region stacks. */
  stackName(part: string, region?: string): string {
    return region ? `${this.prefix}-${part}-${region}` : `${this.prefix}-${part}`;
  }

  /** The content-key KMS key's alias, the same in both regions (each has its own key). */
  get contentKeyAlias(): string {
    return `alias/${this.prefix}/content-keys`;
  }

  /** The control plane's global table (heartbeats now; catalog, sessions and fleet later). */
  get controlTableName(): string {
    return `${this.prefix}-control`;
  }

  /** The secret that keys segment-URL tokens, replicated to both regions. */
  get urlSigningSecretName(): string {
    return `nearstream/${this.config.name}/url-signing-key`;
  }

  /**
   * A media bucket's name: `nearstream-<env>-<account>-<region>-<purpose>`. Bucket names are
   * global, so account and region are part of it (at most 63 characters for a 16-character
   * environment name). Derived, not generated, so policies elsewhere can name the bucket.
   */
  mediaBucketName(account: string, region: string, purpose: 'origin' | 'source' | 'steer'): string {
    return `${this.prefix}-${account}-${region}-${purpose}`;
  }

  /** The SSM parameter, in each region, holding the newest appliance AMI id. */
  get applianceAmiParameterName(): string {
    return `/nearstream/${this.config.name}/appliance/ami-id`;
  }

  /** The cluster id of a region's EC2 appliances in the fleet registry and in manifest keys. */
  ec2ClusterId(region: string): string {
    return `ec2-${region}`;
  }

  /** The CloudFront private key that signs origin-tier URLs and cookies, replicated to both regions. */
  get originSigningSecretName(): string {
    return `nearstream/${this.config.name}/origin-signing-key`;
  }

  /**
   * The DNS zone the API's names live under. Production and staging are configured deliberately
   * and own their domain; an ephemeral environment gets `<env>.<domain>` so that many of them can
   * share one zone.
   */
  get apiZoneName(): string | undefined {
    const domain = this.config.domain;
    if (!domain) {
      return undefined;
    }
    return this.config.kind === 'ephemeral' ? `${this.config.name}.${domain.name}` : domain.name;
  }

  /** `api.<zone>`: the name players and appliances use, routed to the nearest healthy region. */
  get sharedApiHostname(): string | undefined {
    const zone = this.apiZoneName;
    return zone && `api.${zone}`;
  }

  /** `api-<region>.<zone>`: one region's API, which its Route 53 health check probes. */
  regionalApiHostname(region: string): string | undefined {
    const zone = this.apiZoneName;
    return zone && `api-${region}.${zone}`;
  }
}
