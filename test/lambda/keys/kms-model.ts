import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DecryptCommand, GenerateDataKeyCommand, InvalidCiphertextException, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';

export const KMS_KEY_ID = 'arn:aws:kms:us-east-1:123456789012:key/0f6a1d3e-content-keys';

/**
 * KMS as `aws-sdk-client-mock` plays it, with real cryptography: `GenerateDataKey` returns a random
 * data key and that key sealed (AES-256-GCM) under a master key held here, the key id and the
 * encryption context as additional data; `Decrypt` opens it only with the same key id and context,
 * and otherwise fails as KMS does, with `InvalidCiphertextException`. Every plaintext it hands out
 * is kept, so a test can check the code under test zeroed it.
 */
export function kmsModel() {
  const kms = mockClient(KMSClient);
  const master = randomBytes(32);
  const issued: Uint8Array[] = [];
  const aad = (keyId: string, context: Record<string, string> | undefined) =>
    Buffer.from(JSON.stringify([keyId, Object.entries(context ?? {}).sort(([a], [b]) => a.localeCompare(b))]));

  const install = () => {
    kms.reset();
    kms.on(GenerateDataKeyCommand).callsFake((input) => {
      if (input.KeyId !== KMS_KEY_ID || input.KeySpec !== 'AES_256') {
        throw new Error(`unexpected GenerateDataKey ${JSON.stringify({ KeyId: input.KeyId, KeySpec: input.KeySpec })}`);
      }
      const plaintext = new Uint8Array(randomBytes(32));
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', master, iv);
      cipher.setAAD(aad(input.KeyId, input.EncryptionContext));
      const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      issued.push(plaintext);
      return { KeyId: KMS_KEY_ID, Plaintext: plaintext, CiphertextBlob: new Uint8Array(Buffer.concat([iv, cipher.getAuthTag(), sealed])) };
    });
    kms.on(DecryptCommand).callsFake((input) => {
      const blob = Buffer.from(input.CiphertextBlob ?? []);
      try {
        const decipher = createDecipheriv('aes-256-gcm', master, blob.subarray(0, 12));
        decipher.setAAD(aad(input.KeyId ?? KMS_KEY_ID, input.EncryptionContext));
        decipher.setAuthTag(blob.subarray(12, 28));
        const plaintext = new Uint8Array(Buffer.concat([decipher.update(blob.subarray(28)), decipher.final()]));
        issued.push(plaintext);
        return { KeyId: KMS_KEY_ID, Plaintext: plaintext };
      } catch {
        throw new InvalidCiphertextException({ message: 'The ciphertext is invalid for this key and context', $metadata: {} });
      }
    });
  };
  install();
  return {
    kms,
    /** Every plaintext data key handed out, in order. */
    issued,
    /** Back to a working KMS after a test broke it. */
    reset: install,
  };
}
