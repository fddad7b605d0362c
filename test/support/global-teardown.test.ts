import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RUN_MARKER } from './global-setup';
import { leftoverMounts, leftoverProcesses } from './global-teardown';
import { mustRun } from './run-process';

describe('what the suite leaves behind', () => {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-fake-run-'));

  afterAll(() => fs.rmSync(runDir, { recursive: true, force: true }));

  it('finds a process started with the run marker, and not one without it', async () => {
    const marked = spawn('sleep', ['30'], { env: { ...process.env, [RUN_MARKER]: runDir }, stdio: 'ignore' });
    const unmarked = spawn('sleep', ['30'], { env: { ...process.env, [RUN_MARKER]: `${runDir}-other` }, stdio: 'ignore' });
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const found = leftoverProcesses(runDir).map(({ pid }) => Number(pid));
      expect(found).toContain(marked.pid);
      expect(found).not.toContain(unmarked.pid);
    } finally {
      marked.kill('SIGKILL');
      unmarked.kill('SIGKILL');
    }
  });

  it('finds a process whose environment lost the marker but whose command line names a path inside the run directory, as nginx does', async () => {
    const unmarked = { ...process.env };
    delete unmarked[RUN_MARKER];
    const nginxLike = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30_000)', `${runDir}/appliances/oca-a1/nginx`], { env: unmarked, stdio: 'ignore' });
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(leftoverProcesses(runDir).map(({ pid }) => Number(pid))).toContain(nginxLike.pid);
    } finally {
      nginxLike.kill('SIGKILL');
    }
  });

  it('finds a file system mounted inside the run directory', async () => {
    const mountPoint = path.join(runDir, 'proc');
    fs.mkdirSync(mountPoint);
    await mustRun('mount', ['-t', 'proc', 'proc', mountPoint]);
    try {
      expect(leftoverMounts(runDir)).toEqual([mountPoint]);
    } finally {
      await mustRun('umount', [mountPoint]);
    }
    expect(leftoverMounts(runDir)).toEqual([]);
  });
});
