import { ConfigProblem, positiveWholeNumberProblems } from './config-error';

/** EC2 appliances in each region, for regions or ISPs without hardware of their own. */
export interface ApplianceFleetSettings {
  /**
   * The appliance AMI in each region, as the image pipeline publishes it in SSM
   * (`/nearstream/<env>/appliance/ami-id`). Given, never looked up at synth, so that a rebuilt
   * image reaches the fleet only through a reviewed config change.
   */
  readonly amiIds: Readonly<Record<string, string>>;
  readonly instanceType: string;
  /** Appliances in each region's Auto Scaling group, spread across its Availability Zones. */
  readonly appliancesPerRegion: number;
  /** How many of each region's Availability Zones the group spans (the first N, by position). */
  readonly availabilityZoneCount: number;
  /** The cache volume (the root volume, encrypted gp3), in GiB. */
  readonly cacheVolumeGiB: number;
  /** The egress each appliance reports and steering budgets against; match it to the instance type. */
  readonly egressGbps: number;
  /** The port nginx serves players on; the only port open to the internet. */
  readonly servingPort: number;
  /** The nightly fill window, in whole UTC hours. */
  readonly fillWindow: { readonly startHourUtc: number; readonly endHourUtc: number };
  /** What one appliance may take from the origin while it fills, in bytes per second. */
  readonly fillBandwidthBytesPerSecond: number;
}

/**
 * IAM Roles Anywhere for bare-metal appliances: the certificate authority that issues their
 * certificates. Exactly one of the two sources.
 */
export interface RolesAnywhereSettings {
  /** PEM certificates of the CA (an ISP's or your own); the platform makes a trust anchor of them. */
  readonly certificateBundlePem?: string;
  /** Or an AWS Private CA that issues appliance certificates. */
  readonly acmPcaArn?: string;
}

/** A network-optimized instance with room for a warm page cache; 2-6 UTC is off-peak in the Americas. */
export const FLEET_DEFAULTS: Omit<ApplianceFleetSettings, 'amiIds'> = {
  instanceType: 'c6in.xlarge',
  appliancesPerRegion: 2,
  availabilityZoneCount: 3,
  cacheVolumeGiB: 500,
  egressGbps: 10,
  servingPort: 80,
  fillWindow: { startHourUtc: 2, endHourUtc: 6 },
  fillBandwidthBytesPerSecond: 200 * 1024 ** 2,
};

const AMI_ID = /^ami-[0-9a-f]{8}(?:[0-9a-f]{9})?$/;
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
const PCA_ARN = /^arn:aws[a-z-]*:acm-pca:[a-z0-9-]+:\d{12}:certificate-authority\/[0-9a-f-]{36}$/;
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

/** What a user may say about appliances; a subset of `EnvironmentInput`. */
export interface ApplianceInput {
  /** The appliance AMI per region; giving it turns the EC2 fleet on. */
  readonly applianceAmis?: Readonly<Record<string, string>>;
  readonly appliancesPerRegion?: number;
  readonly applianceInstanceType?: string;
  /** Availability Zones each region's fleet spans; 2 for regions (or accounts) with only two. */
  readonly applianceAvailabilityZones?: number;
  /** PEM text of the CA that issues bare-metal appliance certificates. */
  readonly rolesAnywhereCaBundle?: string;
  /** Or the ARN of an AWS Private CA that issues them. */
  readonly rolesAnywherePcaArn?: string;
}

export function fleetProblems(input: ApplianceInput, regions: readonly string[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const amis = input.applianceAmis;
  if (amis === undefined) {
    if (input.appliancesPerRegion !== undefined || input.applianceInstanceType !== undefined || input.applianceAvailabilityZones !== undefined) {
      problems.push({ field: 'applianceAmi', rule: 'is required for an EC2 fleet: give the appliance AMI of each region, region=ami-id' });
    }
    return problems;
  }
  for (const region of regions) {
    if (amis[region] === undefined) {
      problems.push({ field: 'applianceAmi', rule: `has no AMI for ${region}: give one per region (region=ami-id), as the image pipeline published it` });
    }
  }
  for (const [region, ami] of Object.entries(amis)) {
    if (!regions.includes(region)) {
      problems.push({ field: 'applianceAmi', rule: `names ${region}, which is not one of this environment's regions (${regions.join(', ')})` });
    } else if (!AMI_ID.test(ami)) {
      problems.push({ field: 'applianceAmi', rule: `'${ami}' for ${region} is not an AMI id like ami-0123456789abcdef0` });
    }
  }
  if (input.applianceInstanceType !== undefined && !INSTANCE_TYPE.test(input.applianceInstanceType)) {
    problems.push({ field: 'applianceInstanceType', rule: `'${input.applianceInstanceType}' is not an EC2 instance type like c6in.xlarge` });
  }
  return problems;
}

export function rolesAnywhereProblems(input: ApplianceInput): ConfigProblem[] {
  const { rolesAnywhereCaBundle: bundle, rolesAnywherePcaArn: pcaArn } = input;
  const problems: ConfigProblem[] = [];
  if (bundle !== undefined && pcaArn !== undefined) {
    problems.push({ field: 'rolesAnywhereCaBundle', rule: 'give either a CA bundle or rolesAnywherePcaArn, not both: a trust anchor has one source' });
  }
  if (bundle !== undefined && !PEM_CERTIFICATE.test(bundle)) {
    problems.push({ field: 'rolesAnywhereCaBundle', rule: 'must hold at least one PEM certificate (-----BEGIN CERTIFICATE-----)' });
  }
  if (pcaArn !== undefined && !PCA_ARN.test(pcaArn)) {
    problems.push({ field: 'rolesAnywherePcaArn', rule: `'${pcaArn}' is not an AWS Private CA ARN (arn:aws:acm-pca:<region>:<account>:certificate-authority/<id>)` });
  }
  return problems;
}

/** The fleet's numeric knobs, checked like the environment's others. */
export function fleetSettingProblems(fleet: ApplianceFleetSettings): ConfigProblem[] {
  const problems: ConfigProblem[] = [
    ...positiveWholeNumberProblems('appliancesPerRegion', fleet.appliancesPerRegion),
    ...positiveWholeNumberProblems('applianceFleet.cacheVolumeGiB', fleet.cacheVolumeGiB),
    ...positiveWholeNumberProblems('applianceFleet.fillBandwidthBytesPerSecond', fleet.fillBandwidthBytesPerSecond),
  ];
  if (!Number.isInteger(fleet.availabilityZoneCount) || fleet.availabilityZoneCount < 2 || fleet.availabilityZoneCount > 6) {
    problems.push({ field: 'applianceFleet.availabilityZoneCount', rule: `must be 2-6: a fleet spans at least two zones (got ${fleet.availabilityZoneCount})` });
  }
  if (fleet.fillWindow.startHourUtc === fleet.fillWindow.endHourUtc) {
    problems.push({ field: 'applianceFleet.fillWindow', rule: 'startHourUtc and endHourUtc must differ: the window would be empty' });
  }
  if (!(fleet.egressGbps > 0)) {
    problems.push({ field: 'applianceFleet.egressGbps', rule: `must be above 0 (got ${fleet.egressGbps})` });
  }
  if (!Number.isInteger(fleet.servingPort) || fleet.servingPort < 1 || fleet.servingPort > 65535) {
    problems.push({ field: 'applianceFleet.servingPort', rule: `must be a TCP port, 1-65535 (got ${fleet.servingPort})` });
  }
  for (const [field, hour] of Object.entries(fleet.fillWindow)) {
    if (!Number.isInteger(hour) || hour < 0 || hour > 23) {
      problems.push({ field: `applianceFleet.fillWindow.${field}`, rule: `must be a whole UTC hour, 0-23 (got ${hour})` });
    }
  }
  return problems;
}
