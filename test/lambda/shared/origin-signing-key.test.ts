import { formatOriginSigningKey, parseOriginSigningKey } from '../../../lambda/shared/origin-signing-key';
import { cloudFrontKeyPair } from '../../support/fixtures';

describe('the origin signing secret', () => {
  const { privateKeyPem } = cloudFrontKeyPair();

  it('carries the key pair id, the generation and the private key together, and reads back what was written', () => {
    const key = { keyPairId: 'K2JCJMDEHXQW5F', generation: 2, privateKeyPem };
    expect(parseOriginSigningKey(formatOriginSigningKey(key))).toEqual(key);
  });

  it.each([
    ['not JSON', 'not json', 'origin signing secret is not JSON'],
    ['a JSON list', '[]', 'must be a JSON object with keyPairId, generation and privateKeyPem'],
    ['the single-key format, which has no key pair id', JSON.stringify({ privateKeyPem }), 'keyPairId must be a CloudFront public key id'],
    ['a generation of zero', JSON.stringify({ keyPairId: 'K2JCJMDEHXQW5F', generation: 0, privateKeyPem }), 'generation must be a positive whole number'],
    ['without a private key', JSON.stringify({ keyPairId: 'K2JCJMDEHXQW5F', generation: 1 }), 'privateKeyPem must be a PEM private key'],
  ])('refuses a value that is %s, naming the field', (_label, secret, message) => {
    expect(() => parseOriginSigningKey(secret)).toThrow(message);
  });
});
