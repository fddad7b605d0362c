import * as fs from 'node:fs';

/** Another platform holds the working directory. */
export class AlreadyRunningError extends Error {}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the working directory for this process: the lock file holds our pid, created exclusively.
 * A lock whose process is gone (a killed run) is taken over; a live one is refused with what it
 * says about itself. Returns the release.
 */
export function acquireInstanceLock(file: string, describe: (pid: number) => string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => {
        if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === String(process.pid)) {
          fs.rmSync(file);
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw error;
      }
      const pid = Number(fs.readFileSync(file, 'utf8'));
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new AlreadyRunningError(describe(pid));
      }
      fs.rmSync(file, { force: true });
    }
  }
  throw new AlreadyRunningError(`could not take ${file}: another platform is starting at the same moment`);
}
