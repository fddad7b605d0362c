import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * What needs the machine's own tools: the local platform, the test suite, each benchmark that uses
 * more than Node, and the post-deploy smoke test (the pipeline's CodeBuild step installs its tools).
 */
export const PURPOSES = ['start', 'test', 'bench:fill', 'bench:edge', 'bench:synth', 'bench:play', 'bench:fleet', 'smoke'] as const;
export type Purpose = (typeof PURPOSES)[number];

/** A tool Nearstream runs from the machine rather than from npm, and the Debian package it comes in. */
export interface SystemTool {
  readonly name: string;
  /** Present when this command is on the PATH, or this file exists (for modules, not commands). */
  readonly probe: { readonly command: string } | { readonly file: string };
  readonly debianPackage: string;
  readonly neededBy: readonly Purpose[];
  readonly why: string;
}

/**
 * The one list of system prerequisites: `.ci/run`, the benchmarks and the local platform read it,
 * so what CI installs and what a benchmark checks cannot drift apart.
 */
export const SYSTEM_TOOLS: readonly SystemTool[] = [
  { name: 'java', probe: { command: 'java' }, debianPackage: 'default-jre-headless', neededBy: ['start', 'test', 'bench:fill', 'bench:synth', 'bench:play', 'bench:fleet'], why: 'runs DynamoDB Local' },
  { name: 'ffmpeg', probe: { command: 'ffmpeg' }, debianPackage: 'ffmpeg', neededBy: ['start', 'test', 'bench:synth', 'bench:play', 'smoke'], why: 'the local encoder stand-in and its tests; the smoke test\'s clip for an empty catalog' },
  { name: 'nginx', probe: { command: 'nginx' }, debianPackage: 'nginx', neededBy: ['start', 'test', 'bench:edge', 'bench:synth', 'bench:play'], why: 'the appliance edge server' },
  {
    name: 'njs',
    probe: { file: '/usr/lib/nginx/modules/ngx_http_js_module.so' },
    debianPackage: 'libnginx-mod-http-js',
    neededBy: ['start', 'test', 'bench:edge', 'bench:synth', 'bench:play'],
    why: 'the edge server checks tokens in njs',
  },
  { name: 'chromium', probe: { command: 'chromium' }, debianPackage: 'chromium', neededBy: ['test'], why: 'plays the local web page in a real browser' },
  { name: 'debootstrap', probe: { command: 'debootstrap' }, debianPackage: 'debootstrap', neededBy: ['test', 'bench:synth'], why: 'the appliance install is tested in a fresh Debian 12 root' },
  { name: 'cloud-init', probe: { command: 'cloud-init' }, debianPackage: 'cloud-init', neededBy: ['test', 'bench:synth'], why: 'renders and checks the fleet user data' },
  { name: 'rclone', probe: { command: 'rclone' }, debianPackage: 'rclone', neededBy: ['bench:fill'], why: 'the baseline the fill benchmark runs beside' },
  { name: 'wrk', probe: { command: 'wrk' }, debianPackage: 'wrk', neededBy: ['bench:edge'], why: 'the load generator of the edge benchmark' },
];

function onPath(command: string, searchPath: string): boolean {
  return searchPath
    .split(path.delimiter)
    .filter(Boolean)
    .some((dir) => {
      try {
        fs.accessSync(path.join(dir, command), fs.constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

/** The tools `purposes` need that this machine lacks. */
export function missingTools(purposes: readonly Purpose[], searchPath = process.env.PATH ?? ''): SystemTool[] {
  return SYSTEM_TOOLS.filter(
    (tool) =>
      tool.neededBy.some((purpose) => purposes.includes(purpose)) &&
      !('command' in tool.probe ? onPath(tool.probe.command, searchPath) : fs.existsSync(tool.probe.file)),
  );
}

/** The one command that installs `tools` on Debian or Ubuntu. */
export function installCommand(tools: readonly SystemTool[]): string {
  const sudo = process.getuid?.() === 0 ? '' : 'sudo ';
  return `${sudo}apt-get install -y ${[...new Set(tools.map((tool) => tool.debianPackage))].join(' ')}`;
}

/** One line naming what is missing, what for, and the command that installs it. */
export function missingLine(purpose: string, tools: readonly SystemTool[]): string {
  const names = tools.map((tool) => `${tool.name} (${tool.why})`).join(', ');
  return `${purpose} needs ${names}; install with: ${installCommand(tools)}`;
}

/**
 * Stops a benchmark before it starts when the machine lacks a tool it runs: one line on stderr
 * naming the tool and the install command, exit status 2.
 */
export function requireTools(purpose: Purpose): void {
  const missing = missingTools([purpose]);
  if (missing.length > 0) {
    process.stderr.write(`${missingLine(`npm run ${purpose}`, missing)}\n`);
    process.exit(2);
  }
}

/**
 * Installs what `purposes` need with apt-get when this is Debian or Ubuntu and we are root;
 * otherwise throws with the command to run. Returns the packages it installed.
 */
export function installMissing(purposes: readonly Purpose[], log: (line: string) => void): string[] {
  const missing = missingTools(purposes);
  if (missing.length === 0) {
    return [];
  }
  const packages = [...new Set(missing.map((tool) => tool.debianPackage))];
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !onPath('apt-get', process.env.PATH ?? '')) {
    throw new Error(missingLine(purposes.join(', '), missing));
  }
  log(`installing ${packages.join(' ')} (${missing.map((tool) => tool.why).join('; ')})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-q'], ['install', '-y', '-q', '--no-install-recommends', ...packages]]) {
    // apt's output goes to stderr: a command's stdout may be a JSON report.
    const result = spawnSync('apt-get', args, { stdio: ['ignore', process.stderr, 'inherit'], env });
    if (result.status !== 0) {
      throw new Error(`apt-get ${args.join(' ')} exited ${result.status}`);
    }
  }
  const still = missingTools(purposes);
  if (still.length > 0) {
    throw new Error(`after apt-get install, still missing: ${still.map((tool) => tool.name).join(', ')}`);
  }
  return packages;
}
