import { ManifestObject } from '../../../lambda/shared/fill-manifest';
import { AgentConfig } from './config';
import { CorruptObjectError, downloadVerified } from './download';
import { log } from './log';
import { Origin } from './origin';
import { RateLimiter } from './rate-limiter';
import { isRetryable, RetryPolicy, withRetries } from './retry';
import { heldBytesOf } from './state';
import { NodeStore } from './store';

/** Object GETs: quick first retries, then up to half a minute apart; a broken object gives up its worker after ten. */
const OBJECT_RETRIES: RetryPolicy = { baseDelayMs: 250, maxDelayMs: 30_000, maxAttempts: 10 };
/** Bytes that do not match the manifest may be a torn transfer; three times, and it is the object. */
const CORRUPT_ATTEMPTS = 3;
const PROGRESS_INTERVAL_MS = 2000;
const STATE_FLUSH_MS = 500;

/**
 * Makes verified objects durable and visible (sync, then rename into the served tree) behind the
 * downloads, so a connection never waits on the disk; at most `limit` commits run at once, and a
 * download that would exceed that waits for one to finish.
 */
class Committer {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async submit<T>(work: () => Promise<T>): Promise<{ committed: Promise<T> }> {
    while (this.running >= this.limit) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.running++;
    const committed = work().finally(() => {
      this.running--;
      this.waiting.shift()?.();
    });
    return { committed };
  }
}

export interface TransferOptions {
  readonly config: Pick<AgentConfig, 'originBucket' | 'parallelism' | 'bandwidthCapBytesPerSecond' | 'diskCeilingBytes'>;
  readonly origin: Origin;
  readonly store: NodeStore;
  /** Aborts at the fill window's end: no new download starts, and those under way stop. */
  readonly signal: AbortSignal;
  readonly deadlineMs: number;
  readonly nowMs: () => number;
}

export interface TransferResult {
  readonly downloadedBytes: number;
  readonly downloadedObjects: number;
  readonly failures: readonly { readonly key: string; readonly reason: string }[];
  readonly ceilingReached: boolean;
}

/**
 * Downloads, verifies and commits `downloads` into the store: bounded parallelism, the bandwidth
 * cap, the disk ceiling (an object's bytes are reserved against it until committed or dropped),
 * retries with backoff for what is transient, and commits behind the downloads. Verified objects
 * are committed even when the window ends. The store's journal is flushed at most every
 * STATE_FLUSH_MS and at the end: an object verified but not yet recorded is found and hashed (or
 * fetched) again next time, and nothing is recorded before its bytes are synced. Nothing here
 * scans the held set per object: a node holds hundreds of thousands of segments.
 */
export async function transfer(downloads: readonly ManifestObject[], options: TransferOptions): Promise<TransferResult> {
  const { config, store, signal } = options;
  const limiter = new RateLimiter(config.bandwidthCapBytesPerSecond);
  const committer = new Committer(config.parallelism * 2);
  const failures: { key: string; reason: string }[] = [];
  const totalBytes = downloads.reduce((sum, object) => sum + object.size, 0);
  let heldBytes = heldBytesOf(store.objects);
  let downloadedBytes = 0;
  let downloadedObjects = 0;
  let reservedBytes = 0;
  let ceilingReached = false;
  const started = performance.now();
  const progress = setInterval(() => {
    const rate = downloadedBytes / Math.max((performance.now() - started) / 1000, 0.001);
    log('info', 'fill progress', {
      bytes: downloadedBytes,
      totalBytes,
      objects: downloadedObjects,
      totalObjects: downloads.length,
      rateBytesPerSecond: Math.round(rate),
      etaSeconds: rate > 0 ? Math.round((totalBytes - downloadedBytes) / rate) : null,
    });
  }, PROGRESS_INTERVAL_MS);
  let lastFlush = performance.now();
  const persist = () => {
    if (performance.now() - lastFlush >= STATE_FLUSH_MS) {
      lastFlush = performance.now();
      store.flush().catch((error: Error) => log('error', 'state journal not written', { reason: error.message }));
    }
  };

  /** The object's verified partial, or undefined once it failed for this fill (the failure recorded). */
  const fetchVerified = async (object: ManifestObject) => {
    let corrupt = 0;
    try {
      return await withRetries(() => downloadVerified(options.origin, config.originBucket, object, store, limiter, (bytes) => (downloadedBytes += bytes), signal), {
        policy: OBJECT_RETRIES,
        deadlineMs: options.deadlineMs,
        nowMs: options.nowMs,
        signal,
        retryable: (error) => (error instanceof CorruptObjectError ? ++corrupt < CORRUPT_ATTEMPTS : isRetryable(error)),
        onRetry: (error, attempt, delayMs) =>
          log('warn', error instanceof CorruptObjectError ? 'corrupt object discarded' : 'download failed', { key: object.key, attempt, retryInMs: delayMs, reason: error.message }),
      });
    } catch (error) {
      if (!signal.aborted) {
        log('warn', error instanceof CorruptObjectError ? 'corrupt object discarded' : 'download failed', { key: object.key, reason: (error as Error).message });
        failures.push({ key: object.key, reason: (error as Error).message });
      }
      return undefined;
    }
  };

  const queue = [...downloads];
  const committing = new Set<Promise<void>>();
  const worker = async () => {
    for (let object = queue.shift(); object && !signal.aborted; object = queue.shift()) {
      const replaced = store.objects.get(object.key)?.size ?? 0;
      if (heldBytes - replaced + reservedBytes + object.size > config.diskCeilingBytes) {
        ceilingReached = true;
        failures.push({ key: object.key, reason: `would exceed the disk ceiling of ${config.diskCeilingBytes} bytes` });
        continue;
      }
      reservedBytes += object.size;
      const partial = await fetchVerified(object);
      if (!partial) {
        reservedBytes -= object.size;
        continue;
      }
      const { committed } = await committer.submit(() => store.commit(partial, object));
      const recorded = committed
        .then(
          () => {
            heldBytes += object.size - replaced;
            downloadedObjects++;
            persist();
          },
          (error: Error) => {
            log('error', 'verified object could not be stored', { key: object.key, reason: error.message });
            failures.push({ key: object.key, reason: `verified but could not be stored: ${error.message}` });
          },
        )
        .finally(() => {
          reservedBytes -= object.size;
          committing.delete(recorded);
        });
      committing.add(recorded);
    }
  };
  try {
    await Promise.all(Array.from({ length: config.parallelism }, worker));
  } finally {
    while (committing.size > 0) {
      await Promise.all([...committing]);
    }
    clearInterval(progress);
    await store.flush();
  }
  return { downloadedBytes, downloadedObjects, failures, ceilingReached };
}
