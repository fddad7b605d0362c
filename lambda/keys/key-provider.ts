import { ContentKey } from '../shared/content-protection';
import { titleIdSchema } from '../fleet/fleet-protocol';
import { assertServable, CommercialDrmSignaller, CommercialDrmSystem, renderCpixResponse, SpekeRequest, SpekeRequestError } from './cpix';
import { ContentKeyConflictError, ContentKeyRequest } from './content-key-store';

/** What the provider needs of a key store (`ContentKeyStore` is one). */
export interface ContentKeySource {
  getOrCreate(titleId: string, requests: readonly ContentKeyRequest[]): Promise<ContentKey[]>;
}

export interface KeyProviderOptions {
  readonly store: ContentKeySource;
  /**
   * The base URL of the API serving licenses (`LICENSE_BASE_URL`, e.g. `https://api.example.com`):
   * ClearKey players are pointed at `<licenseBaseUrl>/license/clearkey` (`clearKeyLicenseUrl`).
   * @default - the manifests name no license URL: players get it with their play grant
   */
  readonly licenseBaseUrl?: string;
  /** Signalling of commercial DRM systems a provider serves; none by default, and requests for them are refused. */
  readonly commercial?: Partial<Record<CommercialDrmSystem, CommercialDrmSignaller>>;
}

/**
 * Where ClearKey players ask for licenses: the license route `POST /license/{system}` with system
 * `clearkey`. The route finds the title and the keys a play may have from the play's session,
 * which the player adds (`?session=<id>`), so the URL is the same for every title.
 */
export function clearKeyLicenseUrl(licenseBaseUrl: string): string {
  return `${licenseBaseUrl.replace(/\/+$/, '')}/license/clearkey`;
}

/**
 * The key provider: answers a SPEKE v2 request with the title's content keys. The title is the
 * request's `contentId` (a title id, as the encoding workflow names jobs); each requested kid gets
 * the key the store holds for it, or a new random 16-byte key stored first, so a retried request,
 * or a second job for the title with the same kids, gets the same keys.
 */
export class KeyProvider {
  constructor(private readonly options: KeyProviderOptions) {
    const base = options.licenseBaseUrl;
    if (base !== undefined && (!/^https?:\/\/[\x21-\x7e]+$/.test(base) || /["'<>\\?#]/.test(base) || !URL.canParse(base))) {
      throw new Error('KeyProvider: licenseBaseUrl must be an absolute http(s) URL without query, fragment, quotes or spaces');
    }
  }

  /**
   * The CPIX response document for a parsed request. Throws `SpekeRequestError` (the caller's mistake:
   * a contentId that is not a title id, a DRM system nobody here signals, a kid the title holds
   * under another track type) before storing anything it would refuse; any other error is ours.
   */
  async provideKeys(request: SpekeRequest): Promise<string> {
    const parsed = titleIdSchema.safeParse(request.contentId);
    if (!parsed.success) {
      throw new SpekeRequestError('CPIX@contentId', parsed.error.issues[0].message);
    }
    const titleId = parsed.data;
    // Refused before any key is made for it.
    assertServable(request, this.options);
    let keys: ContentKey[];
    try {
      keys = await this.options.store.getOrCreate(
        titleId,
        request.contentKeys.map((key) => ({ kid: key.kid, group: key.group })),
      );
    } catch (error) {
      if (error instanceof ContentKeyConflictError) {
        const index = request.contentKeys.findIndex((key) => key.kid === error.kid) + 1;
        throw new SpekeRequestError(
          `ContentKeyList/ContentKey[${index}]@kid`,
          `title ${titleId} holds ${request.contentKeys[index - 1]?.kidAsSent ?? error.kid} as its ${error.storedGroup} key; a kid cannot change track type (asked for ${error.requestedGroup})`,
        );
      }
      throw error;
    }
    return renderCpixResponse(request, keys, {
      ...(this.options.licenseBaseUrl === undefined ? {} : { licenseUrl: clearKeyLicenseUrl(this.options.licenseBaseUrl) }),
      ...(this.options.commercial ? { commercial: this.options.commercial } : {}),
    });
  }
}
