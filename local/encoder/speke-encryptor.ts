import { createHash, randomBytes } from 'node:crypto';
import { CPIX_NAMESPACE, CPIX_VERSION, EncryptionScheme, parseSpekeRequest, PSKC_NAMESPACE, SpekeRequest } from '../../lambda/keys/cpix';
import { attributeOf, escapeXml, parseXml, XmlElement } from '../../lambda/keys/strict-xml';
import { DRM_SYSTEMS, DrmSystem, KEY_GROUPS, KeyGroup, kidFromUuid, kidToUuid, VIDEO_GROUP_MAX_PIXELS } from '../../lambda/shared/content-protection';
import { CbcsKey } from './cmaf-encrypt';

/**
 * LOCAL STAND-IN for MediaConvert's side of SPEKE v2.0, for the local platform: the CPIX 2.3
 * request a CMAF job with the ladder's presets (`SPEKE_PRESETS`) sends (one key per track type of
 * `KEY_GROUPS`, cbcs, each with the DRM systems the manifests signal), handed to the key provider
 * as its handler hands a parsed request over, and the content keys read back out of the CPIX
 * response, as MediaConvert reads them, never from the key store.
 *
 * Key ids are derived from the title id, so a re-encode of a title asks for the kids it asked for
 * before and the key provider's get-or-create hands back the same keys: segments an appliance
 * already holds stay playable. The keys themselves are the key provider's, random. Each key's
 * constant IV (cbcs) is sent as `explicitIV` and taken from the response, as MediaConvert takes it.
 *
 * No error here carries key material: errors name elements, attributes and key ids.
 */

/** What answers a SPEKE request: the key provider (`KeyProvider` in `lambda/keys/key-provider.ts`). */
export interface SpekeKeyProvider {
  provideKeys(request: SpekeRequest): Promise<string>;
}

/** One key the encryptor asks for. */
export interface RequestedKey {
  readonly group: KeyGroup;
  /** 32 lowercase hex digits. */
  readonly kid: string;
  /** 16 bytes: cbcs's constant IV, sent as `explicitIV`. */
  readonly constantIv: Buffer;
}

export interface TitleKeyRequest {
  /** The title id: SPEKE's content id, under which the key provider files the keys. */
  readonly titleId: string;
  /** @default ['clearkey'] - the only system the platform licenses without a commercial provider */
  readonly systems?: readonly DrmSystem[];
  /** @default 'cbcs' */
  readonly scheme?: EncryptionScheme;
}

/** A CPIX response the encryptor cannot use: `where` names the element or attribute. */
export class CpixResponseError extends Error {
  constructor(where: string, rule: string) {
    super(`CPIX response ${where}: ${rule}`);
    this.name = 'CpixResponseError';
  }
}

/**
 * A track type's usage-rule filter as MediaConvert writes it: audio, or the picture sizes the video
 * preset gives the group, each group starting one pixel above the last one's ceiling.
 */
function usageFilter(group: KeyGroup): string {
  if (group === 'AUDIO') {
    return '<cpix:AudioFilter/>';
  }
  const ceilings = Object.entries(VIDEO_GROUP_MAX_PIXELS) as [KeyGroup, number][];
  const index = group === 'UHD' ? ceilings.length : ceilings.findIndex(([name]) => name === group);
  const min = index > 0 ? ` minPixels="${ceilings[index - 1][1] + 1}"` : '';
  const max = index < ceilings.length ? ` maxPixels="${ceilings[index][1]}"` : '';
  return `<cpix:VideoFilter${min}${max}/>`;
}

/** The kid this stand-in asks for a title's `group`: stable per title, distinct per group. */
export function localKeyId(titleId: string, group: KeyGroup): string {
  return createHash('sha256').update(`nearstream-local-kid\u0000${titleId}\u0000${group}`).digest().subarray(0, 16).toString('hex');
}

/** The keys of a title's request, one per track type, each with a fresh constant IV. */
export function keysToRequest(titleId: string): RequestedKey[] {
  return KEY_GROUPS.map((group) => ({ group, kid: localKeyId(titleId, group), constantIv: randomBytes(16) }));
}

/**
 * The CPIX 2.3 document MediaConvert sends for a CMAF group under its video and audio presets
 * (`SPEKE_PRESETS`): a ContentKey per key, a DRMSystem per key and system asking for its PSSH, DASH
 * ContentProtection data and both HLS playlists' tags, one key period, and the usage rules.
 */
export function spekeRequestDocument(titleId: string, keys: readonly RequestedKey[], options: Omit<TitleKeyRequest, 'titleId'> = {}): string {
  const systems = options.systems ?? ['clearkey'];
  const scheme = options.scheme ?? 'cbcs';
  const period = `keyPeriod_${kidToUuid(createHash('sha256').update(titleId).digest('hex').slice(0, 32))}`;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<cpix:CPIX contentId="${escapeXml(titleId)}" version="${CPIX_VERSION}" xmlns:cpix="${CPIX_NAMESPACE}" xmlns:pskc="${PSKC_NAMESPACE}">`,
    '  <cpix:ContentKeyList>',
    ...keys.map((key) => `    <cpix:ContentKey kid="${kidToUuid(key.kid)}" commonEncryptionScheme="${scheme}" explicitIV="${key.constantIv.toString('base64')}"/>`),
    '  </cpix:ContentKeyList>',
    '  <cpix:DRMSystemList>',
    ...systems.flatMap((system) =>
      keys.map(
        (key) =>
          `    <cpix:DRMSystem kid="${kidToUuid(key.kid)}" systemId="${DRM_SYSTEMS[system].systemId}">` +
          (system === 'fairplay' ? '' : '<cpix:PSSH/><cpix:ContentProtectionData/>') +
          '<cpix:HLSSignalingData playlist="media"/><cpix:HLSSignalingData playlist="master"/></cpix:DRMSystem>',
      ),
    ),
    '  </cpix:DRMSystemList>',
    '  <cpix:ContentKeyPeriodList>',
    `    <cpix:ContentKeyPeriod id="${period}" index="0"/>`,
    '  </cpix:ContentKeyPeriodList>',
    '  <cpix:ContentKeyUsageRuleList>',
    ...keys.map(
      (key) =>
        `    <cpix:ContentKeyUsageRule kid="${kidToUuid(key.kid)}" intendedTrackType="${key.group}"><cpix:KeyPeriodFilter periodId="${period}"/>${usageFilter(key.group)}</cpix:ContentKeyUsageRule>`,
    ),
    '  </cpix:ContentKeyUsageRuleList>',
    '</cpix:CPIX>',
  ];
  return `${lines.join('\n')}\n`;
}

function childrenNamed(element: XmlElement, namespace: string, localName: string): XmlElement[] {
  return element.children.filter((child) => child.namespace === namespace && child.localName === localName);
}

function onlyChild(element: XmlElement, namespace: string, localName: string, where: string): XmlElement {
  const found = childrenNamed(element, namespace, localName);
  if (found.length !== 1) {
    throw new CpixResponseError(where, `has ${found.length} ${localName} elements where one is required`);
  }
  return found[0];
}

/**
 * The content keys of a CPIX response to a request for `asked`, by group: each asked kid once, with
 * a 16-byte `PlainValue`, the `explicitIV` sent, and a DRMSystem of each system asked for. Throws a
 * `CpixResponseError` naming what is missing or wrong.
 */
export function keysFromCpixResponse(document: string, titleId: string, asked: readonly RequestedKey[], systems: readonly DrmSystem[] = ['clearkey']): Map<KeyGroup, CbcsKey> {
  const root = parseXml(document);
  if (root.namespace !== CPIX_NAMESPACE || root.localName !== 'CPIX') {
    throw new CpixResponseError('root', `is <${root.qualifiedName}>, not a CPIX document`);
  }
  if (attributeOf(root, 'contentId') !== titleId) {
    throw new CpixResponseError('CPIX@contentId', `is not the title asked for (${titleId})`);
  }
  const answered = new Map<string, { key: Buffer; iv: string | undefined }>();
  childrenNamed(onlyChild(root, CPIX_NAMESPACE, 'ContentKeyList', 'CPIX'), CPIX_NAMESPACE, 'ContentKey').forEach((element, index) => {
    const where = `ContentKeyList/ContentKey[${index + 1}]`;
    const kid = kidFromUuid(attributeOf(element, 'kid') ?? '');
    if (kid === undefined) {
      throw new CpixResponseError(`${where}@kid`, 'is missing or not a UUID');
    }
    const data = onlyChild(element, CPIX_NAMESPACE, 'Data', where);
    const secret = onlyChild(data, PSKC_NAMESPACE, 'Secret', `${where}/Data`);
    const plain = onlyChild(secret, PSKC_NAMESPACE, 'PlainValue', `${where}/Data/Secret`).text.trim();
    const key = Buffer.from(plain, 'base64');
    if (key.length !== 16 || key.toString('base64') !== plain) {
      throw new CpixResponseError(`${where}/Data/Secret/PlainValue`, `is not the base64 of a 16-byte key (kid ${kid})`);
    }
    answered.set(kid, { key, iv: attributeOf(element, 'explicitIV') });
  });
  const drmSystems = childrenNamed(onlyChild(root, CPIX_NAMESPACE, 'DRMSystemList', 'CPIX'), CPIX_NAMESPACE, 'DRMSystem').map((element) => ({
    kid: kidFromUuid(attributeOf(element, 'kid') ?? ''),
    systemId: attributeOf(element, 'systemId')?.toLowerCase(),
  }));
  const keys = new Map<KeyGroup, CbcsKey>();
  for (const { group, kid, constantIv } of asked) {
    const found = answered.get(kid);
    if (!found) {
      throw new CpixResponseError('ContentKeyList', `has no ContentKey for the ${group} kid ${kidToUuid(kid)}`);
    }
    if (found.iv !== constantIv.toString('base64')) {
      throw new CpixResponseError('ContentKeyList', `the ContentKey of kid ${kidToUuid(kid)} does not repeat the explicitIV sent`);
    }
    for (const system of systems) {
      if (!drmSystems.some((drm) => drm.kid === kid && drm.systemId === DRM_SYSTEMS[system].systemId)) {
        throw new CpixResponseError('DRMSystemList', `has no ${system} DRMSystem for kid ${kidToUuid(kid)}`);
      }
    }
    keys.set(group, { kid, key: found.key, constantIv });
  }
  return keys;
}

/**
 * A title's content keys, one per group, as MediaConvert gets them before it encrypts a segment:
 * the request document, parsed as the key provider's handler parses it, answered by `provider`,
 * and the keys read out of the answer.
 */
export async function requestTitleKeys(provider: SpekeKeyProvider, request: TitleKeyRequest): Promise<Map<KeyGroup, CbcsKey>> {
  const asked = keysToRequest(request.titleId);
  const document = await provider.provideKeys(parseSpekeRequest(spekeRequestDocument(request.titleId, asked, request)));
  return keysFromCpixResponse(document, request.titleId, asked, request.systems);
}
