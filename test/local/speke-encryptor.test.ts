import { randomBytes } from 'node:crypto';
import { parseSpekeRequest } from '../../lambda/keys/cpix';
import { KeyProvider } from '../../lambda/keys/key-provider';
import { ContentKey, KEY_GROUPS, kidToUuid } from '../../lambda/shared/content-protection';
import { CpixResponseError, keysFromCpixResponse, keysToRequest, localKeyId, requestTitleKeys, spekeRequestDocument } from '../../local/encoder/speke-encryptor';

const TITLE = 't0123456789abcdef0123456';

/** The key provider over a key store in memory: the same CPIX code, no table, no KMS. */
function provider(): { provider: KeyProvider; stored: Map<string, ContentKey> } {
  const stored = new Map<string, ContentKey>();
  const store = {
    async getOrCreate(titleId: string, requests: readonly { kid: string; group: ContentKey['group'] }[]) {
      return requests.map(({ kid, group }) => {
        const key = stored.get(kid) ?? { titleId, kid, group, key: randomBytes(16) };
        stored.set(kid, key);
        return key;
      });
    },
  };
  return { provider: new KeyProvider({ store, licenseBaseUrl: 'http://127.0.0.1:4502' }), stored };
}

describe('the MediaConvert stand-in\'s side of SPEKE v2', () => {
  it('asks for one key per track type with the title as content id, and takes the keys and IVs the key provider answers with', async () => {
    const { provider: keyProvider, stored } = provider();

    const keys = await requestTitleKeys(keyProvider, { titleId: TITLE });

    expect([...keys.keys()]).toEqual(KEY_GROUPS);
    for (const group of KEY_GROUPS) {
      const key = keys.get(group)!;
      expect(key.kid).toBe(localKeyId(TITLE, group));
      expect(key.key.equals(stored.get(key.kid)!.key)).toBe(true);
      expect(key.constantIv).toHaveLength(16);
    }
    // A second request for the title asks for the same kids, and the provider's get-or-create hands back the same keys.
    const again = await requestTitleKeys(keyProvider, { titleId: TITLE });
    expect(KEY_GROUPS.every((group) => again.get(group)!.key.equals(keys.get(group)!.key))).toBe(true);
  });

  it('sends a request the key provider\'s own parser reads as the ladder\'s presets with cbcs and ClearKey, each video group filtered by its pixels', () => {
    const document = spekeRequestDocument(TITLE, keysToRequest(TITLE));
    const request = parseSpekeRequest(document);

    const filters = [...document.matchAll(/intendedTrackType="(\w+)"><cpix:KeyPeriodFilter [^>]*\/>(<cpix:\w+Filter[^>]*\/>)/g)].map(([, group, filter]) => [group, filter]);
    expect(filters).toEqual([
      ['AUDIO', '<cpix:AudioFilter/>'],
      ['SD', '<cpix:VideoFilter maxPixels="589824"/>'],
      ['HD1', '<cpix:VideoFilter minPixels="589825" maxPixels="921600"/>'],
      ['HD2', '<cpix:VideoFilter minPixels="921601" maxPixels="2073600"/>'],
      ['UHD', '<cpix:VideoFilter minPixels="2073601"/>'],
    ]);

    expect(request).toMatchObject({ contentId: TITLE, commonEncryptionScheme: 'cbcs' });
    expect(request.contentKeys.map((key) => key.group)).toEqual(KEY_GROUPS);
    expect(request.contentKeys.every((key) => key.explicitIv !== undefined)).toBe(true);
    expect(request.drmSystems.map((drm) => [drm.system, drm.signals])).toEqual(
      KEY_GROUPS.map(() => ['clearkey', ['PSSH', 'ContentProtectionData', 'HLSSignalingData:media', 'HLSSignalingData:master']]),
    );
  });

  describe('refuses a response it cannot use, naming the element and never a key', () => {
    const asked = keysToRequest(TITLE);
    let answer: string;

    beforeAll(async () => {
      answer = await provider().provider.provideKeys(parseSpekeRequest(spekeRequestDocument(TITLE, asked)));
    });

    const cases: { what: string; change: (document: string) => string; message: RegExp }[] = [
      { what: 'another title', change: (d) => d.replace(`contentId="${TITLE}"`, 'contentId="t-other"'), message: /CPIX@contentId: is not the title asked for/ },
      {
        what: 'a key left out',
        change: (d) => d.replace(new RegExp(`<cpix:ContentKey kid="${kidToUuid(asked[1].kid)}"[\\s\\S]*?</cpix:ContentKey>`), ''),
        message: new RegExp(`ContentKeyList: has no ContentKey for the SD kid ${kidToUuid(asked[1].kid)}`),
      },
      {
        what: 'a key of 8 bytes',
        change: (d) => d.replace(/<pskc:PlainValue>[^<]*<\/pskc:PlainValue>/, '<pskc:PlainValue>AAECAwQFBgc=</pskc:PlainValue>'),
        message: /ContentKeyList\/ContentKey\[1\]\/Data\/Secret\/PlainValue: is not the base64 of a 16-byte key/,
      },
      { what: 'another IV', change: (d) => d.replace(/explicitIV="[^"]*"/, 'explicitIV="AAAAAAAAAAAAAAAAAAAAAA=="'), message: /does not repeat the explicitIV sent/ },
      { what: 'no ClearKey signalling', change: (d) => d.replace(/<cpix:DRMSystemList>[\s\S]*<\/cpix:DRMSystemList>/, '<cpix:DRMSystemList/>'), message: /DRMSystemList: has no clearkey DRMSystem/ },
    ];

    it.each(cases)('$what', ({ change, message }) => {
      const changed = change(answer);
      expect(changed).not.toBe(answer);
      let error: unknown;
      try {
        keysFromCpixResponse(changed, TITLE, asked);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(CpixResponseError);
      expect((error as Error).message).toMatch(message);
      const keys = [...answer.matchAll(/<pskc:PlainValue>([^<]*)</g)].map((match) => match[1]);
      expect(keys.some((key) => (error as Error).message.includes(key))).toBe(false);
    });
  });
});
