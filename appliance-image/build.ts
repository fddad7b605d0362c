import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildSync } from 'esbuild';

const IMAGE_DIR = __dirname;

/** The files of the appliance bundle besides the agent: source path -> path in the bundle. */
const BUNDLED_FILES: Record<string, string> = {
  'install/install.sh': 'install.sh',
  'nginx/token.js': 'nginx/token.js',
  'nginx/renditions.js': 'nginx/renditions.js',
  'nginx/nearstream-edge.conf.template': 'nginx/nearstream-edge.conf.template',
  'systemd/nearstream-configure.service': 'systemd/nearstream-configure.service',
};

/** Bundles the agent into one file for the node's Node.js. */
export function bundleAgent(outfile: string): string {
  return bundleForNode(path.join(IMAGE_DIR, 'agent', 'src', 'main.ts'), outfile);
}

/** Bundles a TypeScript entry point and everything it imports into one file for Node 20, as the Lambdas are bundled. */
export function bundleForNode(entryPoint: string, outfile: string): string {
  buildSync({ entryPoints: [entryPoint], bundle: true, platform: 'node', target: 'node20', outfile, logLevel: 'error' });
  return outfile;
}

/**
 * Lays out the appliance bundle in `outDir`: what `install.sh` installs on EC2 (from the Image
 * Builder component) and on bare metal alike. Returns `outDir`.
 */
export function buildApplianceBundle(outDir: string): string {
  fs.rmSync(outDir, { recursive: true, force: true });
  bundleAgent(path.join(outDir, 'agent', 'nearstream-agent.js'));
  for (const [source, target] of Object.entries(BUNDLED_FILES)) {
    fs.mkdirSync(path.dirname(path.join(outDir, target)), { recursive: true });
    fs.copyFileSync(path.join(IMAGE_DIR, source), path.join(outDir, target));
  }
  fs.chmodSync(path.join(outDir, 'install.sh'), 0o755);
  return outDir;
}

/**
 * The bundle as one gzipped tarball, `nearstream-appliance/` at its root. Byte-for-byte the same
 * for the same content (sorted, no times or owners), so its hash names an image version.
 */
export function packApplianceBundle(bundleDir: string, tarball: string): string {
  fs.mkdirSync(path.dirname(tarball), { recursive: true });
  execFileSync('tar', [
    '--sort=name',
    '--mtime=@0',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--use-compress-program=gzip -n',
    '-cf',
    tarball,
    '-C',
    path.dirname(bundleDir),
    `--transform=s,^${path.basename(bundleDir)},nearstream-appliance,`,
    path.basename(bundleDir),
  ]);
  return tarball;
}
