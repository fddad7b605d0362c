import { createHash, Hash } from 'node:crypto';
import { FileHandle } from 'node:fs/promises';
import { IncomingMessage } from 'node:http';
import { ManifestObject } from '../../../lambda/shared/fill-manifest';
import { Origin } from './origin';
import { RateLimiter } from './rate-limiter';
import { TransientError } from './retry';
import { hashRange } from './no-follow';
import { NodeStore, PartialFile } from './store';

export class CorruptObjectError extends Error {}

/** Bytes from the network are written in batches of at most this size: fewer, larger writes. */
const WRITE_BATCH_BYTES = 1024 * 1024;

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
    body.once('aborted', () => fail(new TransientError('the origin closed the connection mid-object')));
  });
}

/**
 * Fetches one object's bytes into its partial file (from the store, outside the served tree),
 * verified: bytes stream through SHA-256; after a crash or a kill, the next run hashes what the
 * partial holds and asks the origin only for the rest. Resolves with the partial once its size and
 * digest match the manifest, for the store to commit. A mismatch empties the partial and throws
 * `CorruptObjectError`; any other failure keeps what arrived for the next attempt to resume.
 */
export async function downloadVerified(
  origin: Origin,
  bucket: string,
  object: ManifestObject,
  store: NodeStore,
  limiter: RateLimiter,
  onBytes: (bytes: number) => void,
  signal: AbortSignal,
): Promise<PartialFile> {
  const partial = await store.openPartial(object);
  const file = partial.handle;
  try {
    let hash = createHash('sha256');
    let written = partial.bytes;
    if (written > object.size) {
      await store.restartPartial(partial);
      written = 0;
    }
    // What an earlier, interrupted run left in the partial file.
    if (!(await hashRange(file, written, hash))) {
      throw new Error(`the partial file shrank below its ${written} bytes while being read`);
    }
    if (written < object.size) {
      const { body, startsAt } = await origin.read(bucket, object.key, written, signal);
      if (startsAt !== written) {
        await store.restartPartial(partial);
        hash = createHash('sha256');
        written = 0;
      }
      const batchBytes = Math.max(64 * 1024, Math.min(WRITE_BATCH_BYTES, Math.floor(limiter.bytesPerSecond / 8)));
      written += await receive(body, file, hash, object.size - written, batchBytes, limiter, onBytes, signal);
    }
    const digest = hash.digest('hex');
    if (written !== object.size || digest !== object.sha256) {
      await store.restartPartial(partial);
      throw new CorruptObjectError(`${object.key}: got ${written} bytes with sha256 ${digest}; the manifest says ${object.size} bytes, ${object.sha256}`);
    }
    return partial;
  } catch (error) {
    await store.abandonPartial(partial);
    throw error;
  }
}
