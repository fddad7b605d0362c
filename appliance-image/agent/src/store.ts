import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { ManifestObject, objectKeyProblem, quoted } from '../../../lambda/shared/fill-manifest';
import { log } from './log';
import { checkDirectory, hasCode, hashFile, linkRefusal, readTextNoFollow, StoreRefusedError, syncDirectory, walkFiles, writeFileAtomically } from './no-follow';
import { reconcile, ReconcileSummary } from './reconcile';
import { AgentState, dropLine, factsLine, HeldObject, holdLine, parseState, snapshotText, StateFacts } from './state';

export { StoreRefusedError, writeFileAtomically } from './no-follow';

const { O_RDWR, O_WRONLY, O_CREAT, O_APPEND, O_NOFOLLOW } = fs.constants;

/**
 * The node's directories, as this module alone lays them out:
 *
 *   <cacheDir>/titles/<titleId>/...   verified objects, served by the edge, one file per key
 *   <stateDir>/state.json             snapshot of the state (see state.ts)
 *   <stateDir>/journal.jsonl          what changed since the snapshot
 *   <stateDir>/manifest.json          the last manifest accepted
 *   <stateDir>/partial/<name>         an object's bytes until verified: one file per key and digest
 */
const TITLES = 'titles';
const STATE_FILE = 'state.json';
const JOURNAL_FILE = 'journal.jsonl';
const MANIFEST_FILE = 'manifest.json';
const PARTIAL_DIR = 'partial';
/** Files hashed at once when reconciling. */
const HASHES_IN_FLIGHT = 4;

/** The root of one of the node's directories: made if missing, resolved once (an operator may link it elsewhere). */
function openRoot(dir: string): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  return fs.realpathSync(dir);
}

/** An object's bytes on their way into the cache. */
export interface PartialFile {
  readonly handle: FileHandle;
  readonly path: string;
  /** Bytes an earlier, interrupted run left in it. */
  readonly bytes: number;
}

/**
 * The one owner of every path under the node's cache and state directories: where each thing
 * lives, confinement of object keys to the cache, I/O that never follows a symbolic link (files
 * opened O_NOFOLLOW, directories checked with lstat, refused and named), the state's journal and
 * snapshot, and reconciling what the state records with what the disk has.
 */
export class NodeStore {
  private readonly partialDir: string;
  private facts: StateFacts;
  /** Cache directories checked (or made) as real directories during this run, by relative path. */
  private readonly directories = new Map<string, Promise<void>>();
  private readonly dirtyDirectories = new Set<string>();
  private pendingLines: string[] = [];
  private flushing: Promise<void> = Promise.resolve();
  readonly objects: Map<string, HeldObject>;

  private constructor(
    private readonly cacheRoot: string,
    private readonly stateRoot: string,
    state: AgentState,
  ) {
    const { objects, ...facts } = state;
    this.objects = objects;
    this.facts = facts;
    this.partialDir = path.join(stateRoot, PARTIAL_DIR);
    checkDirectory(this.stateRoot, PARTIAL_DIR, true);
    const journal = path.join(stateRoot, JOURNAL_FILE);
    if (fs.lstatSync(journal, { throwIfNoEntry: false })?.isFile() === false) {
      // It was not read (state.ts says why); appending must not write through it.
      log('warn', 'removed something other than a file in place of the journal', { path: journal });
      fs.rmSync(journal, { recursive: true, force: true });
    }
  }

  /** Opens the node's directories for a fill, reading the state and logging what of it was dropped. */
  static open(dirs: { readonly cacheDir: string; readonly stateDir: string }): NodeStore {
    const stateRoot = openRoot(dirs.stateDir);
    return new NodeStore(openRoot(dirs.cacheDir), stateRoot, NodeStore.readState(stateRoot));
  }

  /**
   * Which version of the recorded state and accepted manifest is on disk (inode, size and mtime of
   * each file, never following a link): `serve` reads and validates them again only when it changes.
   */
  static recordVersion(stateDir: string): string {
    return [STATE_FILE, JOURNAL_FILE, MANIFEST_FILE]
      .map((name) => {
        const stats = fs.lstatSync(path.join(stateDir, name), { throwIfNoEntry: false });
        return stats ? `${stats.ino}:${stats.size}:${stats.mtimeMs}` : '-';
      })
      .join('|');
  }

  /**
   * The state as recorded (snapshot and journal), without touching anything: for `status` and
   * reports. What could not be read is dropped and logged, or added to `problems` when given.
   */
  static readState(stateDir: string, problems?: string[]): AgentState {
    const warn = (problem: string) => {
      if (problems) {
        problems.push(problem);
      } else {
        log('warn', 'state repaired on read', { problem });
      }
    };
    const read = (name: string) => {
      try {
        return readTextNoFollow(path.join(stateDir, name));
      } catch (error) {
        warn(`${name} not read: ${(error as Error).message}`);
        return undefined;
      }
    };
    const parsed = parseState(read(STATE_FILE), read(JOURNAL_FILE));
    parsed.problems.forEach(warn);
    return parsed.state;
  }

  /** The last manifest the agent accepted, as its text, or undefined. */
  static acceptedManifestText(stateDir: string, problems?: string[]): string | undefined {
    try {
      return readTextNoFollow(path.join(stateDir, MANIFEST_FILE));
    } catch (error) {
      const problem = `${MANIFEST_FILE} not read: ${(error as Error).message}`;
      if (problems) {
        problems.push(problem);
      } else {
        log('warn', 'accepted manifest not read', { problem });
      }
      return undefined;
    }
  }

  get state(): AgentState {
    return { ...this.facts, objects: this.objects };
  }

  acceptManifest(text: string): void {
    writeFileAtomically(path.join(this.stateRoot, MANIFEST_FILE), text);
  }

  /** Records facts about the node; they reach the disk with the next flush. */
  note(facts: StateFacts): void {
    this.facts = { ...this.facts, ...facts };
    this.pendingLines.push(factsLine(facts));
  }

  private hold(key: string, object: HeldObject): void {
    this.objects.set(key, object);
    this.pendingLines.push(holdLine(key, object));
  }

  private drop(key: string): void {
    if (this.objects.delete(key)) {
      this.pendingLines.push(dropLine(key));
    }
  }

  /**
   * Makes what was recorded since the last flush durable: the directories renamed into first, then
   * the journal's new lines, so the journal never names an object whose file could still vanish.
   */
  flush(): Promise<void> {
    // One failed flush leaves its lines unwritten but does not stop the next from trying.
    this.flushing = this.flushing.catch(() => undefined).then(async () => {
      const lines = this.pendingLines;
      const directories = [...this.dirtyDirectories];
      this.pendingLines = [];
      this.dirtyDirectories.clear();
      await Promise.all(directories.map(syncDirectory));
      if (lines.length > 0) {
        const journal = await fs.promises.open(path.join(this.stateRoot, JOURNAL_FILE), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0o644).catch((error) => {
          throw hasCode(error, 'ELOOP') ? linkRefusal(JOURNAL_FILE) : error;
        });
        try {
          await journal.write(lines.join(''));
          await journal.datasync();
        } finally {
          await journal.close();
        }
      }
    });
    return this.flushing;
  }

  /** Writes the whole state as the new snapshot and empties the journal it replaces. */
  async snapshot(facts: StateFacts = {}): Promise<void> {
    this.facts = { ...this.facts, ...facts };
    await this.flush();
    writeFileAtomically(path.join(this.stateRoot, STATE_FILE), snapshotText(this.state));
    // Replaying the journal over the snapshot it went into changes nothing, so a crash here is harmless.
    fs.rmSync(path.join(this.stateRoot, JOURNAL_FILE), { force: true });
  }

  /** The absolute path of an object's file, for a key that is a valid object key of some title. */
  private objectPath(key: string): string {
    const problem = objectKeyProblem(key, key.split('/')[1] ?? '');
    if (problem) {
      throw new StoreRefusedError(`object key ${quoted(key)} ${problem}`);
    }
    return path.join(this.cacheRoot, key);
  }

  /** Makes sure a cache directory and each above it are real directories, making them as needed: once per run. */
  private ensureCacheDirectory(rel: string): Promise<void> {
    let checked = this.directories.get(rel);
    if (checked === undefined) {
      const parent = path.posix.dirname(rel);
      checked = (parent === '.' ? Promise.resolve() : this.ensureCacheDirectory(parent)).then(() => {
        checkDirectory(this.cacheRoot, rel, true);
      });
      // A failure is not kept: the next object to need the directory checks again.
      checked.catch(() => this.directories.delete(rel));
      this.directories.set(rel, checked);
    }
    return checked;
  }

  /** Whether each directory above `key` is real (no link anywhere on the way); false if one is missing. */
  private parentsAreReal(key: string): boolean {
    const segments = key.split('/');
    for (let depth = 1; depth < segments.length; depth++) {
      if (!checkDirectory(this.cacheRoot, segments.slice(0, depth).join('/'), false)) {
        return false;
      }
    }
    return true;
  }

  /** Removes directories left empty above a removed file, up to the titles directory. */
  private pruneEmpty(rel: string): void {
    for (let dir = path.posix.dirname(rel); dir !== TITLES && dir !== '.'; dir = path.posix.dirname(dir)) {
      try {
        fs.rmdirSync(path.join(this.cacheRoot, dir));
      } catch {
        return;
      }
      this.directories.delete(dir);
    }
  }

  /** Removes a file at a path of the cache found link-free (by a walk, or checked), and the directories it leaves empty. */
  private removeCacheFile(rel: string): void {
    try {
      fs.unlinkSync(path.join(this.cacheRoot, rel));
    } catch (error) {
      if (!hasCode(error, 'ENOENT')) {
        log('warn', 'could not remove a file from the cache', { path: rel, reason: (error as Error).message });
        return;
      }
    }
    this.pruneEmpty(rel);
  }

  /**
   * Removes an object from the cache and the state. A file whose way down passes a symbolic link
   * is left where it is: removing through the link could remove something outside the cache.
   */
  evict(key: string): void {
    this.objectPath(key);
    try {
      if (this.parentsAreReal(key)) {
        this.removeCacheFile(key);
      }
    } catch (error) {
      if (!(error instanceof StoreRefusedError)) {
        throw error;
      }
      log('warn', 'evicted from the state only: its file is behind a link the agent does not follow', { key, reason: error.message });
    }
    this.drop(key);
  }

  /**
   * Makes the state agree with the disk (see `reconcile`): recorded objects missing, resized or
   * replaced are no longer held, files nothing accounts for are removed when a manifest is known,
   * and files the manifest lists are adopted when their bytes hash right. Links and other
   * non-files are never followed and are named in the summary.
   */
  async reconcile(listed: ReadonlyMap<string, ManifestObject> | undefined, signal: AbortSignal): Promise<ReconcileSummary> {
    const { files, refused, emptyDirectories } = walkFiles(this.cacheRoot, TITLES);
    const found = reconcile(this.objects, files, listed);
    let lost = found.lost.length;
    let adopted = 0;
    let removed = found.toRemove.length;
    found.lost.forEach((key) => this.drop(key));
    found.toRemove.forEach((rel) => this.removeCacheFile(rel));
    for (const [key, object] of found.held) {
      if (this.objects.get(key) !== object) {
        this.hold(key, object);
      }
    }
    // A replaced file is not held until its bytes hash right; if the window ends first, it stays so.
    found.toHash.forEach((file) => this.drop(file.key));
    const queue = [...found.toHash];
    const hasher = async () => {
      for (let next = queue.shift(); next && !signal.aborted; next = queue.shift()) {
        const identity = await hashFile(path.join(this.cacheRoot, next.key), next.expected, signal).catch(() => undefined);
        if (identity) {
          this.hold(next.key, { ...next.expected, ino: identity.ino, ctimeMs: identity.ctimeMs });
          adopted += next.why === 'adopt' ? 1 : 0;
        } else if (!signal.aborted) {
          this.removeCacheFile(next.key);
          removed++;
          lost += next.why === 'verify' ? 1 : 0;
        }
      }
    };
    await Promise.all(Array.from({ length: HASHES_IN_FLIGHT }, hasher));
    if (listed !== undefined) {
      emptyDirectories.forEach((rel) => this.removeEmptyDirectory(rel));
    }
    await this.flush();
    return { held: this.objects.size, lost, adopted, removed, refused };
  }

  private removeEmptyDirectory(rel: string): void {
    try {
      fs.rmdirSync(path.join(this.cacheRoot, rel));
      this.pruneEmpty(rel);
    } catch {
      // Not empty any more, or not ours to remove: left.
    }
  }

  /** An object's partial file name: one per key and digest, so identical bytes under two keys never share one. */
  static partialName(object: Pick<ManifestObject, 'key' | 'sha256'>): string {
    return createHash('sha256').update(`${object.key}\n${object.sha256}`).digest('hex');
  }

  /**
   * Removes partial files of objects not about to be downloaded: they would never be finished, and
   * an interrupted night must not leak disk. Returns how many went.
   */
  discardPartialsExcept(downloads: readonly ManifestObject[]): number {
    const wanted = new Set(downloads.map((object) => NodeStore.partialName(object)));
    let discarded = 0;
    for (const name of fs.readdirSync(this.partialDir)) {
      if (!wanted.has(name)) {
        // rm removes a link, never what it points to.
        fs.rmSync(path.join(this.partialDir, name), { recursive: true, force: true });
        discarded++;
      }
    }
    return discarded;
  }

  /** Opens (or makes) the object's partial file for appending; a link (symbolic or hard) or non-file in its place is removed first. */
  async openPartial(object: ManifestObject): Promise<PartialFile> {
    // Where the object will go is checked first: a link on the way refuses it before any byte moves.
    this.objectPath(object.key);
    await this.ensureCacheDirectory(path.posix.dirname(object.key));
    const file = path.join(this.partialDir, NodeStore.partialName(object));
    for (let attempt = 1; ; attempt++) {
      try {
        const handle = await fs.promises.open(file, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW, 0o644);
        const stats = await handle.stat();
        // A second hard link would be a name for the same bytes elsewhere: appending would write there too.
        if (stats.isFile() && stats.nlink === 1) {
          return { handle, path: file, bytes: stats.size };
        }
        await handle.close();
      } catch (error) {
        if (!hasCode(error, 'ELOOP', 'EISDIR', 'ENXIO')) {
          throw error;
        }
      }
      if (attempt === 2) {
        throw new StoreRefusedError(`${file} is not a regular file of its own`);
      }
      log('warn', 'removed a link or other non-file from the partial directory', { path: file });
      await fs.promises.rm(file, { recursive: true, force: true });
    }
  }

  /** Closes a partial file that failed, removing it when it holds nothing worth resuming. */
  async abandonPartial(partial: PartialFile): Promise<void> {
    const bytes = await partial.handle.stat().then((stats) => stats.size, () => -1);
    await partial.handle.close().catch(() => undefined);
    if (bytes === 0) {
      await fs.promises.rm(partial.path, { force: true });
    }
  }

  /** Empties a partial file whose bytes did not verify, so the next attempt starts over. */
  async restartPartial(partial: PartialFile): Promise<void> {
    await partial.handle.truncate(0);
  }

  /**
   * Moves a verified partial into the served tree and records it: its bytes are synced before the
   * rename makes them visible, so no served file is ever torn, and the record (with the file's
   * identity) follows in the next flush, after the directory itself is synced.
   */
  async commit(partial: PartialFile, object: ManifestObject): Promise<HeldObject> {
    const target = this.objectPath(object.key);
    let stats: fs.Stats;
    try {
      await partial.handle.chmod(0o644);
      await partial.handle.datasync();
      await this.ensureCacheDirectory(path.posix.dirname(object.key));
      // Checked once per run above, and again here: a link swapped in since would carry the rename out of the cache.
      if (!this.parentsAreReal(object.key)) {
        throw new StoreRefusedError(`a directory above ${quoted(object.key)} went away during the fill`);
      }
      try {
        await fs.promises.rename(partial.path, target);
      } catch (error) {
        if (hasCode(error, 'EISDIR', 'ENOTEMPTY', 'EEXIST', 'ENOTDIR')) {
          throw new StoreRefusedError(`a directory is in the cache where ${quoted(object.key)} goes`);
        }
        throw error;
      }
      // The identity of the file written, taken after the rename, which changes its ctime.
      stats = await partial.handle.stat();
    } finally {
      await partial.handle.close();
    }
    this.dirtyDirectories.add(path.dirname(target));
    const held = { size: object.size, sha256: object.sha256, titleId: object.titleId, ino: stats.ino, ctimeMs: stats.ctimeMs };
    this.hold(object.key, held);
    return held;
  }
}
