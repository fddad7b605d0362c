import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { formatOriginSigningKey, OriginSigningKey, parseOriginSigningKey } from '../shared/origin-signing-key';
import { newKeyPair, publicKeyOf } from './key-pair';
import { OriginKeySecrets } from './origin-key-secrets';

/** Attributes a resource answers CloudFormation with (`Fn::GetAtt`). */
export type ResourceData = Record<string, string> | undefined;

type Properties = Record<string, unknown>;

/**
 * `Custom::CloudFrontKeyPair`, one per generation: the generation's key pair, its private half kept
 * in the key store and its public half answered for the generation's `AWS::CloudFront::PublicKey`.
 * Idempotent per generation: a Create finds a key the store already holds (a retry, or a generation
 * created again after a rollback) and an Update never makes a new one, so the public key's
 * immutable EncodedKey never changes. Delete, which CloudFormation sends when a generation is
 * retired or its creation is rolled back, forgets the private key.
 */
export async function keyPairRequest(secrets: OriginKeySecrets, event: CloudFormationCustomResourceEvent): Promise<ResourceData> {
  const properties = event.ResourceProperties;
  const generation = generationOf(properties);
  const keyStoreId = optionalString(properties, 'KeyStoreId');
  if (keyStoreId === undefined) {
    return singleSecretKeyPair(secrets, event);
  }
  if (event.RequestType === 'Delete') {
    await secrets.forgetGenerationKey(keyStoreId, generation);
    return undefined;
  }
  let privateKeyPem = await secrets.generationKey(keyStoreId, generation);
  if (privateKeyPem === undefined) {
    privateKeyPem =
      event.RequestType === 'Create' ? newKeyPair().privateKeyPem : await carriedOver(secrets, event.OldResourceProperties, generation);
    await secrets.keepGenerationKey(keyStoreId, generation, privateKeyPem);
  }
  return { PublicKeyPem: publicKeyOf(privateKeyPem) };
}

/**
 * `Custom::CloudFrontTrustCheck`, ordered before the key group: refuses a key group that would no
 * longer trust the key pair the play functions sign with now, which would break every URL they
 * hand out (and those already handed out). It catches retiring the active generation, and a deploy
 * that forgot the environment's key generations and fell back to the default.
 */
export async function trustCheckRequest(secrets: OriginKeySecrets, event: CloudFormationCustomResourceEvent): Promise<ResourceData> {
  if (event.RequestType === 'Delete') {
    return undefined;
  }
  const properties = event.ResourceProperties;
  const trusted = stringList(properties, 'TrustedKeyPairIds');
  const signing = signingKeyIn(await secrets.current(requiredString(properties, 'SigningSecretId')));
  if (signing && !trusted.includes(signing.keyPairId)) {
    throw new Error(
      `the key group would stop trusting ${signing.keyPairId}, the key pair of generation ${signing.generation} that signs now. ` +
        `Make another trusted generation active first, and retire generation ${signing.generation} in a later deploy once the URLs it signed have expired`,
    );
  }
  return undefined;
}

/**
 * `Custom::CloudFrontSigningKey`, ordered after the key group and the distribution: writes the
 * active generation's key pair id and private key into the signing secret, so the secret only ever
 * names a key the distribution already trusts. An Update to another generation is the activation;
 * its rollback is an Update back, which finds the old generation's key still in the store because
 * retired generations are forgotten only after a deploy succeeds.
 */
export async function signingKeyRequest(secrets: OriginKeySecrets, event: CloudFormationCustomResourceEvent): Promise<ResourceData> {
  if (event.RequestType === 'Delete') {
    // The secret keeps its key: CloudFormation deletes or retains the secret itself.
    return undefined;
  }
  const properties = event.ResourceProperties;
  const keyStoreId = requiredString(properties, 'KeyStoreId');
  const signingSecretId = requiredString(properties, 'SigningSecretId');
  const keyPairId = requiredString(properties, 'KeyPairId');
  const generation = generationOf(properties);
  const privateKeyPem = await secrets.generationKey(keyStoreId, generation);
  if (privateKeyPem === undefined) {
    throw new Error(`generation ${generation} has no private key in the key store; only a generation whose Custom::CloudFrontKeyPair exists can sign`);
  }
  const current = await secrets.current(signingSecretId);
  const signsNow = current === undefined ? undefined : privateKeyIn(current);
  if (event.RequestType === 'Create' && signsNow !== undefined && signsNow !== privateKeyPem) {
    // Delete cannot restore the key a Create replaced, so a rollback could leave an untrusted key signing.
    throw new Error(
      `the signing secret already holds another key than generation ${generation}'s, and a newly created signing resource may not change it. ` +
        'Deploy once with the generation that signs now active (generation 1 in an environment deployed before key generations), then activate the new one',
    );
  }
  const desired: OriginSigningKey = { keyPairId, generation, privateKeyPem };
  const stored = signingKeyIn(current);
  if (!stored || formatOriginSigningKey(stored) !== formatOriginSigningKey(desired)) {
    await secrets.replaceCurrent(signingSecretId, formatOriginSigningKey(desired));
  }
  return { KeyPairId: keyPairId };
}

/**
 * The resource as deployed before key generations: its private key in the signing secret named by
 * `SecretId`. Only a rollback of the upgrade sends these properties again; the key is the one the
 * secret holds, so the public key CloudFront trusts stays the same.
 */
async function singleSecretKeyPair(secrets: OriginKeySecrets, event: CloudFormationCustomResourceEvent): Promise<ResourceData> {
  if (event.RequestType === 'Delete') {
    return undefined;
  }
  if (event.RequestType === 'Create') {
    throw new Error('ResourceProperties.KeyStoreId is required: the secret that keeps each generation\'s private key');
  }
  const secretId = requiredString(event.ResourceProperties, 'SecretId');
  const privateKeyPem = privateKeyIn((await secrets.current(secretId)) ?? '');
  if (privateKeyPem === undefined) {
    throw new Error(`secret ${secretId} holds no privateKeyPem to keep the existing key pair with`);
  }
  return { PublicKeyPem: publicKeyOf(privateKeyPem) };
}

/** An Update whose store lacks the generation: bring its key from where the old properties kept it. */
async function carriedOver(secrets: OriginKeySecrets, old: Properties, generation: number): Promise<string> {
  if (String(old.Generation) === String(generation)) {
    const oldStore = optionalString(old, 'KeyStoreId');
    const oldSecret = optionalString(old, 'SecretId');
    const found = oldStore !== undefined
      ? await secrets.generationKey(oldStore, generation)
      : oldSecret !== undefined
        ? privateKeyIn((await secrets.current(oldSecret)) ?? '')
        : undefined;
    if (found !== undefined) {
      return found;
    }
  }
  throw new Error(
    `generation ${generation} has no private key in the key store, nor where the resource kept it before; ` +
      'a new key under an existing generation would have to replace its CloudFront public key. Trust a new generation instead',
  );
}

/** The signing secret's key in the current format, or undefined for anything else (a fresh secret, the single-key format). */
function signingKeyIn(value: string | undefined): OriginSigningKey | undefined {
  if (value === undefined) {
    return undefined;
  }
  try {
    return parseOriginSigningKey(value);
  } catch {
    return undefined;
  }
}

/** `privateKeyPem` of a JSON secret in either format. */
function privateKeyIn(value: string): string | undefined {
  try {
    const { privateKeyPem } = JSON.parse(value) as { privateKeyPem?: unknown };
    return typeof privateKeyPem === 'string' ? privateKeyPem : undefined;
  } catch {
    return undefined;
  }
}

function generationOf(properties: Properties): number {
  const generation = Number(properties.Generation);
  if (!Number.isInteger(generation) || generation < 1) {
    throw new Error(`ResourceProperties.Generation must be a positive whole number (got ${JSON.stringify(properties.Generation)})`);
  }
  return generation;
}

function optionalString(properties: Properties, name: string): string | undefined {
  const value = properties[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function requiredString(properties: Properties, name: string): string {
  const value = optionalString(properties, name);
  if (value === undefined) {
    throw new Error(`ResourceProperties.${name} is required`);
  }
  return value;
}

function stringList(properties: Properties, name: string): string[] {
  const value = properties[name];
  if (!Array.isArray(value) || value.length === 0 || !value.every((item) => typeof item === 'string' && item !== '')) {
    throw new Error(`ResourceProperties.${name} must be a non-empty list of CloudFront public key ids`);
  }
  return value as string[];
}
