import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CachingKeyWrapper } from '../../../lambda/keys/caching-key-wrapper';
import { DataKey, EncryptionContext, KeyWrapper } from '../../../lambda/keys/content-key-store';

/**
 * A wrapper that seals data keys with AES-256-GCM under a master key, binding the encryption
 * context as associated data (as KMS does), and counts its unwraps: the KMS calls a cache saves.
 */
class CountingWrapper implements KeyWrapper {
  readonly name = 'counting';
  unwraps = 0;
  /** What the last unwrap handed back: KMS's own answer, which the cache must zero once copied. */
  lastAnswer?: Buffer;
  private readonly master = randomBytes(32);
  private failNext = false;

  async generate(context: EncryptionContext): Promise<DataKey> {
    const plaintext = randomBytes(32);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.master, iv).setAAD(Buffer.from(JSON.stringify(context)));
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { plaintext, wrapped: Buffer.concat([iv, cipher.getAuthTag(), sealed]) };
  }

  async unwrap(wrapped: Buffer, context: EncryptionContext): Promise<Buffer> {
    this.unwraps++;
    await new Promise((resolve) => setImmediate(resolve));
    if (this.failNext) {
      this.failNext = false;
      throw new Error('AccessDeniedException');
    }
    const decipher = createDecipheriv('aes-256-gcm', this.master, wrapped.subarray(0, 12)).setAAD(Buffer.from(JSON.stringify(context)));
    decipher.setAuthTag(wrapped.subarray(12, 28));
    this.lastAnswer = Buffer.concat([decipher.update(wrapped.subarray(28)), decipher.final()]);
    return this.lastAnswer;
  }

  failOnce(): void {
    this.failNext = true;
  }
}

const CONTEXT = { purpose: 'content-key', titleId: 't1' };

describe('CachingKeyWrapper: opened data keys kept for a while', () => {
  let inner: CountingWrapper;
  let now: number;
  let cache: CachingKeyWrapper;

  beforeEach(() => {
    inner = new CountingWrapper();
    now = 1_000_000;
    cache = new CachingKeyWrapper(inner, { maxAgeMs: 60_000, maxEntries: 2, nowMs: () => now });
  });

  it('opens a data key once for many licenses, handing each its own copy to zero', async () => {
    const { plaintext, wrapped } = await inner.generate(CONTEXT);

    const first = await cache.unwrap(wrapped, CONTEXT);
    first.fill(0);
    const second = await cache.unwrap(wrapped, CONTEXT);
    expect(second).toEqual(plaintext);
    second.fill(0);
    const third = await cache.unwrap(wrapped, CONTEXT);

    expect(third).toEqual(plaintext);
    expect(inner.unwraps).toBe(1);
    expect(cache.name).toBe('counting');
  });

  it('zeroes KMS\'s own answer once every caller waiting on it has its copy', async () => {
    const { plaintext, wrapped } = await inner.generate(CONTEXT);

    const opened = await Promise.all([cache.unwrap(wrapped, CONTEXT), cache.unwrap(wrapped, CONTEXT)]);
    await new Promise((resolve) => setImmediate(resolve));

    expect(opened).toEqual([plaintext, plaintext]);
    expect(inner.lastAnswer).toEqual(Buffer.alloc(32));
  });

  it('forgets a wrapper that throws at once, instead of answering every later call with its error', async () => {
    const { plaintext, wrapped } = await inner.generate(CONTEXT);
    const unwrap = inner.unwrap.bind(inner);
    let throwNow = true;
    inner.unwrap = (bytes, context) => {
      if (throwNow) {
        throwNow = false;
        throw new Error('ThrottlingException');
      }
      return unwrap(bytes, context);
    };

    await expect(cache.unwrap(wrapped, CONTEXT)).rejects.toThrow('ThrottlingException');
    expect(await cache.unwrap(wrapped, CONTEXT)).toEqual(plaintext);
  });

  it('shares one call among licenses asking at once', async () => {
    const { plaintext, wrapped } = await inner.generate(CONTEXT);

    const opened = await Promise.all([cache.unwrap(wrapped, CONTEXT), cache.unwrap(wrapped, CONTEXT), cache.unwrap(wrapped, CONTEXT)]);

    expect(opened).toEqual([plaintext, plaintext, plaintext]);
    opened[0].fill(0);
    expect(opened.slice(1)).toEqual([plaintext, plaintext]);
    expect(inner.unwraps).toBe(1);
  });

  it('opens the key again once it has expired', async () => {
    const { wrapped } = await inner.generate(CONTEXT);
    await cache.unwrap(wrapped, CONTEXT);

    now += 59_999;
    await cache.unwrap(wrapped, CONTEXT);
    expect(inner.unwraps).toBe(1);
    now += 1;
    await cache.unwrap(wrapped, CONTEXT);
    expect(inner.unwraps).toBe(2);
  });

  it('never answers for another encryption context, and the inner wrapper still refuses it', async () => {
    const { wrapped } = await inner.generate(CONTEXT);
    await cache.unwrap(wrapped, CONTEXT);

    await expect(cache.unwrap(wrapped, { ...CONTEXT, titleId: 't2' })).rejects.toThrow(/unable to authenticate/);
    await expect(cache.unwrap(wrapped, { titleId: 't1', purpose: 'content-key', extra: '' })).rejects.toThrow(/unable to authenticate/);
    expect(inner.unwraps).toBe(3);
  });

  it('keeps no failure: the next license asks again', async () => {
    const { plaintext, wrapped } = await inner.generate(CONTEXT);
    inner.failOnce();

    await expect(cache.unwrap(wrapped, CONTEXT)).rejects.toThrow('AccessDeniedException');
    expect(await cache.unwrap(wrapped, CONTEXT)).toEqual(plaintext);
    expect(inner.unwraps).toBe(2);
  });

  it('keeps at most maxEntries keys, pushing out the least recently used', async () => {
    const keys = await Promise.all(['a', 'b', 'c'].map((titleId) => inner.generate({ ...CONTEXT, titleId })));
    const open = (index: number) => cache.unwrap(keys[index].wrapped, { ...CONTEXT, titleId: ['a', 'b', 'c'][index] });

    await open(0);
    await open(1);
    await open(0); // a is now the most recently used
    await open(2); // pushes out b
    expect(inner.unwraps).toBe(3);
    await open(0);
    await open(2);
    expect(inner.unwraps).toBe(3);
    await open(1);
    expect(inner.unwraps).toBe(4);
  });

  it('refuses settings that would keep nothing or keep forever', () => {
    expect(() => new CachingKeyWrapper(inner, { maxAgeMs: 0, maxEntries: 1 })).toThrow('maxAgeMs must be a positive number of milliseconds, not 0');
    expect(() => new CachingKeyWrapper(inner, { maxAgeMs: Infinity, maxEntries: 1 })).toThrow(/maxAgeMs/);
    expect(() => new CachingKeyWrapper(inner, { maxAgeMs: 1, maxEntries: 1.5 })).toThrow('maxEntries must be a positive whole number, not 1.5');
  });
});
