import { createHash, Hash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY } = fs.constants;

/**
 * File system access below the node's directories that never follows a symbolic link: files are
 * opened O_NOFOLLOW, directories checked with lstat, and a link met on the way is refused and
 * named. The store (store.ts) decides the paths; this module only reaches them.
 */

/** A path the agent will not use: a symbolic link, something else where a file or directory goes, a bad key. */
export class StoreRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreRefusedError';
  }
}

export function hasCode(error: unknown, ...codes: string[]): boolean {
  return codes.includes((error as NodeJS.ErrnoException).code ?? '');
}

export function linkRefusal(where: string): StoreRefusedError {
  return new StoreRefusedError(`${where} is a symbolic link; the agent never follows links in its directories: remove it`);
}

/** A file's text, never through a symbolic link; undefined when there is none. */
export function readTextNoFollow(file: string): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW);
  } catch (error) {
    if (hasCode(error, 'ENOENT')) {
      return undefined;
    }
    throw hasCode(error, 'ELOOP') ? linkRefusal(file) : error;
  }
  try {
    if (!fs.fstatSync(fd).isFile()) {
      throw new StoreRefusedError(`${file} is not a regular file`);
    }
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** Makes a directory's entries (names renamed into it) durable. */
function fsyncDirectory(dir: string): void {
  const fd = fs.openSync(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** `fsyncDirectory` off the event loop, for the fill's downloads to go on meanwhile. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes a file atomically and durably: a crash leaves the old file or the new one, never half.
 * The temporary file is created exclusively, and the rename replaces a symbolic link at `file`
 * rather than writing through it.
 */
export function writeFileAtomically(file: string, content: string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  fs.rmSync(temporary, { force: true });
  const fd = fs.openSync(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temporary, file);
  fsyncDirectory(path.dirname(file));
}

/**
 * Checks that `rel` below `root` is a real directory, not a link, making it when `make` and it is
 * missing. Returns false when it is missing and not made.
 */
export function checkDirectory(root: string, rel: string, make: boolean): boolean {
  const dir = path.join(root, rel);
  for (;;) {
    const stats = fs.lstatSync(dir, { throwIfNoEntry: false });
    if (stats === undefined) {
      if (!make) {
        return false;
      }
      try {
        fs.mkdirSync(dir, { mode: 0o755 });
        return true;
      } catch (error) {
        if (hasCode(error, 'EEXIST')) {
          continue;
        }
        throw error;
      }
    }
    if (stats.isSymbolicLink()) {
      throw linkRefusal(dir);
    }
    if (!stats.isDirectory()) {
      throw new StoreRefusedError(`${dir} is not a directory, and one is needed there`);
    }
    return true;
  }
}

/** A regular file as lstat saw it: enough to tell whether it is still the file recorded. */
export interface FileIdentity {
  readonly size: number;
  readonly ino: number;
  readonly ctimeMs: number;
}

/**
 * Every regular file below `root`/`top` by path relative to `root`, without following links; the
 * links and other non-files found instead, and the empty directories.
 */
export function walkFiles(root: string, top: string): { readonly files: Map<string, FileIdentity>; readonly refused: string[]; readonly emptyDirectories: string[] } {
  const files = new Map<string, FileIdentity>();
  const refused: string[] = [];
  const emptyDirectories: string[] = [];
  const visit = (rel: string) => {
    const dir = path.join(root, rel);
    const entries = fs.readdirSync(dir, { withFileTypes: true });
    if (entries.length === 0 && rel !== top) {
      emptyDirectories.push(rel);
    }
    for (const entry of entries) {
      const child = `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        visit(child);
      } else if (entry.isFile()) {
        const stats = fs.lstatSync(path.join(dir, entry.name));
        files.set(child, { size: stats.size, ino: stats.ino, ctimeMs: stats.ctimeMs });
      } else {
        refused.push(child);
      }
    }
  };
  try {
    checkDirectory(root, top, true);
    visit(top);
  } catch (error) {
    if (!(error instanceof StoreRefusedError)) {
      throw error;
    }
    refused.push(top);
  }
  return { files, refused, emptyDirectories };
}

const HASH_READ_BYTES = 1024 * 1024;

/**
 * Feeds the first `bytes` of an open file into `hash`, 1 MiB at a time; false if the file ends
 * early or `signal` aborts, and the hash is then incomplete.
 */
export async function hashRange(handle: fs.promises.FileHandle, bytes: number, hash: Hash, signal?: AbortSignal): Promise<boolean> {
  const buffer = Buffer.allocUnsafe(Math.min(bytes, HASH_READ_BYTES));
  for (let at = 0; at < bytes; ) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, bytes - at), at);
    if (bytesRead === 0 || signal?.aborted) {
      return false;
    }
    hash.update(buffer.subarray(0, bytesRead));
    at += bytesRead;
  }
  return true;
}

/** Hashes a file read without following links: its identity as read, or undefined unless its bytes are `expected`. */
export async function hashFile(file: string, expected: { readonly size: number; readonly sha256: string }, signal: AbortSignal): Promise<FileIdentity | undefined> {
  const handle = await fs.promises.open(file, O_RDONLY | O_NOFOLLOW);
  try {
    const stats = await handle.stat();
    if (!stats.isFile() || stats.size !== expected.size) {
      return undefined;
    }
    const hash = createHash('sha256');
    if (!(await hashRange(handle, stats.size, hash, signal))) {
      return undefined;
    }
    return hash.digest('hex') === expected.sha256 ? { size: stats.size, ino: stats.ino, ctimeMs: stats.ctimeMs } : undefined;
  } finally {
    await handle.close();
  }
}
