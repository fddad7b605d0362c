import {
  COMMON_PSSH_SYSTEM_ID,
  ContentKey,
  DRM_SYSTEMS,
  DRM_SYSTEM_NAMES,
  DrmSystem,
  KEY_GROUPS,
  KeyGroup,
  kidFromUuid,
} from '../shared/content-protection';
import { attributeOf, escapeXml, parseXml, XmlElement, XmlSyntaxError } from './strict-xml';

/**
 * SPEKE v2.0 (CPIX 2.3) as the key provider speaks it, with no AWS in it: what a request may ask
 * for (`parseSpekeRequest`) and the document that answers it (`renderCpixResponse`).
 *
 * MediaConvert encrypts CMAF output with the presets PRESET-VIDEO-6 and PRESET-AUDIO-1, so one
 * request carries at most five content keys, one per `ContentKeyUsageRule@intendedTrackType`
 * (AUDIO, SD, HD1, HD2, UHD), all under one scheme (cbcs; cenc is accepted too). The answer is the
 * request with every element filled in, as the SPEKE v2 profile requires ("all elements and
 * attributes included by the encryptor keep a valid value in the response"): each key in
 * `Data/Secret/PlainValue`, each requested DRM system's signalling, and the period and usage-rule
 * lists as they came.
 *
 * DRM systems: Nearstream licenses ClearKey itself and fills its DRMSystem elements here (a W3C
 * common PSSH, DASH ContentProtection data naming our license URL, HLS key tags). Widevine,
 * PlayReady and FairPlay signalling is the business of a commercial DRM provider: it is filled
 * only by a `CommercialDrmSignaller` the caller configures, and a request naming one of those
 * systems without its signaller is refused (`unservedDrmSystems`), because answering without the
 * element's data would break the profile and leaving the element out would ship renditions that
 * signal a DRM nobody licenses.
 *
 * Nothing here writes key material into an error: errors name elements, attributes and key ids.
 */

export const CPIX_NAMESPACE = 'urn:dashif:org:cpix';
export const PSKC_NAMESPACE = 'urn:ietf:params:xml:ns:keyprov:pskc';
/** XML Encryption: only in encrypted key delivery (`DeliveryDataList`), which this provider refuses. */
export const XMLENC_NAMESPACE = 'http://www.w3.org/2001/04/xmlenc#';

/** The `X-Speke-Version` a request must carry, and the response echoes. */
export const SPEKE_VERSION = '2.0';
/** The `CPIX@version` SPEKE v2.0 pairs with. */
export const CPIX_VERSION = '2.3';

/**
 * The largest request read. A PRESET-VIDEO-6 + PRESET-AUDIO-1 request for all four DRM systems
 * is about 12 KB; this leaves room for comments and formatting and nothing else.
 */
export const MAX_CPIX_REQUEST_BYTES = 64 * 1024;
/** One key per key group. */
export const MAX_CONTENT_KEYS = KEY_GROUPS.length;

export type EncryptionScheme = 'cbcs' | 'cenc';
const SCHEMES: readonly EncryptionScheme[] = ['cbcs', 'cenc'];

/** What MediaConvert may ask of one DRMSystem element (the element names, HLS ones by playlist). */
export type DrmSignal = 'PSSH' | 'ContentProtectionData' | 'HLSSignalingData:media' | 'HLSSignalingData:master' | 'URIExtXKey';

export interface RequestedContentKey {
  /** 32 lowercase hex digits, as the store keys it. */
  readonly kid: string;
  /** The UUID exactly as the request wrote it: the response repeats it. */
  readonly kidAsSent: string;
  readonly group: KeyGroup;
  /** `ContentKey@explicitIV` as sent (base64 of 16 bytes), repeated in the response; absent when not sent. */
  readonly explicitIv?: string;
}

export interface RequestedDrmSystem {
  readonly kid: string;
  readonly kidAsSent: string;
  /** Lowercase, hyphenated. */
  readonly systemId: string;
  /** As the request wrote it: the response repeats it. */
  readonly systemIdAsSent: string;
  readonly system: DrmSystem;
  /** The child elements to fill, in the request's order. */
  readonly signals: readonly DrmSignal[];
}

/** A parsed, validated SPEKE v2.0 request. */
export interface SpekeRequest {
  /** `CPIX@contentId` as sent; the key provider takes it for the title id. */
  readonly contentId: string;
  readonly commonEncryptionScheme: EncryptionScheme;
  readonly contentKeys: readonly RequestedContentKey[];
  readonly drmSystems: readonly RequestedDrmSystem[];
  /** `ContentKeyPeriodList` and `ContentKeyUsageRuleList`, echoed in the response as they came. */
  readonly echoed: { readonly periods?: XmlElement; readonly usageRules: XmlElement };
}

/**
 * A request the provider will not serve, and why: `where` names the element or attribute
 * (`ContentKeyList/ContentKey[2]@kid`), `rule` what is wrong with it. The handler answers 400.
 */
export class SpekeRequestError extends Error {
  constructor(
    readonly where: string,
    readonly rule: string,
  ) {
    super(`${where}: ${rule}`);
    this.name = 'SpekeRequestError';
  }
}

const UUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** Base64 of exactly 16 bytes. */
const IV_PATTERN = /^[A-Za-z0-9+/]{21}[AQgw]==$/;
const MAX_CONTENT_ID_CHARS = 256;

const SYSTEM_BY_ID = new Map<string, DrmSystem>(DRM_SYSTEM_NAMES.map((name) => [DRM_SYSTEMS[name].systemId, name]));

/** The CPIX elements the echoed lists may hold (filters SPEKE v2 defines or ignores). */
const ECHOED_ELEMENTS: Record<string, readonly string[]> = {
  ContentKeyPeriodList: ['ContentKeyPeriod'],
  ContentKeyPeriod: [],
  ContentKeyUsageRuleList: ['ContentKeyUsageRule'],
  ContentKeyUsageRule: ['KeyPeriodFilter', 'VideoFilter', 'AudioFilter', 'BitrateFilter', 'LabelFilter'],
  KeyPeriodFilter: [],
  VideoFilter: [],
  AudioFilter: [],
  BitrateFilter: [],
  LabelFilter: [],
};

/**
 * Reads a SPEKE v2.0 request body. Refuses, with a `SpekeRequestError` naming the element or
 * attribute: a body over `MAX_CPIX_REQUEST_BYTES` or not UTF-8; XML the strict parser refuses
 * (DOCTYPE, entities, processing instructions, excessive nesting); a root other than `cpix:CPIX`;
 * `CPIX@version` other than 2.3; a missing or empty `contentId`; a missing list; encrypted key
 * delivery; more than one key period (rotation); a key id that is not a UUID or is repeated; a
 * scheme other than cbcs or cenc, or mixed schemes; a track type other than AUDIO, SD, HD, UHD,
 * a key without one, or two keys for one; an unknown DRM system id or one for a key not listed;
 * any element or attribute SPEKE v2 does not define for a request.
 */
export function parseSpekeRequest(body: string | Uint8Array): SpekeRequest {
  const size = typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.byteLength;
  if (size > MAX_CPIX_REQUEST_BYTES) {
    throw new SpekeRequestError('body', `is ${size} bytes; a CPIX request may be at most ${MAX_CPIX_REQUEST_BYTES}`);
  }
  let text: string;
  if (typeof body === 'string') {
    text = body;
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      throw new SpekeRequestError('body', 'is not UTF-8 text');
    }
  }
  if (text.trim() === '') {
    throw new SpekeRequestError('body', 'a CPIX document is required');
  }
  let root: XmlElement;
  try {
    root = parseXml(text);
  } catch (error) {
    if (error instanceof XmlSyntaxError) {
      throw new SpekeRequestError(error.where, error.rule);
    }
    throw error;
  }
  return readCpix(root);
}

function readCpix(root: XmlElement): SpekeRequest {
  if (root.namespace !== CPIX_NAMESPACE || root.localName !== 'CPIX') {
    throw new SpekeRequestError('CPIX', `the root element must be CPIX in namespace ${CPIX_NAMESPACE} (found <${root.qualifiedName}>)`);
  }
  onlyAttributes(root, 'CPIX', ['contentId', 'version']);
  const version = attributeOf(root, 'version');
  if (version === undefined) {
    throw new SpekeRequestError('CPIX@version', `is missing; SPEKE v${SPEKE_VERSION} sends ${CPIX_VERSION}`);
  }
  if (version !== CPIX_VERSION) {
    throw new SpekeRequestError('CPIX@version', `${quoted(version)} is not supported; SPEKE v${SPEKE_VERSION} uses CPIX ${CPIX_VERSION}`);
  }
  const contentId = attributeOf(root, 'contentId');
  if (contentId === undefined || contentId.trim() === '') {
    throw new SpekeRequestError('CPIX@contentId', 'is missing or empty');
  }
  if (contentId.length > MAX_CONTENT_ID_CHARS || !/^[\x20-\x7e]+$/.test(contentId)) {
    throw new SpekeRequestError('CPIX@contentId', `must be 1-${MAX_CONTENT_ID_CHARS} printable ASCII characters`);
  }
  noText(root, 'CPIX');

  const lists = new Map<string, XmlElement>();
  for (const child of root.children) {
    if (child.namespace !== CPIX_NAMESPACE) {
      throw new SpekeRequestError(`CPIX/${child.qualifiedName}`, 'is not a CPIX element');
    }
    if (child.localName === 'DeliveryDataList') {
      throw new SpekeRequestError(
        'CPIX/DeliveryDataList',
        'encrypted content key delivery is not supported; configure the SPEKE endpoint without a certificate (keys travel in PlainValue over TLS to an IAM-authorized endpoint)',
      );
    }
    if (!['ContentKeyList', 'DRMSystemList', 'ContentKeyPeriodList', 'ContentKeyUsageRuleList'].includes(child.localName)) {
      throw new SpekeRequestError(`CPIX/${child.localName}`, 'is not supported by SPEKE v2.0 requests');
    }
    if (lists.has(child.localName)) {
      throw new SpekeRequestError(`CPIX/${child.localName}`, 'appears more than once');
    }
    lists.set(child.localName, child);
  }
  const keyList = requiredList(lists, 'ContentKeyList');
  const drmList = requiredList(lists, 'DRMSystemList');
  const ruleList = requiredList(lists, 'ContentKeyUsageRuleList');
  const periodList = lists.get('ContentKeyPeriodList');

  const { keys, scheme } = readContentKeys(keyList);
  const groups = readUsageRules(ruleList, keys);
  if (periodList) {
    checkEchoed(periodList, 'ContentKeyPeriodList');
    if (periodList.children.length > 1) {
      throw new SpekeRequestError('ContentKeyPeriodList', 'lists more than one period; key rotation is not supported (video on demand only)');
    }
  }
  const drmSystems = readDrmSystems(drmList, keys);

  return {
    contentId,
    commonEncryptionScheme: scheme,
    contentKeys: [...keys.values()].map((key) => ({
      kid: key.kid,
      kidAsSent: key.kidAsSent,
      group: groups.get(key.kid)!,
      ...(key.explicitIv !== undefined ? { explicitIv: key.explicitIv } : {}),
    })),
    drmSystems,
    echoed: { ...(periodList ? { periods: periodList } : {}), usageRules: ruleList },
  };
}

interface ListedKey {
  readonly kid: string;
  readonly kidAsSent: string;
  readonly explicitIv?: string;
}

function readContentKeys(list: XmlElement): { keys: Map<string, ListedKey>; scheme: EncryptionScheme } {
  noText(list, 'ContentKeyList');
  if (list.children.length === 0) {
    throw new SpekeRequestError('ContentKeyList', 'lists no ContentKey');
  }
  if (list.children.length > MAX_CONTENT_KEYS) {
    throw new SpekeRequestError(
      'ContentKeyList',
      `lists ${list.children.length} keys; at most ${MAX_CONTENT_KEYS} (one per track type ${KEY_GROUPS.join(', ')}: presets PRESET-VIDEO-6 and PRESET-AUDIO-1)`,
    );
  }
  const keys = new Map<string, ListedKey>();
  let scheme: EncryptionScheme | undefined;
  list.children.forEach((element, index) => {
    const where = `ContentKeyList/ContentKey[${index + 1}]`;
    expectElement(element, 'ContentKey', `ContentKeyList/${element.qualifiedName}`);
    onlyAttributes(element, where, ['kid', 'commonEncryptionScheme', 'explicitIV']);
    if (element.children.length > 0) {
      throw new SpekeRequestError(`${where}/${element.children[0].localName}`, 'a request carries no key material; the key provider makes the keys');
    }
    noText(element, where);
    const { kid, kidAsSent } = uuidAttribute(element, where, 'kid');
    if (keys.has(kid)) {
      throw new SpekeRequestError(`${where}@kid`, `repeats the key id of an earlier ContentKey (${kidAsSent})`);
    }
    const keyScheme = attributeOf(element, 'commonEncryptionScheme');
    if (keyScheme === undefined) {
      throw new SpekeRequestError(`${where}@commonEncryptionScheme`, `is missing for kid ${kidAsSent}`);
    }
    if (!(SCHEMES as readonly string[]).includes(keyScheme)) {
      throw new SpekeRequestError(`${where}@commonEncryptionScheme`, `${quoted(keyScheme)} is not supported; use cbcs (or cenc)`);
    }
    if (scheme !== undefined && keyScheme !== scheme) {
      throw new SpekeRequestError(`${where}@commonEncryptionScheme`, `is ${keyScheme} where earlier keys use ${scheme}; one request uses one scheme`);
    }
    scheme = keyScheme as EncryptionScheme;
    const explicitIv = attributeOf(element, 'explicitIV');
    if (explicitIv !== undefined && !IV_PATTERN.test(explicitIv)) {
      throw new SpekeRequestError(`${where}@explicitIV`, 'must be the base64 of 16 bytes');
    }
    keys.set(kid, { kid, kidAsSent, ...(explicitIv !== undefined ? { explicitIv } : {}) });
  });
  return { keys, scheme: scheme! };
}

function readUsageRules(list: XmlElement, keys: ReadonlyMap<string, ListedKey>): Map<string, KeyGroup> {
  checkEchoed(list, 'ContentKeyUsageRuleList');
  const groups = new Map<string, KeyGroup>();
  const kidOfGroup = new Map<KeyGroup, string>();
  list.children.forEach((rule, index) => {
    const where = `ContentKeyUsageRuleList/ContentKeyUsageRule[${index + 1}]`;
    const { kid, kidAsSent } = uuidAttribute(rule, where, 'kid');
    if (!keys.has(kid)) {
      throw new SpekeRequestError(`${where}@kid`, `${kidAsSent} is not a key of ContentKeyList`);
    }
    if (groups.has(kid)) {
      throw new SpekeRequestError(`${where}@kid`, `${kidAsSent} already has a usage rule; one key serves one track type`);
    }
    const trackType = attributeOf(rule, 'intendedTrackType');
    if (trackType === undefined) {
      throw new SpekeRequestError(`${where}@intendedTrackType`, `is missing for kid ${kidAsSent}`);
    }
    if (!(KEY_GROUPS as readonly string[]).includes(trackType)) {
      throw new SpekeRequestError(
        `${where}@intendedTrackType`,
        `${quoted(trackType)} is not one of ${KEY_GROUPS.join(', ')} (presets PRESET-VIDEO-6 and PRESET-AUDIO-1)`,
      );
    }
    const group = trackType as KeyGroup;
    const other = kidOfGroup.get(group);
    if (other !== undefined) {
      throw new SpekeRequestError(`${where}@intendedTrackType`, `${group} is already the track type of kid ${other}; one key per track type`);
    }
    groups.set(kid, group);
    kidOfGroup.set(group, kidAsSent);
  });
  for (const key of keys.values()) {
    if (!groups.has(key.kid)) {
      throw new SpekeRequestError('ContentKeyUsageRuleList', `has no ContentKeyUsageRule for kid ${key.kidAsSent}`);
    }
  }
  return groups;
}

function readDrmSystems(list: XmlElement, keys: ReadonlyMap<string, ListedKey>): RequestedDrmSystem[] {
  noText(list, 'DRMSystemList');
  const seen = new Set<string>();
  return list.children.map((element, index) => {
    const where = `DRMSystemList/DRMSystem[${index + 1}]`;
    expectElement(element, 'DRMSystem', `DRMSystemList/${element.qualifiedName}`);
    onlyAttributes(element, where, ['kid', 'systemId']);
    noText(element, where);
    const { kid, kidAsSent } = uuidAttribute(element, where, 'kid');
    if (!keys.has(kid)) {
      throw new SpekeRequestError(`${where}@kid`, `${kidAsSent} is not a key of ContentKeyList`);
    }
    const systemIdAsSent = attributeOf(element, 'systemId');
    if (systemIdAsSent === undefined) {
      throw new SpekeRequestError(`${where}@systemId`, 'is missing');
    }
    if (!UUID_PATTERN.test(systemIdAsSent)) {
      throw new SpekeRequestError(`${where}@systemId`, 'is not a UUID (8-4-4-4-12 hex digits)');
    }
    const systemId = systemIdAsSent.toLowerCase();
    const system = SYSTEM_BY_ID.get(systemId);
    if (system === undefined) {
      throw new SpekeRequestError(
        `${where}@systemId`,
        `${systemId} is not a DRM system Nearstream packages for (${DRM_SYSTEM_NAMES.map((name) => `${name} ${DRM_SYSTEMS[name].systemId}`).join(', ')})`,
      );
    }
    if (seen.has(`${kid}/${systemId}`)) {
      throw new SpekeRequestError(where, `repeats the DRMSystem of kid ${kidAsSent} and system ${system}`);
    }
    seen.add(`${kid}/${systemId}`);
    const signals: DrmSignal[] = [];
    element.children.forEach((child) => {
      const childWhere = `${where}/${child.localName}`;
      if (child.namespace !== CPIX_NAMESPACE) {
        throw new SpekeRequestError(`${where}/${child.qualifiedName}`, 'is not a CPIX element');
      }
      if (child.children.length > 0 || child.text.trim() !== '') {
        throw new SpekeRequestError(childWhere, 'must be empty in a request; the key provider fills it');
      }
      let signal: DrmSignal;
      switch (child.localName) {
        case 'PSSH':
        case 'ContentProtectionData':
        case 'URIExtXKey':
          onlyAttributes(child, childWhere, []);
          signal = child.localName;
          break;
        case 'HLSSignalingData': {
          onlyAttributes(child, childWhere, ['playlist']);
          const playlist = attributeOf(child, 'playlist');
          if (playlist !== 'media' && playlist !== 'master') {
            throw new SpekeRequestError(`${childWhere}@playlist`, "must be 'media' or 'master'");
          }
          signal = `HLSSignalingData:${playlist}`;
          break;
        }
        default:
          throw new SpekeRequestError(childWhere, 'is not supported (PSSH, ContentProtectionData, HLSSignalingData and URIExtXKey are)');
      }
      if (signals.includes(signal)) {
        throw new SpekeRequestError(childWhere, 'appears more than once');
      }
      signals.push(signal);
    });
    return { kid, kidAsSent, systemId, systemIdAsSent, system, signals };
  });
}

function requiredList(lists: ReadonlyMap<string, XmlElement>, name: string): XmlElement {
  const list = lists.get(name);
  if (!list) {
    throw new SpekeRequestError(`CPIX/${name}`, 'is missing');
  }
  return list;
}

/** Echoed lists hold CPIX elements of the known kinds, attributes in no namespace, and no text. */
function checkEchoed(element: XmlElement, where: string): void {
  const allowed = ECHOED_ELEMENTS[element.localName] ?? [];
  noText(element, where);
  for (const attribute of element.attributes) {
    if (attribute.namespace !== undefined) {
      throw new SpekeRequestError(`${where}@${attribute.qualifiedName}`, 'is not a CPIX attribute');
    }
  }
  element.children.forEach((child, index) => {
    const childWhere = `${where}/${child.localName}[${index + 1}]`;
    if (child.namespace !== CPIX_NAMESPACE || !allowed.includes(child.localName)) {
      throw new SpekeRequestError(`${where}/${child.qualifiedName}`, `is not supported here${allowed.length > 0 ? ` (${allowed.join(', ')} are)` : ''}`);
    }
    checkEchoed(child, childWhere);
  });
}

function expectElement(element: XmlElement, localName: string, where: string): void {
  if (element.namespace !== CPIX_NAMESPACE || element.localName !== localName) {
    throw new SpekeRequestError(where, `is not a CPIX ${localName}`);
  }
}

function onlyAttributes(element: XmlElement, where: string, allowed: readonly string[]): void {
  for (const attribute of element.attributes) {
    if (attribute.namespace !== undefined || !allowed.includes(attribute.localName)) {
      throw new SpekeRequestError(`${where}@${attribute.qualifiedName}`, `is not supported${allowed.length > 0 ? ` (${allowed.join(', ')} are)` : ''}`);
    }
  }
}

function noText(element: XmlElement, where: string): void {
  if (element.text.trim() !== '') {
    throw new SpekeRequestError(where, 'holds text where CPIX has only elements');
  }
}

function uuidAttribute(element: XmlElement, where: string, name: string): { kid: string; kidAsSent: string } {
  const value = attributeOf(element, name);
  if (value === undefined) {
    throw new SpekeRequestError(`${where}@${name}`, 'is missing');
  }
  const kid = kidFromUuid(value);
  if (kid === undefined) {
    throw new SpekeRequestError(`${where}@${name}`, 'is not a UUID (8-4-4-4-12 hex digits)');
  }
  return { kid, kidAsSent: value };
}

/** A request value for a message: short printable ASCII as is, anything else only by its length. */
function quoted(value: string): string {
  return /^[\x20-\x7e]{0,40}$/.test(value) ? `'${value}'` : `(a value of ${value.length} characters)`;
}

// ---------------------------------------------------------------------------------------------
// The response
// ---------------------------------------------------------------------------------------------

/** What one DRMSystem element of a response carries, unencoded; the renderer base64-encodes it. */
export interface DrmSystemData {
  /** The whole PSSH box. */
  readonly pssh?: Buffer;
  /** XML for the DASH `ContentProtection` element, standalone (its namespaces declared). */
  readonly contentProtectionData?: string;
  /** The media playlist's `#EXT-X-KEY` line. */
  readonly hlsMedia?: string;
  /** The multivariant playlist's `#EXT-X-SESSION-KEY` line. */
  readonly hlsMaster?: string;
  /** The `URI` of the `EXT-X-KEY` tag. */
  readonly uriExtXKey?: string;
}

export type CommercialDrmSystem = Exclude<DrmSystem, 'clearkey'>;

/**
 * A commercial DRM provider's signalling for one key (its PSSH, ContentProtection data, HLS tags).
 * Nearstream has none configured today; this is where one plugs in.
 */
export type CommercialDrmSignaller = (key: { readonly kid: string; readonly group: KeyGroup; readonly scheme: EncryptionScheme }) => DrmSystemData;

export interface DrmSignalling {
  /**
   * Where ClearKey players get licenses for this content (an absolute http(s) URL).
   * @default - none in the manifests: players get the license URL with their play grant, and the
   * HLS key tag carries the key id as a data URI
   */
  readonly licenseUrl?: string;
  /** Signallers for the commercial systems a provider serves; a system without one is refused. */
  readonly commercial?: Partial<Record<CommercialDrmSystem, CommercialDrmSignaller>>;
}

/** The request's DRMSystem elements this signalling cannot fill: commercial systems without a signaller. */
export function unservedDrmSystems(request: SpekeRequest, signalling: Pick<DrmSignalling, 'commercial'>): RequestedDrmSystem[] {
  return request.drmSystems.filter((drm) => drm.system !== 'clearkey' && signalling.commercial?.[drm.system] === undefined);
}

/** Throws the `SpekeRequestError` naming the first DRM system the signalling cannot serve. */
export function assertServable(request: SpekeRequest, signalling: Pick<DrmSignalling, 'commercial'>): void {
  const unserved = unservedDrmSystems(request, signalling);
  if (unserved.length > 0) {
    const index = request.drmSystems.indexOf(unserved[0]) + 1;
    const names = [...new Set(unserved.map((drm) => drm.system))].join(', ');
    throw new SpekeRequestError(
      `DRMSystemList/DRMSystem[${index}]@systemId`,
      `${names} signalling comes from a commercial DRM provider, and none is configured; encrypt for ClearKey (${DRM_SYSTEMS.clearkey.systemId}) only`,
    );
  }
}

/**
 * The response to `request`: the request document with each key in `Data/Secret/PlainValue`
 * (base64), `explicitIV` repeated when sent, and every requested DRMSystem child filled. `keys`
 * must hold one 16-byte key for each requested kid, of the group the request gives it; anything
 * else is the caller's bug and throws a plain `Error` naming the kid. A DRM system the signalling
 * cannot serve throws the `SpekeRequestError` of `assertServable`.
 */
export function renderCpixResponse(request: SpekeRequest, keys: readonly ContentKey[], drmSignalling: DrmSignalling): string {
  assertServable(request, drmSignalling);
  if (drmSignalling.licenseUrl !== undefined) {
    checkLicenseUrl(drmSignalling.licenseUrl);
  }
  const byKid = new Map(keys.map((key) => [key.kid, key]));
  const groupOf = new Map(request.contentKeys.map((key) => [key.kid, key.group]));
  const lines: string[] = [];
  lines.push('<?xml version="1.0" encoding="UTF-8"?>');
  lines.push(`<cpix:CPIX xmlns:cpix="${CPIX_NAMESPACE}" xmlns:pskc="${PSKC_NAMESPACE}" contentId="${escapeXml(request.contentId)}" version="${CPIX_VERSION}">`);

  lines.push('  <cpix:ContentKeyList>');
  for (const requested of request.contentKeys) {
    const key = byKid.get(requested.kid);
    if (!key || key.key.length !== 16 || key.group !== requested.group) {
      throw new Error(`renderCpixResponse: no ${requested.group} key of 16 bytes for kid ${requested.kid}`);
    }
    const iv = requested.explicitIv !== undefined ? ` explicitIV="${requested.explicitIv}"` : '';
    lines.push(`    <cpix:ContentKey kid="${escapeXml(requested.kidAsSent)}" commonEncryptionScheme="${request.commonEncryptionScheme}"${iv}>`);
    lines.push(`      <cpix:Data><pskc:Secret><pskc:PlainValue>${key.key.toString('base64')}</pskc:PlainValue></pskc:Secret></cpix:Data>`);
    lines.push('    </cpix:ContentKey>');
  }
  lines.push('  </cpix:ContentKeyList>');

  lines.push('  <cpix:DRMSystemList>');
  for (const drm of request.drmSystems) {
    const data = drmSystemData(drm, groupOf.get(drm.kid)!, request.commonEncryptionScheme, drmSignalling);
    lines.push(`    <cpix:DRMSystem kid="${escapeXml(drm.kidAsSent)}" systemId="${escapeXml(drm.systemIdAsSent)}">`);
    for (const signal of drm.signals) {
      lines.push(`      ${signalElement(signal, data, drm)}`);
    }
    lines.push('    </cpix:DRMSystem>');
  }
  lines.push('  </cpix:DRMSystemList>');

  if (request.echoed.periods) {
    echo(request.echoed.periods, '  ', lines);
  }
  echo(request.echoed.usageRules, '  ', lines);
  lines.push('</cpix:CPIX>');
  return `${lines.join('\n')}\n`;
}

function drmSystemData(drm: RequestedDrmSystem, group: KeyGroup, scheme: EncryptionScheme, signalling: DrmSignalling): DrmSystemData {
  if (drm.system === 'clearkey') {
    return clearKeySignalling(drm.kid, signalling.licenseUrl, scheme);
  }
  const signaller = signalling.commercial?.[drm.system];
  if (!signaller) {
    throw new Error(`unreachable: ${drm.system} passed assertServable without a signaller`);
  }
  return signaller({ kid: drm.kid, group, scheme });
}

function signalElement(signal: DrmSignal, data: DrmSystemData, drm: RequestedDrmSystem): string {
  const value = (text: string | Buffer | undefined, name: string): string => {
    if (text === undefined || text.length === 0) {
      throw new Error(`the ${drm.system} signalling for kid ${drm.kid} has no ${name}, which the request asks for`);
    }
    return (typeof text === 'string' ? Buffer.from(text, 'utf8') : text).toString('base64');
  };
  switch (signal) {
    case 'PSSH':
      return `<cpix:PSSH>${value(data.pssh, 'PSSH')}</cpix:PSSH>`;
    case 'ContentProtectionData':
      return `<cpix:ContentProtectionData>${value(data.contentProtectionData, 'ContentProtectionData')}</cpix:ContentProtectionData>`;
    case 'HLSSignalingData:media':
      return `<cpix:HLSSignalingData playlist="media">${value(data.hlsMedia, 'media playlist HLSSignalingData')}</cpix:HLSSignalingData>`;
    case 'HLSSignalingData:master':
      return `<cpix:HLSSignalingData playlist="master">${value(data.hlsMaster, 'master playlist HLSSignalingData')}</cpix:HLSSignalingData>`;
    case 'URIExtXKey':
      return `<cpix:URIExtXKey>${value(data.uriExtXKey, 'URIExtXKey')}</cpix:URIExtXKey>`;
  }
}

/** Writes a checked CPIX subtree back: `cpix:` elements, attributes in no namespace, no text. */
function echo(element: XmlElement, indent: string, lines: string[]): void {
  const attributes = element.attributes.map((attribute) => ` ${attribute.localName}="${escapeXml(attribute.value)}"`).join('');
  if (element.children.length === 0) {
    lines.push(`${indent}<cpix:${element.localName}${attributes}/>`);
    return;
  }
  lines.push(`${indent}<cpix:${element.localName}${attributes}>`);
  for (const child of element.children) {
    echo(child, `${indent}  `, lines);
  }
  lines.push(`${indent}</cpix:${element.localName}>`);
}

// ---------------------------------------------------------------------------------------------
// ClearKey signalling
// ---------------------------------------------------------------------------------------------

const COMMON_PSSH_SYSTEM_ID_BYTES = Buffer.from(COMMON_PSSH_SYSTEM_ID.replace(/-/g, ''), 'hex');
/** The DASH-IF content protection namespace of `laurl` (a license server URL in an MPD). */
export const DASHIF_CPS_NAMESPACE = 'https://dashif.org/CPS';
export const CENC_NAMESPACE = 'urn:mpeg:cenc:2013';

/**
 * The W3C "common" PSSH box (version 1, system id 1077efec-c0b2-4d02-ace3-3c1e52e2fb4b) listing
 * `kids` and no data: what a ClearKey player reads key ids from ("cenc" init data).
 */
export function commonPsshBox(kids: readonly string[]): Buffer {
  const size = 4 + 4 + 4 + 16 + 4 + 16 * kids.length + 4;
  const box = Buffer.alloc(size);
  let at = box.writeUInt32BE(size, 0);
  at += box.write('pssh', at, 'latin1');
  at = box.writeUInt32BE(0x01000000, at); // version 1, flags 0
  at += COMMON_PSSH_SYSTEM_ID_BYTES.copy(box, at);
  at = box.writeUInt32BE(kids.length, at);
  for (const kid of kids) {
    if (!/^[0-9a-f]{32}$/.test(kid)) {
      throw new Error(`commonPsshBox: kid ${kid} is not 32 lowercase hex digits`);
    }
    at += Buffer.from(kid, 'hex').copy(box, at);
  }
  box.writeUInt32BE(0, at); // DataSize
  return box;
}

/**
 * ClearKey's signalling for one key:
 * - PSSH: the common PSSH box with the kid;
 * - ContentProtectionData: that box as `cenc:pssh` and the license URL as `dashif:laurl`;
 * - HLS: `#EXT-X-KEY` / `#EXT-X-SESSION-KEY` with METHOD=SAMPLE-AES (cbcs) or SAMPLE-AES-CTR
 *   (cenc), URI the license URL (or, without one, the kid as a data URI, which is where hls.js
 *   reads a ClearKey key id), KEYID the kid, KEYFORMAT "org.w3.clearkey";
 * - URIExtXKey: that URI.
 */
export function clearKeySignalling(kid: string, licenseUrl: string | undefined, scheme: EncryptionScheme): DrmSystemData {
  if (licenseUrl !== undefined) {
    checkLicenseUrl(licenseUrl);
  }
  const pssh = commonPsshBox([kid]);
  const method = scheme === 'cbcs' ? 'SAMPLE-AES' : 'SAMPLE-AES-CTR';
  const uri = licenseUrl ?? `data:text/plain;base64,${Buffer.from(kid, 'hex').toString('base64')}`;
  const attributes = `METHOD=${method},URI="${uri}",KEYID=0x${kid.toUpperCase()},KEYFORMAT="${DRM_SYSTEMS.clearkey.keySystem}",KEYFORMATVERSIONS="1"`;
  return {
    pssh,
    contentProtectionData:
      `<cenc:pssh xmlns:cenc="${CENC_NAMESPACE}">${pssh.toString('base64')}</cenc:pssh>` +
      (licenseUrl === undefined ? '' : `<dashif:laurl xmlns:dashif="${DASHIF_CPS_NAMESPACE}">${escapeXml(licenseUrl)}</dashif:laurl>`),
    hlsMedia: `#EXT-X-KEY:${attributes}`,
    hlsMaster: `#EXT-X-SESSION-KEY:${attributes}`,
    uriExtXKey: uri,
  };
}

/** A license URL goes into quoted playlist attributes and XML: absolute http(s), nothing to escape there. */
function checkLicenseUrl(url: string): void {
  if (!/^https?:\/\/[\x21-\x7e]+$/.test(url) || /["'<>\\]/.test(url) || !URL.canParse(url)) {
    throw new Error(`the ClearKey license URL must be an absolute http(s) URL without quotes, spaces or angle brackets (got ${url.length} characters)`);
  }
}
