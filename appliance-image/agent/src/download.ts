import { createHash, Hash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ManifestObject } from '../../../lambda/shared/fill-manifest';
import { Origin } from './origin';
import { RateLimiter } from './rate-limiter';

export class CorruptObjectError extends Error {}

/** Chunks from the network are written in batches of this size: fewer, larger writes. */
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

async function hashExisting(file: string, hash: Hash): Promise<number> {
  if (!fs.existsSync(file)) {
    return 0;
  }
  let bytes = 0;
  for await (const chunk of fs.createReadStream(file)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return bytes;
}

/**
 * Fetches one object into the cache, verified. Bytes stream through SHA-256 into a partial file
 * outside the served tree; after a crash or a kill, the next run hashes what the partial holds and
 * asks the origin only for the rest. The object appears at its served path only by an atomic
 * rename after its size and digest match; a mismatch discards the partial and throws.
 */
export async function downloadVerified(
  origin: Origin,
  bucket: string,
  object: ManifestObject,
  dirs: { readonly cacheDir: string; readonly stateDir: string },
  limiter: RateLimiter,
  onBytes: (bytes: number) => void,
  signal: AbortSignal,
): Promise<void> {
  const partial = partialPath(dirs.stateDir, object);
  fs.mkdirSync(path.dirname(partial), { recursive: true });
  let hash = createHash('sha256');
  let written = await hashExisting(partial, hash);
  if (written > object.size) {
    fs.rmSync(partial);
    hash = createHash('sha256');
    written = 0;
  }
  const file = await fs.promises.open(partial, 'a');
  try {
    if (written < object.size) {
      const body = await origin.read(bucket, object.key, written, signal);
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = async () => {
        if (pendingBytes > 0) {
          await file.write(pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes));
          pending = [];
          pendingBytes = 0;
        }
      };
      for await (const chunk of body) {
        const buffer = chunk as Buffer;
        await limiter.take(buffer.length, signal);
        hash.update(buffer);
        written += buffer.length;
        if (written > object.size) {
          break;
        }
        pending.push(buffer);
        pendingBytes += buffer.length;
        if (pendingBytes >= WRITE_BATCH_BYTES) {
          await flush();
        }
        onBytes(buffer.length);
      }
      await flush();
    }
    const digest = hash.digest('hex');
    if (written !== object.size || digest !== object.sha256) {
      await file.close();
      fs.rmSync(partial, { force: true });
      throw new CorruptObjectError(`${object.key}: got ${written} bytes with sha256 ${digest}; the manifest says ${object.size} bytes, ${object.sha256}`);
    }
    await file.sync();
  } finally {
    await file.close().catch(() => undefined);
  }
  const target = cachePath(dirs.cacheDir, object.key);
  await fs.promises.mkdir(path.dirname(target), { recursive: true });
  await fs.promises.chmod(partial, 0o644);
  await fs.promises.rename(partial, target);
}
