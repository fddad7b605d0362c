import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';

export interface KeyPairPem {
  readonly publicKeyPem: string;
  readonly privateKeyPem: string;
}

/** A CloudFront signing key pair: RSA 2048, public key as SPKI PEM, private key as PKCS#1 PEM. */
export function newKeyPair(): KeyPairPem {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKeyPem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
  };
}

/** The public half of a stored private key, so an update without rotation keeps the same pair. */
export function publicKeyOf(privateKeyPem: string): string {
  return createPublicKey(createPrivateKey(privateKeyPem)).export({ type: 'spki', format: 'pem' }).toString();
}
