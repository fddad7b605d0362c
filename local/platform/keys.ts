import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { z } from 'zod';

const keysSchema = z.strictObject({
  urlSigningKeyring: z.string(),
  origin: z.strictObject({ keyPairId: z.string(), generation: z.number(), privateKeyPem: z.string(), publicKeyPem: z.string() }),
  viewerPassword: z.string(),
});
export type PlatformKeys = z.infer<typeof keysSchema>;

/**
 * The local platform's secrets, made once and kept (0600) so that a restart keeps tokens, signed
 * URLs and the dev viewer's password valid: what the data stack's secrets and key-pair resources
 * make in AWS.
 */
export function loadOrCreateKeys(file: string): PlatformKeys {
  if (fs.existsSync(file)) {
    const parsed = keysSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
    if (!parsed.success) {
      throw new Error(`${file}: ${parsed.error.issues[0].path.join('.')}: ${parsed.error.issues[0].message} (start over with --fresh)`);
    }
    return parsed.data;
  }
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keys: PlatformKeys = {
    urlSigningKeyring: JSON.stringify({ activeKeyId: 'local1', local1: randomBytes(32).toString('base64url') }),
    origin: {
      keyPairId: 'KLOCALORIGIN1',
      generation: 1,
      privateKeyPem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    },
    viewerPassword: randomBytes(9).toString('base64url'),
  };
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(keys, null, 2), { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
  return keys;
}
