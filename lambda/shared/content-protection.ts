/**
 * Content protection's shared vocabulary: the DRM systems a protected title is packaged for, the
 * key groups its renditions are encrypted under (MediaConvert's SPEKE v2 presets PRESET-VIDEO-6
 * and PRESET-AUDIO-1), and the shape of one content key. The ladder, the key provider, the
 * license route, the local packager and the players all speak these names.
 */

/** The DRM systems, by the DASH-IF system id each is signalled with (lowercase, hyphenated). */
export const DRM_SYSTEMS = {
  clearkey: { systemId: 'e2719d58-a985-b3c9-781a-b030af78d30e', keySystem: 'org.w3.clearkey' },
  widevine: { systemId: 'edef8ba9-79d6-4ace-a3c8-27dcd51d21ed', keySystem: 'com.widevine.alpha' },
  playready: { systemId: '9a04f079-9840-4286-ab92-e65be0885f95', keySystem: 'com.microsoft.playready' },
  fairplay: { systemId: '94ce86fb-07ff-4f43-adb8-93d2fa968ca2', keySystem: 'com.apple.fps' },
} as const;
export type DrmSystem = keyof typeof DRM_SYSTEMS;
export const DRM_SYSTEM_NAMES = Object.keys(DRM_SYSTEMS) as DrmSystem[];

/**
 * The W3C "common" PSSH system id: a PSSH box under it lists key ids only, which is what ClearKey
 * players read from an init segment.
 */
export const COMMON_PSSH_SYSTEM_ID = '1077efec-c0b2-4d02-ace3-3c1e52e2fb4b';

/**
 * One key per group, as the SPEKE v2 presets PRESET-VIDEO-6 and PRESET-AUDIO-1 cut them (the
 * names are CPIX `IntendedTrackType` values): SD up to 1024x576 pixels, HD1 up to 1280x720, HD2 up
 * to 1920x1080, UHD above, and one key for all audio. The video groups follow the plans' height
 * caps (720, 1080, 2160), so a license can grant a plan every key it may use and no key that opens
 * anything taller.
 */
export type KeyGroup = 'AUDIO' | 'SD' | 'HD1' | 'HD2' | 'UHD';
export const KEY_GROUPS: readonly KeyGroup[] = ['AUDIO', 'SD', 'HD1', 'HD2', 'UHD'];
/** MediaConvert's SPEKE v2 presets that cut keys into `KEY_GROUPS`. */
export const SPEKE_PRESETS = { video: 'PRESET_VIDEO_6', audio: 'PRESET_AUDIO_1' } as const;

/** The largest picture, in pixels, of each video group but UHD, smallest first; UHD has no ceiling. */
export const VIDEO_GROUP_MAX_PIXELS = { SD: 1024 * 576, HD1: 1280 * 720, HD2: 1920 * 1080 } as const;

/** The key group of a video rendition of `width` x `height`. */
export function videoKeyGroup(width: number, height: number): Exclude<KeyGroup, 'AUDIO'> {
  const pixels = width * height;
  for (const [group, maxPixels] of Object.entries(VIDEO_GROUP_MAX_PIXELS) as [keyof typeof VIDEO_GROUP_MAX_PIXELS, number][]) {
    if (pixels <= maxPixels) {
      return group;
    }
  }
  return 'UHD';
}

/** One content key in the clear, as only the key provider, the packager and a license ever hold it. */
export interface ContentKey {
  readonly titleId: string;
  readonly group: KeyGroup;
  /** 16-byte key id as 32 lowercase hex digits. */
  readonly kid: string;
  /** 16-byte AES-128 key. */
  readonly key: Buffer;
}

/** 32 lowercase hex digits: a key id in the form stores and packagers use. */
export const KID_PATTERN = /^[0-9a-f]{32}$/;

/** `0123...` to `01234567-89ab-...`: the UUID form CPIX and MPDs write key ids in. */
export function kidToUuid(kid: string): string {
  return `${kid.slice(0, 8)}-${kid.slice(8, 12)}-${kid.slice(12, 16)}-${kid.slice(16, 20)}-${kid.slice(20)}`;
}

/** The UUID form back to 32 hex digits; undefined when it is not a UUID. */
export function kidFromUuid(uuid: string): string | undefined {
  const kid = uuid.replace(/-/g, '').toLowerCase();
  return KID_PATTERN.test(kid) && /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(uuid) ? kid : undefined;
}

/** Base64url without padding, as W3C ClearKey writes key ids and keys (JWK `kid` and `k`). */
export function toBase64Url(bytes: Buffer): string {
  return bytes.toString('base64url');
}

/** A key id (32 hex digits) as W3C ClearKey writes it: the 16 bytes in base64url without padding. */
export function kidToBase64Url(kid: string): string {
  return toBase64Url(Buffer.from(kid, 'hex'));
}

/**
 * A W3C ClearKey key id back to 32 hex digits; undefined unless it is exactly 16 bytes in
 * canonical base64url without padding (22 characters whose unused last bits are zero), so one key
 * id has one spelling and nothing else decodes to it.
 */
export function kidFromBase64Url(text: string): string | undefined {
  if (!/^[A-Za-z0-9_-]{22}$/.test(text)) {
    return undefined;
  }
  const bytes = Buffer.from(text, 'base64url');
  return bytes.length === 16 && toBase64Url(bytes) === text ? bytes.toString('hex') : undefined;
}
