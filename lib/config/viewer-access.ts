import { ConfigProblem } from './config-error';
import type { EnvironmentKind } from './environment';

/** What a user may say about who watches and how they reach the API. */
export interface ViewerAccessInput {
  /** An OIDC issuer URL for viewer JWTs; needs `jwtAudiences`. */
  readonly jwtIssuer?: string;
  readonly jwtAudiences?: readonly string[];
  /** Web origins allowed to call the API from a browser; any (`*`) unless given. */
  readonly corsOrigins?: readonly string[];
  /** The sender of the viewer pool's email, an address on an SES-verified domain; required in prod. */
  readonly viewerEmailFrom?: string;
  /** Where that domain is verified; the primary region unless given. */
  readonly viewerEmailSesRegion?: string;
}

/** An external OIDC issuer for viewer tokens, instead of the Cognito user pool the platform creates. */
export interface ViewerAuthSettings {
  /** The issuer URL, `https://...`; API Gateway fetches its JWKS from the discovery document. */
  readonly issuerUrl: string;
  /** Accepted `aud` (or `client_id`) values. */
  readonly audiences: readonly string[];
}

/** How the Cognito user pool sends viewers' verification and recovery email. */
export interface ViewerEmailSettings {
  /** The sender, an address on a domain verified in SES. */
  readonly fromAddress: string;
  /** The SES region: the primary region, or us-east-1, us-west-2 or eu-west-1. */
  readonly sesRegion: string;
}

export function viewerAuthProblems(input: ViewerAccessInput): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (input.jwtIssuer !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(input.jwtIssuer);
    } catch {
      url = undefined;
    }
    if (url?.protocol !== 'https:') {
      problems.push({ field: 'jwtIssuer', rule: `'${input.jwtIssuer}' must be an https URL of an OIDC issuer` });
    }
    if (!input.jwtAudiences || input.jwtAudiences.length === 0) {
      problems.push({ field: 'jwtAudience', rule: 'is required when jwtIssuer is set: the client ids your tokens carry' });
    }
  } else if (input.jwtAudiences !== undefined) {
    problems.push({ field: 'jwtIssuer', rule: 'is required when jwtAudience is set' });
  }
  return problems;
}

/** Regions whose SES a user pool may send through besides its own (Cognito's rule). */
const COGNITO_SES_REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1'];
const EMAIL_ADDRESS = /^[^\s@]+@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

export function viewerEmailProblems(input: ViewerAccessInput, kind: EnvironmentKind, primaryRegion: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (input.viewerEmailFrom !== undefined && !EMAIL_ADDRESS.test(input.viewerEmailFrom)) {
    problems.push({ field: 'viewerEmailFrom', rule: `'${input.viewerEmailFrom}' must be an email address on your SES-verified domain` });
  }
  const sesRegion = input.viewerEmailSesRegion;
  if (sesRegion !== undefined && sesRegion !== primaryRegion && !COGNITO_SES_REGIONS.includes(sesRegion)) {
    problems.push({
      field: 'viewerEmailSesRegion',
      rule: `'${sesRegion}' cannot send for a user pool in ${primaryRegion}: use ${primaryRegion} or one of ${COGNITO_SES_REGIONS.join(', ')}`,
    });
  }
  if (sesRegion !== undefined && input.viewerEmailFrom === undefined) {
    problems.push({ field: 'viewerEmailFrom', rule: 'is required when viewerEmailSesRegion is set' });
  }
  if (kind === 'prod' && input.jwtIssuer === undefined && input.viewerEmailFrom === undefined) {
    problems.push({
      field: 'viewerEmailFrom',
      rule: "is required in prod when viewers sign in with Cognito: its own email sends only a few dozen messages a day, so sign-ups would stall. Verify your sending domain in SES (out of the sandbox) and give an address on it",
    });
  }
  return problems;
}

/** `*`, or a scheme, host and optional port with nothing after: what a browser sends as Origin. */
const WEB_ORIGIN = /^(?:\*|https:\/\/[a-z0-9.-]+(?::\d{1,5})?|http:\/\/(?:localhost|127\.0\.0\.1)(?::\d{1,5})?)$/;

export function corsProblems(input: ViewerAccessInput): ConfigProblem[] {
  const origins = input.corsOrigins;
  if (origins === undefined) {
    return [];
  }
  const bad = origins.filter((origin) => !WEB_ORIGIN.test(origin));
  return [
    ...(origins.length === 0 ? [{ field: 'corsOrigins', rule: 'must name at least one origin, or * for any' }] : []),
    ...bad.map((origin) => ({
      field: 'corsOrigins',
      rule: `'${origin}' must be * or an origin like https://watch.example.com (http only for localhost), with no path`,
    })),
  ];
}
