import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { installCommand, missingLine, missingTools, PURPOSES, SYSTEM_TOOLS } from '../../local/prerequisites';
import { runProcess } from '../support/run-process';

const ROOT = path.join(__dirname, '..', '..');

describe('system prerequisites', () => {
  let bin: string;

  beforeEach(() => {
    bin = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-path-'));
    // Only Node.js on the PATH: what a machine that never installed anything else offers.
    fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  });

  afterEach(() => fs.rmSync(bin, { recursive: true, force: true }));

  const withCommands = (...names: string[]) => {
    for (const name of names) {
      fs.writeFileSync(path.join(bin, name), '#!/bin/sh\n', { mode: 0o755 });
    }
  };

  it('finds what a benchmark lacks on the PATH, and nothing once it is there', () => {
    expect(missingTools(['bench:fill'], bin).map((tool) => tool.name)).toEqual(['java', 'rclone']);
    withCommands('java', 'rclone');
    expect(missingTools(['bench:fill'], bin)).toEqual([]);
  });

  it('asks only for ffmpeg for the smoke test: the pipeline\'s CodeBuild step installs no more', () => {
    expect(missingTools(['smoke'], bin).map((tool) => tool.name)).toEqual(['ffmpeg']);
    withCommands('ffmpeg');
    expect(missingTools(['smoke'], bin)).toEqual([]);
  });

  it('does not count a file that is not executable as the command', () => {
    fs.writeFileSync(path.join(bin, 'wrk'), 'not a program', { mode: 0o644 });
    expect(missingTools(['bench:edge'], bin).map((tool) => tool.name)).toContain('wrk');
  });

  it('names the missing tools, why they are needed and one command installing their packages', () => {
    const missing = SYSTEM_TOOLS.filter((tool) => tool.name === 'nginx' || tool.name === 'wrk');
    const line = missingLine('npm run bench:edge', missing);
    expect(line).toMatch(/^npm run bench:edge needs nginx \(the appliance edge server\), wrk \(.+\); install with: (sudo )?apt-get install -y nginx wrk$/);
    expect(line.split('\n')).toHaveLength(1);
    expect(installCommand([...missing, ...missing])).toMatch(/apt-get install -y nginx wrk$/);
  });

  it('gives every tool a package and at least one purpose from the list', () => {
    for (const tool of SYSTEM_TOOLS) {
      expect(tool.debianPackage).toMatch(/^[a-z0-9][a-z0-9.+-]+$/);
      expect(tool.neededBy.length).toBeGreaterThan(0);
      expect(tool.neededBy.every((purpose) => PURPOSES.includes(purpose))).toBe(true);
    }
  });

  it.each([
    ['bench:fill', /needs java \(runs DynamoDB Local\), rclone \(.+\); install with: .*apt-get install -y default-jre-headless rclone$/],
    ['bench:edge', /needs nginx .*wrk .*; install with: .*apt-get install -y nginx (libnginx-mod-http-js )?wrk$/],
  ])('stops npm run %s before it starts, in one line, when its tools are missing', async (bench, expected) => {
    const script = path.join(ROOT, 'bin', `bench-${bench.split(':')[1]}.ts`);

    const run = await runProcess(path.join(ROOT, 'node_modules', '.bin', 'tsx'), [script], { ...process.env, PATH: bin });

    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr.trim()).toMatch(expected);
  });

  it('is what CI installs from', () => {
    expect(fs.readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8')).toMatch(/^npx tsx bin\/prerequisites\.ts install test$/m);
  });
});
