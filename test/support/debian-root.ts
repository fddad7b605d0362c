import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mustRun, ProcessResult, runProcess } from './run-process';

/** Debian's own mirror, as the machine's apt uses it. */
const MIRROR = 'http://deb.debian.org/debian';
const DEBOOTSTRAP_ARGS = ['--variant=minbase', '--include=systemd', 'bookworm'];
/**
 * Made root file systems are kept here between runs on one machine. The name carries a digest of
 * how the root was made, so a tarball made another way (or by an older version of this file) is
 * never reused: it is rebuilt beside it.
 */
const CACHE_DIR = '/var/cache/nearstream-test';
const RECIPE = createHash('sha256').update(JSON.stringify({ layout: 2, DEBOOTSTRAP_ARGS, MIRROR })).digest('hex').slice(0, 12);
export const ROOT_CACHE = path.join(CACHE_DIR, `debian-12-${RECIPE}.tar`);

/** What a root shell on a fresh Debian system has in its environment. */
const ROOT_ENVIRONMENT = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LANG: 'C.UTF-8',
};

/** Type, mode, owner and link target of every entry under `dir`, one sorted line each. */
export async function treeListing(dir: string): Promise<string[]> {
  const { stdout } = await mustRun('find', [dir, '-printf', '%y %m %U:%G %P -> %l\n']);
  return stdout.split('\n').filter(Boolean).sort();
}

/** Archives `dir` (its own mode included, as the `.` entry) with numeric owners. */
export async function archiveTree(dir: string, tarball: string): Promise<void> {
  await mustRun('tar', ['--numeric-owner', '-cf', tarball, '-C', dir, '.']);
}

/** Unpacks an `archiveTree` tarball into `dir`, which takes the archived modes, `.` included. */
export async function extractTree(tarball: string, dir: string): Promise<void> {
  await mustRun('tar', ['--numeric-owner', '--same-permissions', '--same-owner', '-xf', tarball, '-C', dir]);
}

/**
 * A fresh Debian 12 root file system (debootstrap minbase plus systemd, as on any Debian host) in a
 * scratch directory, with /proc mounted, the host's resolver for apt, and services kept from
 * starting inside it. Needs root and the debootstrap package.
 *
 * There is one way to a root whether the cache exists or not: it is unpacked from the cached
 * tarball. Building the cache checks that unpacking gives back exactly what debootstrap made.
 */
export class DebianRoot {
  private constructor(readonly dir: string) {}

  static async make(): Promise<DebianRoot> {
    if (!fs.existsSync(ROOT_CACHE)) {
      await buildCache();
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-root-'));
    await extractTree(ROOT_CACHE, dir);
    const rootMode = fs.statSync(dir).mode & 0o7777;
    if (rootMode !== 0o755) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`${ROOT_CACHE} unpacks to a root at mode ${rootMode.toString(8)}, not 755: delete it and run again`);
    }
    fs.copyFileSync('/etc/resolv.conf', path.join(dir, 'etc', 'resolv.conf'));
    // Package scripts must not start services in a chroot (they would bind the host's ports).
    fs.writeFileSync(path.join(dir, 'usr', 'sbin', 'policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    await mustRun('mount', ['-t', 'proc', 'proc', path.join(dir, 'proc')]);
    return new DebianRoot(dir);
  }

  /**
   * Runs a command inside, as root or as `user` (`name`, with the group of the same name, or
   * `name:group`), with the environment a login on that system has: nothing of the host's (its
   * TMPDIR, for one, does not exist inside).
   */
  exec(args: readonly string[], user?: string): Promise<ProcessResult> {
    const userspec = user && (user.includes(':') ? user : `${user}:${user}`);
    return runProcess('chroot', [...(userspec ? [`--userspec=${userspec}`] : []), this.dir, ...args], ROOT_ENVIRONMENT);
  }

  path(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  async remove(): Promise<void> {
    await runProcess('umount', ['-l', this.path('proc')]);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** debootstraps into a root at mode 0755 (as `/` is on a host), archives it and proves the round trip. */
async function buildCache(): Promise<void> {
  const building = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-debootstrap-'));
  const unpacked = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-unpacked-'));
  const partial = `${ROOT_CACHE}.${process.pid}.partial`;
  try {
    fs.chmodSync(building, 0o755);
    await mustRun('debootstrap', [...DEBOOTSTRAP_ARGS, building, MIRROR]);
    fs.mkdirSync(CACHE_DIR, { recursive: true });
    await archiveTree(building, partial);
    await extractTree(partial, unpacked);
    const [made, restored] = await Promise.all([treeListing(building), treeListing(unpacked)]);
    const differing = made.filter((line, i) => line !== restored[i]);
    if (made.length !== restored.length || differing.length > 0) {
      throw new Error(`the cached root would differ from what debootstrap made, e.g. ${differing.slice(0, 3).join('; ')}`);
    }
    fs.renameSync(partial, ROOT_CACHE);
    for (const stale of fs.readdirSync(CACHE_DIR).filter((name) => name.endsWith('.tar') && path.join(CACHE_DIR, name) !== ROOT_CACHE)) {
      fs.rmSync(path.join(CACHE_DIR, stale), { force: true });
    }
  } finally {
    fs.rmSync(partial, { force: true });
    fs.rmSync(building, { recursive: true, force: true });
    fs.rmSync(unpacked, { recursive: true, force: true });
  }
}
