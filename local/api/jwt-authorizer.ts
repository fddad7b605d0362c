import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { ViewerTokenVerifier } from './local-gateway';

export interface JwtAuthorizerSettings {
  /** The issuer's URL, exactly as tokens carry it in `iss`. */
  readonly issuer: string;
  /** Accepted audiences: a token's `aud` (ID tokens) or `client_id` (Cognito access tokens) must be one of them. */
  readonly audiences: readonly string[];
  /** @default `<issuer>/.well-known/jwks.json` */
  readonly jwksUrl?: string;
}

/** How far ahead of this clock a token's issue time may be. */
const CLOCK_SKEW_SECONDS = 60;

/**
 * Verifies a bearer token as an API Gateway JWT authorizer does: an RS256 signature by a key of
 * the issuer's JWKS (fetched and cached, refetched for an unknown `kid`), `iss`, an `exp` that is
 * required and in the future, `nbf`, an `iat` not ahead of the clock, and an audience by `aud` or
 * `client_id`.
 */
export function jwtAuthorizer(settings: JwtAuthorizerSettings): ViewerTokenVerifier {
  const keys = createRemoteJWKSet(new URL(settings.jwksUrl ?? `${settings.issuer.replace(/\/$/, '')}/.well-known/jwks.json`));
  return async (token) => {
    const { payload } = await jwtVerify(token, keys, { issuer: settings.issuer, algorithms: ['RS256'], requiredClaims: ['exp'] });
    if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + CLOCK_SKEW_SECONDS) {
      throw new Error('token issued in the future');
    }
    const audiences = [payload.aud, payload.client_id].flat().filter((value): value is string => typeof value === 'string');
    if (!audiences.some((audience) => settings.audiences.includes(audience))) {
      throw new Error(`token audience ${JSON.stringify(audiences)} is not one of ${JSON.stringify(settings.audiences)}`);
    }
    return payload as Record<string, unknown>;
  };
}
