import { randomBytes } from 'node:crypto';
import {
  clearKeySignalling,
  commonPsshBox,
  CommercialDrmSignaller,
  CPIX_NAMESPACE,
  MAX_CPIX_REQUEST_BYTES,
  parseSpekeRequest,
  PSKC_NAMESPACE,
  renderCpixResponse,
  SpekeRequest,
  SpekeRequestError,
} from '../../../lambda/keys/cpix';
import { attributeOf, parseXml, XmlElement } from '../../../lambda/keys/strict-xml';
import { COMMON_PSSH_SYSTEM_ID, ContentKey, DRM_SYSTEMS, KEY_GROUPS } from '../../../lambda/shared/content-protection';
import { EXPLICIT_IV, hex, KIDS, mediaConvertRequest } from './speke-requests';

const LICENSE_URL = 'https://license.nearstream.example/title-42';

function keysFor(request: SpekeRequest): ContentKey[] {
  return request.contentKeys.map((key) => ({ titleId: 'title-42', group: key.group, kid: key.kid, key: randomBytes(16) }));
}

/** A stand-in for a commercial provider's Widevine signalling. */
const widevine: CommercialDrmSignaller = ({ kid }) => ({
  pssh: Buffer.from(`widevine-pssh-${kid}`),
  contentProtectionData: `<cenc:pssh xmlns:cenc="urn:mpeg:cenc:2013">wv-${kid}</cenc:pssh>`,
  hlsMedia: `#EXT-X-KEY:METHOD=SAMPLE-AES,URI="data:text/plain;base64,wv",KEYFORMAT="urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"`,
  hlsMaster: `#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="data:text/plain;base64,wv",KEYFORMAT="urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"`,
});

const cpix = (element: XmlElement, name: string) => element.children.filter((child) => child.namespace === CPIX_NAMESPACE && child.localName === name);
const only = (element: XmlElement, name: string) => {
  const found = cpix(element, name);
  expect(found).toHaveLength(1);
  return found[0];
};
const b64 = (text: string) => Buffer.from(text.trim(), 'base64');

function refusal(body: string | Uint8Array): SpekeRequestError {
  try {
    parseSpekeRequest(body);
  } catch (error) {
    if (error instanceof SpekeRequestError) {
      return error;
    }
    throw error;
  }
  throw new Error('the request was accepted');
}

describe('parsing a SPEKE v2.0 request', () => {
  it('reads the content id, scheme, each key with its track type and IV, and the DRM systems asked per key', () => {
    const request = parseSpekeRequest(mediaConvertRequest());

    expect(request.contentId).toBe('title-42');
    expect(request.commonEncryptionScheme).toBe('cbcs');
    expect(request.contentKeys).toEqual([
      { kid: hex(KIDS.SD), kidAsSent: KIDS.SD, group: 'SD', explicitIv: EXPLICIT_IV },
      { kid: hex(KIDS.HD1), kidAsSent: KIDS.HD1, group: 'HD1' },
      { kid: hex(KIDS.HD2), kidAsSent: KIDS.HD2, group: 'HD2' },
      { kid: hex(KIDS.UHD), kidAsSent: KIDS.UHD, group: 'UHD' },
      { kid: hex(KIDS.AUDIO), kidAsSent: KIDS.AUDIO, group: 'AUDIO' },
    ]);
    expect(request.drmSystems.map((drm) => [drm.system, drm.kid])).toEqual(
      ['clearkey', 'widevine'].flatMap((system) => [KIDS.SD, KIDS.HD1, KIDS.HD2, KIDS.UHD, KIDS.AUDIO].map((kid) => [system, hex(kid)])),
    );
    expect(request.drmSystems[0]).toMatchObject({
      systemId: DRM_SYSTEMS.clearkey.systemId,
      signals: ['PSSH', 'ContentProtectionData', 'HLSSignalingData:media', 'HLSSignalingData:master'],
    });
  });

  it('takes the same request as bytes, with a byte-order mark, CRLF line ends and another prefix for the CPIX namespace', () => {
    const text = mediaConvertRequest().replace(/cpix:/g, 'c:').replace('xmlns:cpix=', 'xmlns:c=').replace(/\n/g, '\r\n');

    const request = parseSpekeRequest(Buffer.from(`\uFEFF${text}`, 'utf8'));

    expect(request.contentKeys.map((key) => key.group)).toEqual(['SD', 'HD1', 'HD2', 'UHD', 'AUDIO']);
  });

  it('accepts a default CPIX namespace and uppercase UUIDs, and keeps the kid as sent', () => {
    const text = mediaConvertRequest({ systems: ['clearkey'], groups: ['AUDIO'], kids: { AUDIO: KIDS.AUDIO.toUpperCase() } })
      .replace(/cpix:/g, '')
      .replace('xmlns:cpix=', 'xmlns=');

    const request = parseSpekeRequest(text);

    expect(request.contentKeys).toEqual([{ kid: hex(KIDS.AUDIO), kidAsSent: KIDS.AUDIO.toUpperCase(), group: 'AUDIO' }]);
  });

  const cases: [string, () => string | Uint8Array, string, RegExp?][] = [
    ['a DOCTYPE with an external entity (XXE)', () => mediaConvertRequest().replace('<cpix:CPIX', '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<cpix:CPIX').replace('title-42', '&xxe;'), 'DOCTYPE'],
    ['a billion-laughs DOCTYPE', () => `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><cpix:CPIX/>`, 'DOCTYPE'],
    ['a DOCTYPE inside the document', () => mediaConvertRequest().replace('<cpix:ContentKeyList>', '<!DOCTYPE x><cpix:ContentKeyList>'), 'DOCTYPE'],
    ['an undeclared entity reference', () => mediaConvertRequest().replace('title-42', 'title-&xxe;'), 'entity', /only &lt;/],
    ['a processing instruction', () => mediaConvertRequest().replace('<cpix:ContentKeyList>', '<?xml-stylesheet href="x"?><cpix:ContentKeyList>'), 'XML', /processing instructions/],
    ['a body over the size limit', () => mediaConvertRequest().replace('<cpix:ContentKeyList>', `<!--${'x'.repeat(MAX_CPIX_REQUEST_BYTES)}--><cpix:ContentKeyList>`), 'body', /at most 65536/],
    ['bytes that are not UTF-8', () => Buffer.from([0x3c, 0xff, 0xfe, 0x3e]), 'body', /UTF-8/],
    ['an empty body', () => '  ', 'body'],
    ['XML that does not close', () => mediaConvertRequest().replace('</cpix:CPIX>', ''), 'XML', /is not closed/],
    ['mismatched tags', () => mediaConvertRequest().replace('</cpix:ContentKeyList>', '</cpix:ContentKeyLst>'), 'XML', /closes <cpix:ContentKeyList>/],
    ['elements nested too deep', () => mediaConvertRequest().replace('<cpix:ContentKeyList>', `<cpix:ContentKeyList>${'<a>'.repeat(40)}${'</a>'.repeat(40)}`), 'XML', /deeper than 16/],
    ['an undeclared prefix', () => mediaConvertRequest().replace('<cpix:ContentKeyList>', '<cpix:ContentKeyList x:y="1">'), 'XML', /prefix 'x'/],
    ['a root in another namespace', () => mediaConvertRequest().replace('xmlns:cpix="urn:dashif:org:cpix"', 'xmlns:cpix="urn:example"'), 'CPIX', /root element/],
    ['a missing contentId', () => mediaConvertRequest().replace('contentId="title-42" ', ''), 'CPIX@contentId', /missing/],
    ['an empty contentId', () => mediaConvertRequest({ contentId: '' }), 'CPIX@contentId'],
    ['CPIX version 2.4', () => mediaConvertRequest().replace('version="2.3"', 'version="2.4"'), 'CPIX@version', /2\.3/],
    ['the deprecated CPIX@id', () => mediaConvertRequest().replace('version="2.3"', 'version="2.3" id="abc"'), 'CPIX@id'],
    ['a kid that is not a UUID', () => mediaConvertRequest({ kids: { HD1: KIDS.HD1.slice(0, -1) } }), 'ContentKeyList/ContentKey[2]@kid', /not a UUID/],
    ['a kid without hyphens', () => mediaConvertRequest({ kids: { SD: hex(KIDS.SD) } }), 'ContentKeyList/ContentKey[1]@kid', /not a UUID/],
    ['a missing kid', () => mediaConvertRequest().replace(`<cpix:ContentKey kid="${KIDS.UHD}"`, '<cpix:ContentKey'), 'ContentKeyList/ContentKey[4]@kid', /missing/],
    ['a repeated kid', () => mediaConvertRequest({ kids: { HD1: KIDS.SD } }), 'ContentKeyList/ContentKey[2]@kid', /repeats/],
    ['the cbc1 scheme', () => mediaConvertRequest({ scheme: 'cbc1' }), 'ContentKeyList/ContentKey[1]@commonEncryptionScheme', /cbcs/],
    ['no scheme', () => mediaConvertRequest().replace(/ commonEncryptionScheme="cbcs"/, ''), 'ContentKeyList/ContentKey[1]@commonEncryptionScheme', /missing/],
    ['mixed schemes', () => mediaConvertRequest().replace(`kid="${KIDS.HD2}" commonEncryptionScheme="cbcs"`, `kid="${KIDS.HD2}" commonEncryptionScheme="cenc"`), 'ContentKeyList/ContentKey[3]@commonEncryptionScheme', /one scheme/],
    ['an explicitIV that is not 16 bytes', () => mediaConvertRequest().replace(EXPLICIT_IV, 'AAAA'), 'ContentKeyList/ContentKey[1]@explicitIV'],
    ['key material in the request', () => mediaConvertRequest().replace(`explicitIV="${EXPLICIT_IV}">`, `explicitIV="${EXPLICIT_IV}"><cpix:Data/>`), 'ContentKeyList/ContentKey[1]/Data'],
    ['an unknown track type', () => mediaConvertRequest().replace('intendedTrackType="AUDIO"', 'intendedTrackType="STEREO_AUDIO"'), 'ContentKeyUsageRuleList/ContentKeyUsageRule[5]@intendedTrackType', /'STEREO_AUDIO' is not one of AUDIO, SD, HD1, HD2, UHD/],
    ["PRESET-VIDEO-3's HD track type", () => mediaConvertRequest({ groups: ['SD', 'HD2', 'UHD', 'AUDIO'] }).replace('intendedTrackType="HD2"', 'intendedTrackType="HD"'), 'ContentKeyUsageRuleList/ContentKeyUsageRule[2]@intendedTrackType', /'HD' is not one of AUDIO, SD, HD1, HD2, UHD/],
    ['two keys for one track type', () => mediaConvertRequest().replace('intendedTrackType="UHD"', 'intendedTrackType="HD2"'), 'ContentKeyUsageRuleList/ContentKeyUsageRule[4]@intendedTrackType', /already the track type/],
    ['a key without a usage rule', () => mediaConvertRequest().replace(/<cpix:ContentKeyUsageRule kid="[^"]+" intendedTrackType="UHD">[\s\S]*?<\/cpix:ContentKeyUsageRule>/, ''), 'ContentKeyUsageRuleList', /no ContentKeyUsageRule for kid 03341606/],
    ['six keys', () => mediaConvertRequest().replace('</cpix:ContentKeyList>', '<cpix:ContentKey kid="11111111-1111-1111-1111-111111111111" commonEncryptionScheme="cbcs"/></cpix:ContentKeyList>'), 'ContentKeyList', /lists 6 keys; at most 5 \(one per track type AUDIO, SD, HD1, HD2, UHD/],
    ['an unknown DRM system', () => mediaConvertRequest().replace(DRM_SYSTEMS.widevine.systemId, '81376844-f976-481e-a84e-cc25d39b0b33'), 'DRMSystemList/DRMSystem[6]@systemId', /not a DRM system/],
    ['a DRMSystem for a kid not in the key list', () => mediaConvertRequest().replace(`<cpix:DRMSystem kid="${KIDS.HD2}"`, '<cpix:DRMSystem kid="11111111-1111-1111-1111-111111111111"'), 'DRMSystemList/DRMSystem[3]@kid', /not a key of ContentKeyList/],
    ['a filled DRMSystem child', () => mediaConvertRequest().replace('<cpix:PSSH/>', '<cpix:PSSH>AAAA</cpix:PSSH>'), 'DRMSystemList/DRMSystem[1]/PSSH', /must be empty/],
    ['Smooth Streaming signalling', () => mediaConvertRequest().replace('<cpix:PSSH/>', '<cpix:SmoothStreamingProtectionHeaderData/>'), 'DRMSystemList/DRMSystem[1]/SmoothStreamingProtectionHeaderData', /not supported/],
    ['a bad HLS playlist', () => mediaConvertRequest().replace('playlist="media"', 'playlist="variant"'), 'DRMSystemList/DRMSystem[1]/HLSSignalingData@playlist'],
    ['encrypted key delivery', () => mediaConvertRequest().replace('<cpix:ContentKeyList>', '<cpix:DeliveryDataList/><cpix:ContentKeyList>'), 'CPIX/DeliveryDataList', /not supported/],
    ['key rotation', () => mediaConvertRequest().replace('</cpix:ContentKeyPeriodList>', '<cpix:ContentKeyPeriod id="p2" index="1"/></cpix:ContentKeyPeriodList>'), 'ContentKeyPeriodList', /rotation/],
    ['no usage rule list', () => mediaConvertRequest().replace(/<cpix:ContentKeyUsageRuleList>[\s\S]*<\/cpix:ContentKeyUsageRuleList>/, ''), 'CPIX/ContentKeyUsageRuleList', /missing/],
    ['an unknown element in a usage rule', () => mediaConvertRequest().replace('<cpix:AudioFilter/>', '<cpix:AudioFilter/><cpix:Surprise/>'), 'ContentKeyUsageRuleList/ContentKeyUsageRule[5]/cpix:Surprise'],
  ];

  // Rows padded to four: jest takes a callback with more parameters than its row has values for `done`.
  it.each(cases.map(([what, body, where, rule]) => [what, body, where, rule ?? null] as const))('refuses %s, naming where', (_what, body, where, rule) => {
    const error = refusal(body());

    expect(error.where).toBe(where);
    expect(error.message.startsWith(`${where}: `)).toBe(true);
    if (rule) {
      expect(error.rule).toMatch(rule);
    }
  });

  it('refuses a document whose only fault is a huge attribute count or element count, quickly', () => {
    const attributes = Array.from({ length: 20 }, (_, i) => ` a${i}="1"`).join('');
    const manyElements = `<cpix:CPIX xmlns:cpix="urn:dashif:org:cpix">${'<x/>'.repeat(2000)}</cpix:CPIX>`;

    expect(refusal(`<cpix:CPIX xmlns:cpix="urn:dashif:org:cpix"${attributes}/>`).rule).toMatch(/more than 16 attributes/);
    expect(refusal(manyElements).rule).toMatch(/more than 1024 elements/);
  });
});

describe('rendering the response', () => {
  const request = parseSpekeRequest(mediaConvertRequest());
  const keys = keysFor(request);
  const document = renderCpixResponse(request, keys, { licenseUrl: LICENSE_URL, commercial: { widevine } });
  const root = parseXml(document);

  it('is the request answered: same content id and version, each key in Data/Secret/PlainValue with its scheme and IV', () => {
    expect([root.namespace, root.localName, attributeOf(root, 'contentId'), attributeOf(root, 'version')]).toEqual([CPIX_NAMESPACE, 'CPIX', 'title-42', '2.3']);
    const contentKeys = cpix(only(root, 'ContentKeyList'), 'ContentKey');
    expect(
      contentKeys.map((element) => {
        const secret = only(element, 'Data').children[0];
        expect([secret.namespace, secret.localName]).toEqual([PSKC_NAMESPACE, 'Secret']);
        const value = secret.children[0];
        expect([value.namespace, value.localName]).toEqual([PSKC_NAMESPACE, 'PlainValue']);
        return [attributeOf(element, 'kid'), attributeOf(element, 'commonEncryptionScheme'), attributeOf(element, 'explicitIV'), b64(value.text)];
      }),
    ).toEqual(keys.map((key) => [request.contentKeys.find((k) => k.kid === key.kid)!.kidAsSent, 'cbcs', key.group === 'SD' ? EXPLICIT_IV : undefined, key.key]));
  });

  it('fills ClearKey: the common PSSH with the kid, ContentProtection with it and the license URL, HLS tags pointing at the license', () => {
    const drmSystems = cpix(only(root, 'DRMSystemList'), 'DRMSystem');
    const clearKey = drmSystems.filter((drm) => attributeOf(drm, 'systemId') === DRM_SYSTEMS.clearkey.systemId);
    expect(clearKey.map((drm) => attributeOf(drm, 'kid'))).toEqual([KIDS.SD, KIDS.HD1, KIDS.HD2, KIDS.UHD, KIDS.AUDIO]);

    const sd = clearKey[0];
    const pssh = b64(only(sd, 'PSSH').text);
    expect(pssh.readUInt32BE(0)).toBe(pssh.length);
    expect(pssh.subarray(4, 8).toString('latin1')).toBe('pssh');
    expect(pssh.readUInt32BE(8)).toBe(0x01000000);
    expect(pssh.subarray(12, 28).toString('hex')).toBe(COMMON_PSSH_SYSTEM_ID.replace(/-/g, ''));
    expect(pssh.readUInt32BE(28)).toBe(1);
    expect(pssh.subarray(32, 48).toString('hex')).toBe(hex(KIDS.SD));
    expect(pssh.readUInt32BE(48)).toBe(0);
    expect(pssh.length).toBe(52);

    const protection = parseXml(`<root>${b64(only(sd, 'ContentProtectionData').text).toString('utf8')}</root>`);
    expect(protection.children.map((child) => [child.namespace, child.localName, child.text])).toEqual([
      ['urn:mpeg:cenc:2013', 'pssh', pssh.toString('base64')],
      ['https://dashif.org/CPS', 'laurl', LICENSE_URL],
    ]);

    const hls = cpix(sd, 'HLSSignalingData').map((element) => [attributeOf(element, 'playlist'), b64(element.text).toString('utf8')]);
    const attributes = `METHOD=SAMPLE-AES,URI="${LICENSE_URL}",KEYID=0x${hex(KIDS.SD).toUpperCase()},KEYFORMAT="org.w3.clearkey",KEYFORMATVERSIONS="1"`;
    expect(hls).toEqual([
      ['media', `#EXT-X-KEY:${attributes}`],
      ['master', `#EXT-X-SESSION-KEY:${attributes}`],
    ]);
  });

  it("fills Widevine with what the commercial provider's signaller supplies", () => {
    const drm = cpix(only(root, 'DRMSystemList'), 'DRMSystem').find(
      (element) => attributeOf(element, 'systemId') === DRM_SYSTEMS.widevine.systemId && attributeOf(element, 'kid') === KIDS.HD2,
    )!;

    expect(b64(only(drm, 'PSSH').text).toString()).toBe(`widevine-pssh-${hex(KIDS.HD2)}`);
    expect(cpix(drm, 'HLSSignalingData').map((element) => b64(element.text).toString().split(':')[0])).toEqual(['#EXT-X-KEY', '#EXT-X-SESSION-KEY']);
  });

  it('repeats the key period and usage rules as they came, filters included', () => {
    const periods = only(root, 'ContentKeyPeriodList');
    const rules = cpix(only(root, 'ContentKeyUsageRuleList'), 'ContentKeyUsageRule');

    expect(cpix(periods, 'ContentKeyPeriod').map((period) => attributeOf(period, 'index'))).toEqual(['0']);
    expect(rules.map((rule) => [attributeOf(rule, 'kid'), attributeOf(rule, 'intendedTrackType'), rule.children.map((filter) => filter.localName)])).toEqual([
      [KIDS.SD, 'SD', ['KeyPeriodFilter', 'VideoFilter']],
      [KIDS.HD1, 'HD1', ['KeyPeriodFilter', 'VideoFilter']],
      [KIDS.HD2, 'HD2', ['KeyPeriodFilter', 'VideoFilter']],
      [KIDS.UHD, 'UHD', ['KeyPeriodFilter', 'VideoFilter']],
      [KIDS.AUDIO, 'AUDIO', ['KeyPeriodFilter', 'AudioFilter']],
    ]);
    expect(rules.slice(0, 4).map((rule) => [attributeOf(rule.children[1], 'minPixels'), attributeOf(rule.children[1], 'maxPixels')])).toEqual([
      [undefined, '589824'],
      ['589825', '921600'],
      ['921601', '2073600'],
      ['2073601', undefined],
    ]);
  });

  it('re-parses as a valid request shape: every requested element and attribute is still there', () => {
    expect(KEY_GROUPS.every((group) => document.includes(`intendedTrackType="${group}"`))).toBe(true);
    expect(cpix(only(root, 'DRMSystemList'), 'DRMSystem').every((drm) => drm.children.every((child) => child.text.trim().length > 0))).toBe(true);
  });

  it('repeats kids and system ids exactly as the request wrote them', () => {
    const upper = parseSpekeRequest(
      mediaConvertRequest({ systems: ['clearkey'], groups: ['AUDIO'], kids: { AUDIO: KIDS.AUDIO.toUpperCase() } }).replace(
        DRM_SYSTEMS.clearkey.systemId,
        DRM_SYSTEMS.clearkey.systemId.toUpperCase(),
      ),
    );
    const answered = parseXml(renderCpixResponse(upper, keysFor(upper), { licenseUrl: LICENSE_URL }));

    const drm = only(only(answered, 'DRMSystemList'), 'DRMSystem');
    expect([attributeOf(drm, 'kid'), attributeOf(drm, 'systemId')]).toEqual([KIDS.AUDIO.toUpperCase(), DRM_SYSTEMS.clearkey.systemId.toUpperCase()]);
    expect(upper.drmSystems[0].system).toBe('clearkey');
  });

  it('signals SAMPLE-AES-CTR for cenc', () => {
    expect(clearKeySignalling(hex(KIDS.SD), LICENSE_URL, 'cenc').hlsMedia).toMatch(/^#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,/);
  });

  it('refuses Widevine when no commercial provider is configured, naming the first such DRMSystem', () => {
    expect(() => renderCpixResponse(request, keys, { licenseUrl: LICENSE_URL })).toThrow(
      new SpekeRequestError(
        'DRMSystemList/DRMSystem[6]@systemId',
        `widevine signalling comes from a commercial DRM provider, and none is configured; encrypt for ClearKey (${DRM_SYSTEMS.clearkey.systemId}) only`,
      ),
    );
  });

  it('serves a ClearKey-only request without any commercial signaller', () => {
    const clearKeyOnly = parseSpekeRequest(mediaConvertRequest({ systems: ['clearkey'] }));

    expect(() => renderCpixResponse(clearKeyOnly, keysFor(clearKeyOnly), { licenseUrl: LICENSE_URL })).not.toThrow();
  });

  it('refuses to render without a 16-byte key of the right group for every kid, naming the kid and no key', () => {
    const wrongGroup = keys.map((key) => (key.group === 'UHD' ? { ...key, group: 'SD' as const } : key));

    expect(() => renderCpixResponse(request, keys.slice(1), { licenseUrl: LICENSE_URL, commercial: { widevine } })).toThrow(`no SD key of 16 bytes for kid ${hex(KIDS.SD)}`);
    expect(() => renderCpixResponse(request, wrongGroup, { licenseUrl: LICENSE_URL, commercial: { widevine } })).toThrow(`no UHD key of 16 bytes for kid ${hex(KIDS.UHD)}`);
  });

  it('refuses a license URL that would break the playlist tags', () => {
    expect(() => renderCpixResponse(request, keys, { licenseUrl: 'https://x.example/"><script>', commercial: { widevine } })).toThrow(/license URL/);
    expect(() => renderCpixResponse(request, keys, { licenseUrl: '/relative', commercial: { widevine } })).toThrow(/license URL/);
  });
});

describe('commonPsshBox', () => {
  it('lists every kid given', () => {
    const box = commonPsshBox([hex(KIDS.SD), hex(KIDS.HD2)]);

    expect(box.length).toBe(68);
    expect(box.readUInt32BE(28)).toBe(2);
    expect(box.subarray(48, 64).toString('hex')).toBe(hex(KIDS.HD2));
  });
});
