import { z } from 'zod';
import { CommercialSystem, LicenseEntitlement, LicenseRefusedError, LicenseServices } from './license-service';

/**
 * The way to connect a commercial DRM provider (Widevine, PlayReady, FairPlay) to Nearstream.
 *
 * The provider keeps its own keys (it is the SPEKE key provider the packager asked) and its own
 * license server; the platform keeps the decision of who may play what. So the player sends its
 * challenge to `POST /license/<system>?session=<id>`, the platform checks the session exactly as
 * for ClearKey, and forwards the challenge's bytes unchanged to the provider's license URL with
 * - the provider's credentials, as the headers in the system's secret (`{ "headers": { ... } }`,
 *   e.g. an API key or a signed customer-data header), and
 * - `x-nearstream-entitlement`, JSON of `LicenseEntitlement`: the title, the session, the key ids
 *   (UUID form) the session may unlock and when it ends. The provider issues only those keys, for
 *   no longer than that; most providers take such a policy in a header or via a small adapter.
 * The provider's status, body and content type go back to the player as they came.
 *
 * To connect one: store its credentials as a secret, add
 * `{ "<system>": { "url": "https://...", "secretArn": "arn:..." } }` to `LICENSE_SERVICES` of the
 * license and play functions (play then offers the system to devices that declare it), and let the
 * license function read the secret.
 */

/** A provider's answer, passed on as it came. */
export interface ProviderAnswer {
  readonly statusCode: number;
  readonly contentType: string;
  readonly body: Buffer;
}

/** Where secret values come from: the `SecretCache` in production. */
export interface SecretSource {
  get(secretId: string): Promise<string>;
}

/** What the license handler needs of commercial systems. */
export interface CommercialLicenses {
  offers(system: string): system is CommercialSystem;
  forward(system: CommercialSystem, challenge: Buffer, contentType: string, entitlement: LicenseEntitlement): Promise<ProviderAnswer>;
}

export const ENTITLEMENT_HEADER = 'x-nearstream-entitlement';

/** Headers the platform sets itself: a secret may not replace them. */
const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'host', 'connection', 'transfer-encoding', ENTITLEMENT_HEADER]);

const providerSecretSchema = z.strictObject({
  headers: z.record(
    z
      .string()
      .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/, 'must be an HTTP header name')
      .refine((name) => !RESERVED_HEADERS.has(name.toLowerCase()), 'is set by the platform, not by the secret'),
    z.string().max(8192, 'must be at most 8192 characters').regex(/^[\t\x20-\x7e]*$/, 'must be printable ASCII on one line'),
  ),
});

export interface CommercialLicenseProxyOptions {
  /**
   * How long a provider has to answer, body included, before the player gets a 502.
   * @default 5000
   */
  readonly timeoutMs?: number;
}

/** Forwards license challenges to the providers `LICENSE_SERVICES` names. */
export class CommercialLicenseProxy implements CommercialLicenses {
  private readonly timeoutMs: number;
  private readonly parsedSecrets = new Map<string, { value: string; headers: Record<string, string> }>();

  constructor(
    private readonly services: LicenseServices,
    private readonly secrets: SecretSource,
    options: CommercialLicenseProxyOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  offers(system: string): system is CommercialSystem {
    return Object.hasOwn(this.services, system) && this.services[system as CommercialSystem] !== undefined;
  }

  async forward(system: CommercialSystem, challenge: Buffer, contentType: string, entitlement: LicenseEntitlement): Promise<ProviderAnswer> {
    const service = this.services[system];
    if (!service) {
      throw new LicenseRefusedError('unknown-key-system', `no license service is configured for ${system}`);
    }
    const credentials = await this.headersOf(service.secretArn);
    try {
      const response = await fetch(service.url, {
        method: 'POST',
        headers: { 'content-type': contentType, ...credentials, [ENTITLEMENT_HEADER]: JSON.stringify(entitlement) },
        body: new Uint8Array(challenge),
        redirect: 'error',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const body = Buffer.from(await response.arrayBuffer());
      return { statusCode: response.status, contentType: response.headers.get('content-type') ?? 'application/octet-stream', body };
    } catch (error) {
      // A DOMException, which need not be an `Error` of this realm: tell it by its name.
      const timedOut = (error as { name?: unknown } | undefined)?.name === 'TimeoutError';
      throw new LicenseRefusedError(
        'license-service-unavailable',
        timedOut
          ? `the ${system} license service did not answer within ${this.timeoutMs} ms; retry`
          : `the ${system} license service could not be reached; retry`,
      );
    }
  }

  /** The secret's headers, parsed again only when its value changes (a rotation). */
  private async headersOf(secretArn: string): Promise<Record<string, string>> {
    const value = await this.secrets.get(secretArn);
    const cached = this.parsedSecrets.get(secretArn);
    if (cached?.value === value) {
      return cached.headers;
    }
    const headers = parseProviderSecret(value, secretArn);
    this.parsedSecrets.set(secretArn, { value, headers });
    return headers;
  }
}

/** A provider secret's headers; the error names the secret and the bad field, never a value. */
export function parseProviderSecret(value: string, secretArn: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new Error(`secret ${secretArn} is not JSON; it must be { "headers": { "<name>": "<value>" } }`);
  }
  const result = providerSecretSchema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
    // A bad header name is reported as the record's "invalid key", with the rule it broke inside.
    const message = issue.code === 'invalid_key' ? (issue.issues[0]?.message ?? issue.message) : issue.message;
    throw new Error(`secret ${secretArn}: ${path.map(String).join('.') || '(top level)'}: ${message}`);
  }
  return result.data.headers;
}
