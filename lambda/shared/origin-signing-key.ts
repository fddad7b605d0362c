/**
 * The value of the origin signing secret: the contract between the deploy-time resource that writes
 * it (`lambda/origin-key`) and the play functions of both regions that sign with it. The key pair id
 * and the private key travel together, so a signer can never pair one generation's id with another
 * generation's key, and a rotation reaches the secondary region through secret replication instead
 * of a deploy-time value.
 */
export interface OriginSigningKey {
  /** The CloudFront public key id (`K2JCJMDEHXQW5F`) of the active generation, trusted by the key group. */
  readonly keyPairId: string;
  /** Which key generation this is, for logs and for the deploy-time checks. */
  readonly generation: number;
  /** The private half, PKCS#1 PEM. */
  readonly privateKeyPem: string;
}

const KEY_PAIR_ID = /^[A-Z0-9]{1,128}$/;

export function formatOriginSigningKey(key: OriginSigningKey): string {
  return JSON.stringify({ keyPairId: key.keyPairId, generation: key.generation, privateKeyPem: key.privateKeyPem });
}

/** Parses the secret, or throws naming the field that is wrong. */
export function parseOriginSigningKey(secretJson: string): OriginSigningKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretJson);
  } catch {
    throw new Error('origin signing secret is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('origin signing secret must be a JSON object with keyPairId, generation and privateKeyPem');
  }
  const { keyPairId, generation, privateKeyPem } = parsed as Record<string, unknown>;
  if (typeof keyPairId !== 'string' || !KEY_PAIR_ID.test(keyPairId)) {
    throw new Error(`origin signing secret: keyPairId must be a CloudFront public key id such as K2JCJMDEHXQW5F (got ${JSON.stringify(keyPairId)})`);
  }
  if (typeof generation !== 'number' || !Number.isInteger(generation) || generation < 1) {
    throw new Error(`origin signing secret: generation must be a positive whole number (got ${JSON.stringify(generation)})`);
  }
  if (typeof privateKeyPem !== 'string' || !privateKeyPem.includes('PRIVATE KEY-----')) {
    throw new Error('origin signing secret: privateKeyPem must be a PEM private key');
  }
  return { keyPairId, generation, privateKeyPem };
}
