import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Debian's own mirror, as the machine's apt uses it. */
const MIRROR = 'http://deb.debian.org/debian';
/** A made root file system is kept here between runs on one machine; CI makes it once. */
const CACHE = '/var/cache/nearstream-test/debian-12-minbase-systemd.tar';

export function run(command: string, args: readonly string[], options: { input?: string } = {}): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, output }));
    child.stdin!.end(options.input ?? '');
  });
}

async function must(command: string, args: readonly string[]): Promise<string> {
  const result = await run(command, args);
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.output.slice(-2000)}`);
  }
  return result.output;
}

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
      await must('debootstrap', ['--variant=minbase', '--include=systemd', 'bookworm', building, MIRROR]);
      fs.mkdirSync(path.dirname(CACHE), { recursive: true });
      await must('tar', ['-cf', `${CACHE}.partial`, '-C', building, '.']);
      fs.renameSync(`${CACHE}.partial`, CACHE);
      fs.rmSync(building, { recursive: true, force: true });
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-root-'));
    await must('tar', ['-xf', CACHE, '-C', dir]);
    fs.copyFileSync('/etc/resolv.conf', path.join(dir, 'etc', 'resolv.conf'));
    // Package scripts must not start services in a chroot (they would bind the host's ports).
    fs.writeFileSync(path.join(dir, 'usr', 'sbin', 'policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    await must('mount', ['-t', 'proc', 'proc', path.join(dir, 'proc')]);
    return new DebianRoot(dir);
  }

  /** Runs a command inside, as root or as `user`. */
  exec(args: readonly string[], user?: string): Promise<{ status: number | null; output: string }> {
    return run('chroot', [...(user ? [`--userspec=${user}:${user}`] : []), this.dir, ...args]);
  }

  path(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  async remove(): Promise<void> {
    await run('umount', ['-l', this.path('proc')]);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
