import { LicenseServices, parseLicenseServices } from '../../lambda/license/license-service';
import type { ConfigProblem } from './config-error';
import type { EnvironmentKind } from './environment';

/**
 * An environment's content protection: whether titles are encrypted unless their upload says
 * otherwise (context `contentProtection=on|off`, on in prod by default), and the commercial license
 * services (Widevine, PlayReady, FairPlay) `/license` hands requests to (context `licenseServices`,
 * JSON `{ "<system>": { "url": "https://...", "secretArn": "arn:aws:secretsmanager:..." } }`).
 * ClearKey licenses the platform issues itself, always.
 */
export interface ContentProtectionSettings {
  readonly byDefault: boolean;
  readonly licenseServices: LicenseServices;
}

export interface ContentProtectionInput {
  /** `on` or `off` (context `contentProtection`). */
  readonly contentProtection?: string;
  /** JSON (context `licenseServices`). */
  readonly licenseServices?: string;
}

export function contentProtectionProblems(input: ContentProtectionInput): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (input.contentProtection !== undefined && input.contentProtection !== 'on' && input.contentProtection !== 'off') {
    problems.push({ field: 'contentProtection', rule: `must be 'on' or 'off' (got '${input.contentProtection}')` });
  }
  try {
    parseLicenseServices(input.licenseServices, 'licenseServices');
  } catch (error) {
    problems.push({ field: 'licenseServices', rule: (error as Error).message.replace(/^licenseServices:? ?/, '') });
  }
  return problems;
}

/** The settings of a valid input: protection by default in prod unless it says `off`. */
export function contentProtectionOf(input: ContentProtectionInput, kind: EnvironmentKind): ContentProtectionSettings {
  return {
    byDefault: input.contentProtection === undefined ? kind === 'prod' : input.contentProtection === 'on',
    licenseServices: parseLicenseServices(input.licenseServices, 'licenseServices'),
  };
}
