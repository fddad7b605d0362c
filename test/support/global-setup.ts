import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Set in every process the suite starts, so what it leaves running can be told from anything else. */
export const RUN_MARKER = 'NEARSTREAM_TEST_RUN';

/**
 * Gives the run one scratch directory (every `os.tmpdir()` below points into it) and marks the
 * environment that tests, their servers and their commands inherit. `global-teardown.ts` checks
 * that nothing of the run is left mounted or running, then removes the directory.
 */
export default async function globalSetup(): Promise<void> {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-test-run-'));
  fs.chmodSync(runDir, 0o755);
  process.env[RUN_MARKER] = runDir;
  process.env.TMPDIR = runDir;
}
