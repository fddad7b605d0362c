import { parseProviderSecret } from '../../../lambda/license/commercial-license-proxy';
import { dependenciesFromEnvironment } from '../../../lambda/license/handler';
import { grantableKeyGroups, licenseSystemsOffered, parseLicenseServices } from '../../../lambda/license/license-service';
import { kidFromBase64Url, kidToBase64Url } from '../../../lambda/shared/content-protection';
import { catalogTitle } from '../../support/fixtures';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:nearstream/widevine-AbCdEf';

describe('the key groups a session may unlock', () => {
  const title = catalogTitle('movie-1', {}, ['avc1', 'hvc1']);

  // The fixtures' ladder: SD holds 240p-480p, HD1 720p, HD2 1080p, UHD 1440p and 2160p.
  it.each([
    [240, ['AUDIO']],
    [479, ['AUDIO']],
    [480, ['AUDIO', 'SD']],
    [720, ['AUDIO', 'SD', 'HD1']],
    [1080, ['AUDIO', 'SD', 'HD1', 'HD2']],
    [1440, ['AUDIO', 'SD', 'HD1', 'HD2']],
    [2160, ['AUDIO', 'SD', 'HD1', 'HD2', 'UHD']],
  ])('for a %ip cap: %j, each video group only when every rendition its key opens fits', (maxHeight, groups) => {
    expect([...grantableKeyGroups(title, maxHeight)].sort()).toEqual([...groups].sort());
  });

  it('grants a 720p plan HD1 and refuses it HD2 on a title with 720p and 1080p renditions, and no group the title has no rendition in', () => {
    const hd = catalogTitle('movie-3', {
      renditions: [
        { codec: 'avc1', width: 1280, height: 720, bitrateKbps: 3000, bytes: 1 },
        { codec: 'avc1', width: 1920, height: 1080, bitrateKbps: 5800, bytes: 1 },
      ],
    });

    expect([...grantableKeyGroups(hd, 720)].sort()).toEqual(['AUDIO', 'HD1']);
    expect([...grantableKeyGroups(hd, 1079)].sort()).toEqual(['AUDIO', 'HD1']);
    expect([...grantableKeyGroups(hd, 1080)].sort()).toEqual(['AUDIO', 'HD1', 'HD2']);
  });

  it('keeps a group locked when any of its renditions is taller than the cap, even if others fit', () => {
    // 1440x810 (1,166,400 pixels) is over HD1's 921,600, so HD2 holds it with 1080p: an 810p cap fits one of the two.
    const mixed = catalogTitle('movie-4', {
      renditions: [
        { codec: 'avc1', width: 1280, height: 720, bitrateKbps: 3000, bytes: 1 },
        { codec: 'avc1', width: 1440, height: 810, bitrateKbps: 4000, bytes: 1 },
        { codec: 'avc1', width: 1920, height: 1080, bitrateKbps: 5800, bytes: 1 },
      ],
    });

    expect([...grantableKeyGroups(mixed, 810)].sort()).toEqual(['AUDIO', 'HD1']);
    expect([...grantableKeyGroups(mixed, 1080)].sort()).toEqual(['AUDIO', 'HD1', 'HD2']);
  });

  it('counts every codec\'s renditions: a group another codec fills with a taller picture stays locked', () => {
    const oddLadders = catalogTitle('movie-2', {
      renditions: [
        { codec: 'avc1', width: 640, height: 360, bitrateKbps: 800, bytes: 1 },
        { codec: 'avc1', width: 960, height: 720, bitrateKbps: 2500, bytes: 1 },
        // 921,600 pixels, as many as 1280x720: HD1 too, but 800 lines tall.
        { codec: 'hvc1', width: 1152, height: 800, bitrateKbps: 2000, bytes: 1 },
      ],
    });

    expect([...grantableKeyGroups(oddLadders, 720)].sort()).toEqual(['AUDIO', 'SD']);
    expect([...grantableKeyGroups(oddLadders, 800)].sort()).toEqual(['AUDIO', 'HD1', 'SD']);
  });
});

describe('ClearKey key ids in base64url', () => {
  it('round-trips a key id and refuses every other spelling of it', () => {
    const kid = '0123456789abcdef0123456789abcdef';
    const text = kidToBase64Url(kid);

    expect(kidFromBase64Url(text)).toBe(kid);
    expect([`${text}==`, text.slice(0, 21), `${text}A`, Buffer.from(kid, 'hex').toString('base64'), kid].map(kidFromBase64Url)).toEqual(Array(5).fill(undefined));
  });
});

describe('LICENSE_SERVICES', () => {
  it('reads each commercial system\'s license URL and secret, and offers ClearKey with them', () => {
    const services = parseLicenseServices(JSON.stringify({ widevine: { url: 'https://license.example.com/wv?customer=ns', secretArn: ARN }, fairplay: { url: 'http://127.0.0.1:4600/fps', secretArn: ARN } }));

    expect(licenseSystemsOffered(services)).toEqual(['clearkey', 'widevine', 'fairplay']);
    expect(services.widevine).toEqual({ url: 'https://license.example.com/wv?customer=ns', secretArn: ARN });
  });

  it.each([undefined, '', '  '])('offers ClearKey alone when unset (%j)', (raw) => {
    expect(licenseSystemsOffered(parseLicenseServices(raw))).toEqual(['clearkey']);
  });

  it('names every bad field in one error', () => {
    const raw = JSON.stringify({
      widevine: { url: 'http://license.example.com/wv', secretArn: 'nearstream/widevine' },
      playready: { url: 'https://user:pass@license.example.com/', secretArn: ARN, timeout: 3 },
      clearkey: { url: 'https://x.example', secretArn: ARN },
    });

    expect(() => parseLicenseServices(raw)).toThrow(
      new Error(
        'Environment variable LICENSE_SERVICES: ' +
          'widevine.url: must be an https URL (http only to a loopback address, for a local stand-in) without credentials or fragment; ' +
          'widevine.secretArn: must be the complete ARN of a Secrets Manager secret (arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 characters>); ' +
          'playready.url: must be an https URL (http only to a loopback address, for a local stand-in) without credentials or fragment; ' +
          'playready.timeout: Unrecognized key: "timeout"; ' +
          'clearkey: only widevine, playready, fairplay take a license service; ClearKey licenses come from the platform itself',
      ),
    );
  });

  it('says so when it is not JSON', () => {
    expect(() => parseLicenseServices('{widevine:')).toThrow('Environment variable LICENSE_SERVICES is not valid JSON');
  });

  it('is checked when the function starts, before any request', () => {
    const env = { CONTROL_TABLE_NAME: 'control', CONTENT_KEY_KMS_KEY_ID: 'alias/content-keys', LICENSE_SERVICES: JSON.stringify({ widevine: { url: 'ftp://x', secretArn: ARN } }) };
    const previous = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
    Object.assign(process.env, env);
    try {
      expect(() => dependenciesFromEnvironment()).toThrow('Environment variable LICENSE_SERVICES: widevine.url: must be an https URL');
    } finally {
      for (const [name, value] of Object.entries(previous)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});

describe('a provider secret', () => {
  it('yields its headers', () => {
    expect(parseProviderSecret('{"headers":{"x-api-key":"k","Authorization":"Bearer t"}}', ARN)).toEqual({ 'x-api-key': 'k', Authorization: 'Bearer t' });
  });

  it.each([
    ['not JSON', 'sekret-value', `secret ${ARN} is not JSON`],
    ['headers missing', '{"x-api-key":"sekret-value"}', `secret ${ARN}: headers:`],
    ['a header value with a line break', '{"headers":{"x-api-key":"sekret-value\\r\\nx-admin: 1"}}', `secret ${ARN}: headers.x-api-key: must be printable ASCII on one line`],
    ['a header the platform sets', '{"headers":{"X-Nearstream-Entitlement":"sekret-value"}}', 'is set by the platform, not by the secret'],
  ])('is refused when %s, naming the field and never the value', (_what, value, message) => {
    expect(() => parseProviderSecret(value, ARN)).toThrow(message);
    expect(() => parseProviderSecret(value, ARN)).not.toThrow(/sekret-value/);
  });
});
