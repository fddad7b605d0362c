import { spawn } from 'node:child_process';

export interface ProcessResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr interleaved as they arrived. */
  readonly output: string;
}

/**
 * Runs a command to completion and collects what it printed. Asynchronous on purpose: tests and
 * benches host servers (the S3 server, the local gateway) in this process, which must keep
 * answering while the command runs.
 */
export function runProcess(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => ((stdout += chunk.toString()), (output += chunk.toString())));
    child.stderr!.on('data', (chunk: Buffer) => ((stderr += chunk.toString()), (output += chunk.toString())));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr, output }));
  });
}

/** Runs a command that must succeed; its failure names the command, the exit status and its last output. */
export async function mustRun(command: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<ProcessResult> {
  const result = await runProcess(command, args, env);
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.output.slice(-2000)}`);
  }
  return result;
}
