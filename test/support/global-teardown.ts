import * as fs from 'node:fs';
import { runProcess } from './run-process';
import { RUN_MARKER } from './global-setup';

function readProc(pid: string, file: string): string {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Processes other than jest and its workers that inherited this run's marker, live in its
 * directory, or name a path inside it on their command line (nginx rewrites its environment into
 * its process title, marker included, so its `-p <prefix>` is what still shows where it came from).
 */
export function leftoverProcesses(runDir: string): { pid: string; command: string }[] {
  const marker = `${RUN_MARKER}=${runDir}`;
  return fs
    .readdirSync('/proc')
    .filter((pid) => /^\d+$/.test(pid) && Number(pid) !== process.pid)
    .filter((pid) => {
      const parent = readProc(pid, 'stat').split(') ')[1]?.split(' ')[1];
      const command = readProc(pid, 'cmdline');
      const isJestWorker = parent === String(process.pid) && command.includes('jest-worker');
      // esbuild's library keeps one service process per host process (a worker that bundled) and
      // ends it with that process.
      const isEsbuildService = command.includes('\0--service=');
      const rootedInRun = (() => {
        try {
          return fs.readlinkSync(`/proc/${pid}/root`).startsWith(runDir);
        } catch {
          return false;
        }
      })();
      const namesRunDir = command.includes(`${runDir}/`);
      return !isJestWorker && !isEsbuildService && (readProc(pid, 'environ').split('\0').includes(marker) || rootedInRun || namesRunDir);
    })
    .map((pid) => ({ pid, command: readProc(pid, 'cmdline').replace(/\0/g, ' ').trim().slice(0, 160) }));
}

export function leftoverMounts(runDir: string): string[] {
  return fs
    .readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter((mountPoint): mountPoint is string => Boolean(mountPoint) && mountPoint.startsWith(`${runDir}/`));
}

/**
 * Fails the run when a test left a process running or a file system mounted (it cleans them up
 * either way), then removes the run's scratch directory.
 */
export default async function globalTeardown(): Promise<void> {
  const runDir = process.env[RUN_MARKER];
  if (!runDir) {
    return;
  }
  // A process that is stopping may need a moment to go; only what outlives that is a leak.
  let processes = leftoverProcesses(runDir);
  for (let waited = 0; processes.length > 0 && waited < 3_000; waited += 250) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    processes = leftoverProcesses(runDir);
  }
  for (const { pid } of processes) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone already
    }
  }
  const mounts = leftoverMounts(runDir);
  for (const mountPoint of mounts.reverse()) {
    await runProcess('umount', ['-l', mountPoint]);
  }
  if (leftoverMounts(runDir).length === 0) {
    fs.rmSync(runDir, { recursive: true, force: true });
  }
  const leaks = [...processes.map(({ pid, command }) => `process ${pid} still running: ${command}`), ...mounts.map((mountPoint) => `still mounted: ${mountPoint}`)];
  if (leaks.length > 0) {
    throw new Error(`the suite left ${leaks.length} thing(s) behind (now cleaned up):\n${leaks.join('\n')}`);
  }
}
