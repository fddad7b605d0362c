import { Keyring, MAX_TOKEN_LIFETIME_SECONDS, parseKeyring, signToken, TOKEN_CLOCK_SKEW_SECONDS, tokenizedPath, verifyToken } from '../../../lambda/shared/url-token';

const keyring = parseKeyring(JSON.stringify({ activeKeyId: 'k2', k1: 'a'.repeat(40), k2: 'b'.repeat(40) }));
const NOW = 1_800_000_000;
const claims = { expiresAt: NOW + 600, applianceId: 'oca-1', titleId: 'title-9', maxHeight: 1080 };
const context = { keyring, applianceId: 'oca-1', requestedPath: 'titles/title-9/avc1/1080p/seg-7.m4s', nowEpochSeconds: NOW };

describe('URL tokens', () => {
  it('accepts its own token for the title, appliance and time it was signed for', () => {
    const token = signToken(keyring, claims, NOW);
    expect(verifyToken(token, context)).toEqual({ valid: true, claims: { ...claims, keyId: 'k2' } });
  });

  it('puts the token in the path so relative segment URIs carry it', () => {
    expect(tokenizedPath('TOKEN', 'title-9', 'avc1/index.m3u8')).toBe('/t/TOKEN/titles/title-9/avc1/index.m3u8');
  });

  it('refuses a token whose claims were edited', () => {
    const token = signToken(keyring, claims, NOW);
    const longer = token.replace(`.${NOW + 600}.`, `.${NOW + 99_999}.`);
    const taller = token.replace('.1080.', '.2160.');
    for (const tampered of [longer, taller]) {
      expect(verifyToken(tampered, context)).toMatchObject({ valid: false, rejection: 'bad-signature', status: 403 });
    }
  });

  it('refuses a flipped signature character', () => {
    const token = signToken(keyring, claims, NOW);
    const last = token.at(-1) === 'A' ? 'B' : 'A';
    expect(verifyToken(token.slice(0, -1) + last, context)).toMatchObject({ rejection: 'bad-signature' });
  });

  it('answers 410 for an expired token', () => {
    const token = signToken(keyring, { ...claims, expiresAt: NOW - 1 }, NOW);
    expect(verifyToken(token, context)).toMatchObject({ valid: false, rejection: 'expired', status: 410 });
  });

  it('refuses another title\'s path and path traversal out of the scope', () => {
    const token = signToken(keyring, claims, NOW);
    for (const requestedPath of ['titles/title-8/avc1/index.m3u8', 'titles/title-9/../title-8/avc1/index.m3u8', 'titles/title-90/x']) {
      expect(verifyToken(token, { ...context, requestedPath })).toMatchObject({ rejection: 'wrong-title', status: 403 });
    }
  });

  it('refuses a token signed for another appliance', () => {
    const token = signToken(keyring, { ...claims, applianceId: 'oca-2' }, NOW);
    expect(verifyToken(token, context)).toMatchObject({ rejection: 'wrong-appliance', message: "token is for appliance 'oca-2'" });
  });

  it('keeps verifying tokens of the previous key after rotation, and refuses removed keys', () => {
    const before: Keyring = parseKeyring(JSON.stringify({ activeKeyId: 'k1', k1: 'a'.repeat(40) }));
    const token = signToken(before, claims, NOW);
    expect(verifyToken(token, context)).toMatchObject({ valid: true, claims: { keyId: 'k1' } });
    const afterRemoval = parseKeyring(JSON.stringify({ activeKeyId: 'k2', k2: 'b'.repeat(40) }));
    expect(verifyToken(token, { ...context, keyring: afterRemoval })).toMatchObject({ rejection: 'unknown-key' });
  });

  it.each(['', 'v2.k1.1.a.b.1.sig', 'v1.k1.1.a.b.1', 'v1.k/1.1.a.b.1.' + 'x'.repeat(43), 'v1.k1.soon.a.b.1.' + 'x'.repeat(43)])(
    'refuses malformed token %p',
    (token) => {
      expect(verifyToken(token, context)).toMatchObject({ valid: false, rejection: 'malformed' });
    },
  );

  it('signs a token that lives exactly the maximum lifetime, and refuses one a second longer', () => {
    expect(verifyToken(signToken(keyring, { ...claims, expiresAt: NOW + MAX_TOKEN_LIFETIME_SECONDS }, NOW), context)).toMatchObject({ valid: true });
    expect(() => signToken(keyring, { ...claims, expiresAt: NOW + MAX_TOKEN_LIFETIME_SECONDS + 1 }, NOW)).toThrow(
      `expiresAt ${NOW + MAX_TOKEN_LIFETIME_SECONDS + 1} is 86401 s away; tokens live at most MAX_TOKEN_LIFETIME_SECONDS (86400 s)`,
    );
  });

  it('refuses a correctly signed token that lives longer than the cap, allowing for a signer\'s clock running ahead', () => {
    const signedAhead = (seconds: number) => signToken(keyring, { ...claims, expiresAt: NOW + seconds }, NOW + seconds - MAX_TOKEN_LIFETIME_SECONDS);
    expect(verifyToken(signedAhead(MAX_TOKEN_LIFETIME_SECONDS + TOKEN_CLOCK_SKEW_SECONDS), context)).toMatchObject({ valid: true });
    expect(verifyToken(signedAhead(MAX_TOKEN_LIFETIME_SECONDS + TOKEN_CLOCK_SKEW_SECONDS + 1), context)).toMatchObject({
      valid: false,
      rejection: 'lifetime-too-long',
      status: 403,
    });
  });

  it('will not sign ids that could break the token format', () => {
    expect(() => signToken(keyring, { ...claims, titleId: 'a.b' }, NOW)).toThrow("titleId 'a.b' must be 1-64 letters");
  });
});

describe('parseKeyring', () => {
  it.each([
    ['not json', 'URL-signing secret is not JSON'],
    ['[]', 'must be a JSON object'],
    [JSON.stringify({ activeKeyId: 'k9', k1: 'a'.repeat(40) }), "activeKeyId 'k9' must name one of its keys"],
    [JSON.stringify({ activeKeyId: 'k1', k1: 'short' }), "key 'k1' must be a string of at least 32 characters"],
  ])('rejects %p', (secret, message) => {
    expect(() => parseKeyring(secret)).toThrow(message);
  });
});
