import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mustRun, ProcessResult, runProcess } from './run-process';

/** Debian's own mirror, as the machine's apt uses it. */
const MIRROR = 'http://deb.debian.org/debian';
/** A made root file system is kept here between runs on one machine; CI makes it once. */
const CACHE = '/var/cache/nearstream-test/debian-12-minbase-systemd.tar';

/**
 * A fresh Debian 12 root file system (debootstrap minbase plus systemd, as on any Debian host) in a
 * scratch directory, with /proc mounted, the host's resolver for apt, and services kept from
 * starting inside it. Needs root and the debootstrap package.
 */
export class DebianRoot {
  private constructor(readonly dir: string) {}

  static async make(): Promise<DebianRoot> {
    if (!fs.existsSync(CACHE)) {
      const building = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-debootstrap-'));
      await mustRun('debootstrap', ['--variant=minbase', '--include=systemd', 'bookworm', building, MIRROR]);
      fs.mkdirSync(path.dirname(CACHE), { recursive: true });
      await mustRun('tar', ['-cf', `${CACHE}.partial`, '-C', building, '.']);
      fs.renameSync(`${CACHE}.partial`, CACHE);
      fs.rmSync(building, { recursive: true, force: true });
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-root-'));
    await mustRun('tar', ['-xf', CACHE, '-C', dir]);
    fs.copyFileSync('/etc/resolv.conf', path.join(dir, 'etc', 'resolv.conf'));
    // Package scripts must not start services in a chroot (they would bind the host's ports).
    fs.writeFileSync(path.join(dir, 'usr', 'sbin', 'policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    await mustRun('mount', ['-t', 'proc', 'proc', path.join(dir, 'proc')]);
    return new DebianRoot(dir);
  }

  /** Runs a command inside, as root or as `user`. */
  exec(args: readonly string[], user?: string): Promise<ProcessResult> {
    return runProcess('chroot', [...(user ? [`--userspec=${user}:${user}`] : []), this.dir, ...args]);
  }

  path(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  async remove(): Promise<void> {
    await runProcess('umount', ['-l', this.path('proc')]);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
