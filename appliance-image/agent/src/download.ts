import { createHash, Hash } from 'node:crypto';
import * as fs from 'node:fs';
import { FileHandle } from 'node:fs/promises';
import { IncomingMessage } from 'node:http';
import * as path from 'node:path';
import { ManifestObject } from '../../../lambda/shared/fill-manifest';
import { Origin } from './origin';
import { RateLimiter } from './rate-limiter';

export class CorruptObjectError extends Error {}

/** Bytes from the network are written in batches of at most this size: fewer, larger writes. */
const WRITE_BATCH_BYTES = 1024 * 1024;

/** Where an object's bytes collect until verified: outside the served tree, named by its digest. */
export function partialPath(stateDir: string, object: ManifestObject): string {
  return path.join(stateDir, 'partial', object.sha256);
}

/** Where a verified object is served from. */
export function cachePath(cacheDir: string, key: string): string {
  const resolved = path.resolve(cacheDir, key);
  if (!resolved.startsWith(path.resolve(cacheDir) + path.sep)) {
    throw new Error(`object key '${key}' resolves outside the cache`);
  }
  return resolved;
}

/** Directories a fill has already made: a title's hundreds of segments share a handful. */
export class DirectoryCache {
  private readonly made = new Set<string>();

  async ensure(dir: string): Promise<void> {
    if (!this.made.has(dir)) {
      await fs.promises.mkdir(dir, { recursive: true });
      this.made.add(dir);
    }
  }
}

/**
 * Makes verified objects durable and visible (sync, then rename into the served tree) behind the
 * downloads, so a connection never waits on the disk; at most `limit` commits run at once, and a
 * download that would exceed that waits for one to finish.
 */
export class Committer {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async submit(work: () => Promise<void>): Promise<{ committed: Promise<void> }> {
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

/** Hashes what an earlier, interrupted run left in the partial file. */
async function hashExisting(file: FileHandle, bytes: number, hash: Hash): Promise<void> {
  const buffer = Buffer.allocUnsafe(Math.min(bytes, WRITE_BATCH_BYTES));
  for (let at = 0; at < bytes; ) {
    const { bytesRead } = await file.read(buffer, 0, Math.min(buffer.length, bytes - at), at);
    if (bytesRead === 0) {
      throw new Error(`the partial file shrank while being read at byte ${at}`);
    }
    hash.update(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead));
    at += bytesRead;
  }
}

/**
 * Streams a response body into the file: every chunk into the digest as it arrives, the bytes in
 * batches (taken from the shared bandwidth budget, then written with one gathered write) while the
 * socket is paused, so memory stays at one batch per download. Resolves with the bytes received,
 * stopping early once there are more than `limit`.
 */
function receive(body: IncomingMessage, file: FileHandle, hash: Hash, limit: number, batchBytes: number, limiter: RateLimiter, onBytes: (bytes: number) => void, signal: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let received = 0;
    let settled = false;
    const fail = (error: Error) => {
      if (!settled) {
        settled = true;
        body.destroy();
        reject(error);
      }
    };
    const flush = async () => {
      const batch = pending;
      const bytes = pendingBytes;
      pending = [];
      pendingBytes = 0;
      if (bytes > 0) {
        await limiter.take(bytes, signal);
        await file.writev(batch);
        onBytes(bytes);
      }
    };
    const finish = () =>
      flush().then(() => {
        if (!settled) {
          settled = true;
          resolve(received);
        }
      }, fail);
    body.on('data', (chunk: Buffer) => {
      received += chunk.length;
      hash.update(chunk);
      if (received > limit) {
        settled = true;
        body.destroy();
        resolve(received);
        return;
      }
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= batchBytes) {
        body.pause();
        flush().then(() => body.resume(), fail);
      }
    });
    body.once('end', finish);
    body.once('error', fail);
    body.once('aborted', () => fail(new Error('the origin closed the connection mid-object')));
  });
}

/**
 * Fetches one object into the cache, verified. Bytes stream through SHA-256 into a partial file
 * outside the served tree; after a crash or a kill, the next run hashes what the partial holds and
 * asks the origin only for the rest. Resolves once the bytes are verified, with their commit
 * under way: the object appears at its served path only by an atomic rename after its size and
 * digest match and its bytes are synced. A mismatch discards the partial and throws.
 */
export async function downloadVerified(
  origin: Origin,
  bucket: string,
  object: ManifestObject,
  dirs: { readonly cacheDir: string; readonly stateDir: string; readonly made: DirectoryCache; readonly committer: Committer },
  limiter: RateLimiter,
  onBytes: (bytes: number) => void,
  signal: AbortSignal,
): Promise<{ committed: Promise<void> }> {
  const partial = partialPath(dirs.stateDir, object);
  const target = cachePath(dirs.cacheDir, object.key);
  await dirs.made.ensure(path.dirname(partial));
  const file = await fs.promises.open(partial, 'a+', 0o644);
  try {
    let hash = createHash('sha256');
    let written = (await file.stat()).size;
    if (written > object.size) {
      await file.truncate(0);
      written = 0;
    }
    await hashExisting(file, written, hash);
    if (written < object.size) {
      const { body, startsAt } = await origin.read(bucket, object.key, written, signal);
      if (startsAt !== written) {
        await file.truncate(0);
        hash = createHash('sha256');
        written = 0;
      }
      const batchBytes = Math.max(64 * 1024, Math.min(WRITE_BATCH_BYTES, Math.floor(limiter.bytesPerSecond / 8)));
      written += await receive(body, file, hash, object.size - written, batchBytes, limiter, onBytes, signal);
    }
    const digest = hash.digest('hex');
    if (written !== object.size || digest !== object.sha256) {
      await file.truncate(0);
      throw new CorruptObjectError(`${object.key}: got ${written} bytes with sha256 ${digest}; the manifest says ${object.size} bytes, ${object.sha256}`);
    }
  } catch (error) {
    await file.close().catch(() => undefined);
    if ((await fs.promises.stat(partial).then((stats) => stats.size, () => -1)) === 0) {
      await fs.promises.rm(partial, { force: true });
    }
    throw error;
  }
  return dirs.committer.submit(async () => {
    try {
      await file.chmod(0o644);
      await file.datasync();
    } finally {
      await file.close();
    }
    await dirs.made.ensure(path.dirname(target));
    await fs.promises.rename(partial, target);
  });
}
