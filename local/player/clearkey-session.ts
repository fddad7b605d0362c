import { DRM_SYSTEMS, kidFromBase64Url, kidToBase64Url } from '../../lambda/shared/content-protection';
import { describeTrack } from '../encoder/cmaf-encrypt';
import { Mp4FormatError } from '../encoder/iso-bmff';
import { endpoint, PlaybackGrant, REGION_RETRY_PAUSE_MS, REGION_ROUNDS, RegionEndpoint } from './control-plane-client';
import { fetchBody, FetchError } from './http-fetch';
import { ProtectionReport } from './play-report';
import { Track } from './presentation';
import { checkDecryption, DecryptionCheck } from './segment-decryption';

/**
 * A protected play's keys, as a browser's ClearKey CDM gets them: each init segment names its key
 * id (the 'tenc' box). The key ids a play starts with (its first video and audio) go in one W3C
 * ClearKey license request (`{"kids":[...],"type":"temporary"}`), and each later key id in one of
 * its own the first time it is met. Requests go to the grant's license URL, with the viewer's
 * token, at the region that granted the play; a region that is down passes it to the next, as
 * `/play` does (sessions live in the global table), and a refusal (4xx) ends the play. Renditions
 * of one key group share a key, so a play asks once at its start and once more for each other
 * video group it switches to.
 *
 * The first video segment is then decrypted with its licensed key (`checkDecryption`), in the
 * background: the play goes on meanwhile, and the report says whether it opened.
 *
 * Keys are kept in memory for the play and never printed: the report lists key ids only.
 */

/** The play cannot go on: a license was refused or could not be had, or the media does not say what key it needs. */
export class ProtectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtectionError';
  }
}

export interface ClearKeySessionOptions {
  readonly grant: PlaybackGrant;
  /** The region that granted the play first, then the others. */
  readonly regions: readonly RegionEndpoint[];
  readonly token: string;
  readonly timeoutMs: number;
  /** Decode the first video segment with its key. @default true */
  readonly verifyDecryption?: boolean;
  /** Hears each license granted. @default - none */
  readonly onLicense?: (license: { readonly region: string; readonly kid: string; readonly track: Track }) => void;
}

/** A segment as the source ladder fetched it: the init segment it needs, and its own bytes. */
export interface ProtectedSegment {
  readonly track: Track;
  readonly index: number;
  readonly init?: Buffer;
  readonly body: Buffer;
}

export class ClearKeySession {
  private readonly keys = new Map<string, Buffer>();
  private readonly kidOfInit = new WeakMap<Buffer, string>();
  private readonly licenseUrl: string;
  private licenseRequests = 0;
  private check?: Promise<DecryptionCheck>;

  private constructor(private readonly options: ClearKeySessionOptions) {
    const offer = options.grant.protection?.keySystems.find((system) => system.system === 'clearkey');
    if (!offer) {
      const offered = options.grant.protection?.keySystems.map((system) => system.system).join(', ') || 'none';
      throw new ProtectionError(`the grant for '${options.grant.titleId}' offers no ClearKey license (offered: ${offered}); this player has only ClearKey`);
    }
    this.licenseUrl = offer.licenseUrl;
  }

  /** The session for a grant, or undefined when the title plays without a license. */
  static forGrant(options: ClearKeySessionOptions): ClearKeySession | undefined {
    return options.grant.protection ? new ClearKeySession(options) : undefined;
  }

  /**
   * Gets the segments' keys, every key id not yet licensed in one license request, and checks that
   * the first video segment opens with its key.
   */
  async prepare(segments: readonly ProtectedSegment[]): Promise<void> {
    const kids = segments.map((segment) => {
      if (!segment.init) {
        throw new ProtectionError(`the ${segment.track} rendition has no init segment to name its key id`);
      }
      return this.kidOf(segment.init, segment.track);
    });
    const wanted = new Map<string, Track>();
    kids.forEach((kid, index) => {
      if (!this.keys.has(kid) && !wanted.has(kid)) {
        wanted.set(kid, segments[index].track);
      }
    });
    if (wanted.size > 0) {
      await this.license(wanted);
    }
    const video = segments.findIndex((segment) => segment.track === 'video');
    if (video >= 0 && !this.check && this.options.verifyDecryption !== false) {
      this.check = checkDecryption(segments[video].init!, segments[video].body, this.keys.get(kids[video])!);
    }
  }

  /** What the play's protection came to; waits for the decryption check. */
  async report(): Promise<ProtectionReport> {
    const check: DecryptionCheck | undefined = await this.check?.catch((error: Error) => ({ decrypted: false, detail: `the check failed: ${error.name}` }));
    return {
      keySystem: DRM_SYSTEMS.clearkey.keySystem,
      scheme: this.options.grant.protection!.scheme,
      licenseRequests: this.licenseRequests,
      keysGranted: [...this.keys.keys()],
      firstSegmentDecrypted: check?.decrypted ?? false,
      ...(check?.skipped ? { decryptionSkipped: true } : {}),
      decryption: check?.detail ?? 'not checked: no video segment was played, or the check was turned off',
    };
  }

  private kidOf(init: Buffer, track: Track): string {
    const known = this.kidOfInit.get(init);
    if (known) {
      return known;
    }
    let kid: string | undefined;
    try {
      kid = describeTrack(init, `${track} init segment`).kid;
    } catch (error) {
      if (error instanceof Mp4FormatError) {
        throw new ProtectionError(`the ${track} init segment cannot be read for its key id: ${error.message}`);
      }
      throw error;
    }
    if (!kid) {
      throw new ProtectionError(`the grant says '${this.options.grant.titleId}' is protected, and its ${track} init segment is not encrypted (no 'tenc' key id)`);
    }
    this.kidOfInit.set(init, kid);
    return kid;
  }

  /**
   * Asks the regions in turn for one license holding every key id of `wanted` (each with the
   * track it is for), and on a 5xx or no answer from all of them tries again, up to
   * `REGION_ROUNDS` rounds with a short pause between: a license is one more control-plane call
   * in a play's start, and a failing function must not end a play that a second try would save.
   * A 4xx is final.
   */
  private async license(wanted: ReadonlyMap<string, Track>): Promise<void> {
    const kids = [...wanted.keys()];
    const named = kids.length === 1 ? `key ${kids[0]}` : `keys ${kids.join(', ')}`;
    const failures: string[] = [];
    for (let round = 0; round < REGION_ROUNDS; round++) {
      if (round > 0) {
        await new Promise((resolve) => setTimeout(resolve, REGION_RETRY_PAUSE_MS * round));
      }
      for (const region of this.options.regions) {
        this.licenseRequests++;
        let body: Buffer;
        try {
          ({ body } = await fetchBody(endpoint(region, this.licenseUrl), {
            method: 'POST',
            timeoutMs: this.options.timeoutMs,
            headers: { authorization: `Bearer ${this.options.token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ kids: kids.map(kidToBase64Url), type: 'temporary' }),
          }));
        } catch (error) {
          if (!(error instanceof FetchError)) {
            throw error;
          }
          if (error.status !== undefined && error.status < 500) {
            throw new ProtectionError(`region ${region.name} refused the ClearKey license for ${named}: ${refusalOf(error)}`);
          }
          failures.push(`${region.name}: ${error.message}`);
          continue;
        }
        const license = parseLicense(body, region.name);
        const granted = kids.map((kid) => [kid, keyIn(license, kid, region.name)] as const);
        for (const [kid, key] of granted) {
          this.keys.set(kid, key);
          this.options.onLicense?.({ region: region.name, kid, track: wanted.get(kid)! });
        }
        return;
      }
    }
    throw new ProtectionError(`no region issued the ClearKey license for ${named}: ${failures.join('; ')}`);
  }
}

/**
 * `HTTP 404 unknown-session: <message>` from the license route's `{ error, message }` answer, or
 * `HTTP 403 Forbidden` from the gateway's own `{ message }`.
 */
function refusalOf(error: FetchError): string {
  try {
    const answer = JSON.parse(error.body ?? '') as { error?: unknown; message?: unknown };
    const said = [answer.error, answer.message].filter((part): part is string => typeof part === 'string');
    if (said.length > 0) {
      return `HTTP ${error.status} ${said.join(': ')}`;
    }
  } catch {
    // not JSON: the status and the start of the body say it
  }
  return `HTTP ${error.status}${error.body ? ` ${error.body.slice(0, 200).trim()}` : ''}`;
}

/** A W3C ClearKey license: a JSON Web Key Set. */
interface ClearKeyLicense {
  readonly keys?: unknown;
}

function parseLicense(body: Buffer, region: string): ClearKeyLicense {
  let license: unknown;
  try {
    license = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ProtectionError(`region ${region} answered the ClearKey license request with a body that is not JSON`);
  }
  if (typeof license !== 'object' || license === null) {
    throw new ProtectionError(`region ${region} answered the ClearKey license request with JSON that is not a key set`);
  }
  return license;
}

/** The 16-byte key for `kid` in a license. */
function keyIn(license: ClearKeyLicense, kid: string, region: string): Buffer {
  const entries = (Array.isArray(license.keys) ? license.keys : []) as { kty?: unknown; kid?: unknown; k?: unknown }[];
  const entry = entries.find((key) => typeof key === 'object' && key !== null && typeof key.kid === 'string' && kidFromBase64Url(key.kid) === kid);
  const key = typeof entry?.k === 'string' && /^[A-Za-z0-9_-]{22}$/.test(entry.k) ? Buffer.from(entry.k, 'base64url') : undefined;
  if (entry?.kty !== 'oct' || key?.length !== 16) {
    throw new ProtectionError(`region ${region}'s ClearKey license has no 16-byte 'oct' key for key id ${kid}`);
  }
  return key;
}
