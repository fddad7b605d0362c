import { createHash } from 'node:crypto';
import { DataKey, EncryptionContext, KeyWrapper } from './content-key-store';

export interface CachingKeyWrapperOptions {
  /** How long an opened data key is kept. */
  readonly maxAgeMs: number;
  /** How many opened data keys are kept; the least recently used goes first. */
  readonly maxEntries: number;
  /** @default Date.now */
  readonly nowMs?: () => number;
}

interface Entry {
  readonly plaintext: Buffer;
  readonly expiresAtMs: number;
}

/**
 * Opened data keys kept for a short while in the container, so that at a stream-start peak the
 * licenses of one title do not each call KMS `Decrypt` for the data key a license a moment ago
 * already opened (one call per title and container every `maxAgeMs`, instead of one per license).
 *
 * A key is found again only for the same wrapped bytes and the same encryption context. Each
 * caller gets its own copy of the plaintext, since the store zeroes what it is handed; KMS's own
 * answer is zeroed once its callers have copied it, and kept keys are zeroed when they expire
 * (swept on every call) or are pushed out. A failed unwrap is not kept, and callers asking for the
 * same key at once share one call. What this costs: a KMS key disabled or a grant revoked stops
 * licenses only once the kept keys expire.
 *
 * New data keys (`generate`) are not kept: the key provider makes them once per title.
 */
export class CachingKeyWrapper implements KeyWrapper {
  readonly name: string;
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<Buffer>>();
  private readonly nowMs: () => number;

  constructor(
    private readonly inner: KeyWrapper,
    private readonly options: CachingKeyWrapperOptions,
  ) {
    if (!(Number.isFinite(options.maxAgeMs) && options.maxAgeMs > 0)) {
      throw new Error(`CachingKeyWrapper: maxAgeMs must be a positive number of milliseconds, not ${options.maxAgeMs}`);
    }
    if (!(Number.isInteger(options.maxEntries) && options.maxEntries > 0)) {
      throw new Error(`CachingKeyWrapper: maxEntries must be a positive whole number, not ${options.maxEntries}`);
    }
    this.name = inner.name;
    this.nowMs = options.nowMs ?? Date.now;
  }

  generate(context: EncryptionContext): Promise<DataKey> {
    return this.inner.generate(context);
  }

  async unwrap(wrapped: Buffer, context: EncryptionContext): Promise<Buffer> {
    this.sweepExpired();
    const key = cacheKey(wrapped, context);
    const kept = this.entries.get(key);
    if (kept) {
      // Re-inserted last: the map's order is least recently used first.
      this.entries.delete(key);
      this.entries.set(key, kept);
      return Buffer.from(kept.plaintext);
    }
    let pending = this.inFlight.get(key);
    if (!pending) {
      // Started after it is registered, so that even a wrapper throwing at once is forgotten.
      const started: Promise<Buffer> = Promise.resolve().then(() => this.open(key, wrapped, context));
      pending = started;
      this.inFlight.set(key, started);
      void started.then(
        () => this.inFlight.delete(key),
        () => this.inFlight.delete(key),
      );
    }
    // Copied in the continuation of the await, before the zeroing `open` scheduled runs.
    return Buffer.from(await pending);
  }

  private async open(key: string, wrapped: Buffer, context: EncryptionContext): Promise<Buffer> {
    const plaintext = await this.inner.unwrap(wrapped, context);
    this.entries.set(key, { plaintext: Buffer.from(plaintext), expiresAtMs: this.nowMs() + this.options.maxAgeMs });
    for (const [oldest, entry] of this.entries) {
      if (this.entries.size <= this.options.maxEntries) {
        break;
      }
      entry.plaintext.fill(0);
      this.entries.delete(oldest);
    }
    // Every caller waiting on this call copies `plaintext` in a microtask; a macrotask runs after them all.
    setImmediate(() => plaintext.fill(0));
    return plaintext;
  }

  private sweepExpired(): void {
    const now = this.nowMs();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAtMs <= now) {
        entry.plaintext.fill(0);
        this.entries.delete(key);
      }
    }
  }
}

/** A digest of the wrapped bytes and the encryption context, each length-prefixed, keys sorted. */
function cacheKey(wrapped: Buffer, context: EncryptionContext): string {
  const hash = createHash('sha256');
  const part = (bytes: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    hash.update(length).update(bytes);
  };
  part(wrapped);
  for (const name of Object.keys(context).sort()) {
    part(Buffer.from(name, 'utf8'));
    part(Buffer.from(context[name], 'utf8'));
  }
  return hash.digest('base64');
}
