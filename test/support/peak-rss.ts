import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ProcessResult } from './run-process';

/** The file descriptor the preloaded module reports on; the child's own code never opens it. */
const REPORT_FD = 3;

/**
 * Loaded with `--require` before the child's script: when the child exits, it writes the high-water
 * mark of its resident set (VmHWM of /proc/self/status, in kB) to REPORT_FD. Read from inside,
 * because the peak may come in the child's last moments: polling /proc/<pid>/status from outside
 * misses those, and an exited child's status has no VmHWM at all. Not getrusage's ru_maxrss
 * (`process.resourceUsage().maxRSS`): Linux carries the parent's resident set at fork over exec
 * into it, so a child of a large parent would report the parent's size.
 */
const PRELOAD = `process.on('exit', () => {
  try {
    const kb = /^VmHWM:\\s*(\\d+) kB$/m.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'));
    if (kb) require('node:fs').writeSync(${REPORT_FD}, kb[1]);
  } catch {}
});
`;

export interface PeakRssResult extends ProcessResult {
  /**
   * The child's peak resident set size in bytes; undefined when it did not exit through Node's
   * `exit` event (killed by a signal, or a native crash), so there is nothing to trust.
   */
  readonly peakRssBytes: number | undefined;
}

/**
 * Runs `node <nodeArgs...>` to completion (as `runProcess` does: asynchronous, output collected)
 * and measures the child's peak resident set size. Only for Node children: the measurement is a
 * module preloaded into the child, which costs it a few KiB, and reads Linux's /proc.
 */
export async function runNodeMeasuringPeakRss(nodeArgs: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<PeakRssResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-peak-rss-'));
  const preload = path.join(dir, 'report-peak-rss.js');
  fs.writeFileSync(preload, PRELOAD);
  try {
    return await new Promise<PeakRssResult>((resolve, reject) => {
      const child = spawn(process.execPath, ['--require', preload, ...nodeArgs], { env, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let output = '';
      let report = '';
      child.stdout!.on('data', (chunk: Buffer) => ((stdout += chunk.toString()), (output += chunk.toString())));
      child.stderr!.on('data', (chunk: Buffer) => ((stderr += chunk.toString()), (output += chunk.toString())));
      child.stdio[REPORT_FD]!.on('data', (chunk: Buffer) => (report += chunk.toString()));
      child.once('error', reject);
      // 'close' comes after every pipe, the report's included, has ended.
      child.once('close', (status) => {
        const kb = /^\d+$/.test(report) ? Number(report) : undefined;
        resolve({ status, stdout, stderr, output, peakRssBytes: kb === undefined ? undefined : kb * 1024 });
      });
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
