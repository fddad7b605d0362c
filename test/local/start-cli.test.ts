import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePlatformBase, platformPorts } from '../support/platform-ports';
import { portsFree, StoppedError, waitFor } from '../support/ports';
import { runProcess } from '../support/run-process';


const START = path.join(__dirname, '..', '..', 'bin', 'start.ts');
const start = (...args: string[]) => runProcess(process.execPath, [require.resolve('tsx/cli'), START, ...args]);

/** `npm start` left running: its stderr so far, its exit, and a wait for a line of its progress. */
function startRunning(...args: string[]) {
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), START, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // 'close', not 'exit': tsx can exit before its child's last lines are read from the shared pipe.
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  const until = (line: RegExp, what: string) =>
    waitFor(async () => {
      if (child.exitCode !== null) throw new StoppedError(`npm start exited ${child.exitCode}: ${stderr.slice(-2000)}`);
      if (!line.test(stderr)) throw new Error(stderr.slice(-300));
    }, 90_000, what);
  return { child, exited, until, stderr: () => stderr };
}

describe('npm start', () => {
  const workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-start-'));
  const clip = path.join(workdir, 'talk.mp4');

  beforeAll(() => {
    execFileSync('ffmpeg', [
      '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=24', '-f', 'lavfi', '-i', 'sine=frequency=330:sample_rate=48000',
      '-t', '13', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-shortest', clip,
    ]);
  });

  afterAll(() => fs.rmSync(workdir, { recursive: true, force: true }));

  it('--once boots the platform, plays the title to the end, prints the report as JSON, stops everything and exits 0', async () => {
    const base = await freePlatformBase(2);
    const result = await start('--once', '--fresh', '--workdir', path.join(workdir, 'platform'), '--port', String(base), '--appliances', '2', '--codecs', 'avc1', '--video', clip, '--speed', '50', '--json');

    expect(result.stderr).toMatch(/\[8\/8\] play '\w+' with the CLI player \(HLS, 50x\): done in/);
    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ completed: true, errors: [], region: 'A us-east-1', protocol: 'hls' });
    // The demo is protected unless --clear: the player licensed its keys and decrypted the first segment with them.
    expect(result.stderr).toMatch(/renditions \(avc1\), protected \(cbcs, ClearKey; keys AUDIO, SD\), available/);
    expect(result.stderr).toMatch(/ClearKey license from A us-east-1: key [0-9a-f]{32} \(video\)/);
    expect(report.protection).toMatchObject({ keySystem: 'org.w3.clearkey', scheme: 'cbcs', firstSegmentDecrypted: true });
    expect(report.protection.keysGranted).toHaveLength(2);
    expect(report.steering.sources.map((source: { tier: string }) => source.tier)).toContain('appliance');
    expect(await portsFree(platformPorts(base, 2))).toBe(true);
  }, 180_000);

  it('stays up with the page and a dev viewer token until interrupted, then stops everything it started', async () => {
    const base = await freePlatformBase(1);
    const { child, exited, until, stderr } = startRunning('--workdir', path.join(workdir, 'interactive'), '--port', String(base), '--appliances', '1', '--codecs', 'avc1', '--video', clip, '--speed', '50', '--clear');
    try {
      await until(/Ctrl-C stops everything\./, 'npm start to come up');
      expect(stderr()).toMatch(/renditions \(avc1\), in the clear, available/);
      const token = /valid 12 h[^\n]*\n\s+(\S+)/.exec(stderr())![1];
      const page = await fetch(`http://127.0.0.1:${base}/api/status`);
      const titles = await fetch(`http://127.0.0.1:${base + 2}/titles`, { headers: { authorization: `Bearer ${token}` } });
      expect([page.status, titles.status]).toEqual([200, 200]);
    } finally {
      child.kill('SIGINT');
    }

    // The output comes with the status, to read when it is not 0.
    expect([await exited, stderr().slice(-2000)]).toEqual([0, expect.stringContaining('SIGINT: stopping')]);
    expect(await portsFree(platformPorts(base, 1))).toBe(true);
  }, 150_000);

  it('stops what it started and exits 130 when interrupted in the middle of starting', async () => {
    const base = await freePlatformBase(1);
    const { child, exited, until, stderr } = startRunning('--fresh', '--workdir', path.join(workdir, 'interrupted'), '--port', String(base), '--appliances', '1', '--codecs', 'avc1', '--video', clip);
    try {
      await until(/\[6\/9\] demo title/, 'the encoding step');
    } finally {
      child.kill('SIGINT');
    }

    expect([await exited, stderr().slice(-2000)]).toEqual([130, expect.stringContaining('SIGINT: stopping what was started')]);
    expect(stderr()).not.toContain('[7/9]');
    expect(await portsFree(platformPorts(base, 1))).toBe(true);
    expect(fs.existsSync(path.join(workdir, 'interrupted', 'platform.lock'))).toBe(false);
  }, 150_000);

  it('names the step and the reason when a step fails, and leaves nothing running', async () => {
    const base = await freePlatformBase(2);
    const notAVideo = path.join(workdir, 'notes.mp4');
    fs.writeFileSync(notAVideo, 'these are meeting notes, not a video\n');
    const result = await start('--once', '--workdir', path.join(workdir, 'broken'), '--port', String(base), '--appliances', '1', '--video', notAVideo);

    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/npm start: demo title: encode, publish, catalog failed: notes\.mp4 did not become available: failed \(notes\.mp4 could not be read as media/);
    expect(await portsFree(platformPorts(base, 1))).toBe(true);
  }, 120_000);

  it('refuses bad usage with exit 2, naming the flag', async () => {
    const unknown = await start('--onse');
    const port = await start('--port', 'eighty');
    const video = await start('--video', path.join(workdir, 'missing.mp4'));

    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--onse'");
    expect(port.status).toBe(2);
    expect(port.stderr).toContain("--port must be a whole number from 1024 to 65000 (got 'eighty')");
    expect(video.status).toBe(2);
    expect(video.stderr).toContain(`--video: no such file: ${path.join(workdir, 'missing.mp4')}`);
  });
});
