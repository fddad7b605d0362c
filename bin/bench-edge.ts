#!/usr/bin/env node
/**
 * `npm run bench:edge [-- --json] [-- --seconds S]`: requests/s and MB/s for 1 MB segment requests
 * through the edge server's token validation, beside plain nginx serving the same files without
 * validation: one nginx, two server blocks, same machine, same run, measured with wrk (Debian
 * package), alternating so that neither gets the warmer machine. Goal: at least 0.9x plain nginx.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readEdgeTemplate, renderEdgeConfig } from '../appliance-image/agent/src/edge-config';
import { signToken, tokenizedPath } from '../lambda/shared/url-token';
import { EdgeServer } from '../test/support/edge-server';
import { TEST_KEYRING } from '../test/support/fixtures';
import { freePort } from '../test/support/ports';
import { requireTools } from '../local/prerequisites';

interface WrkResult {
  requestsPerSecond: number;
  megabytesPerSecond: number;
  p99Ms: number;
}

function wrk(url: string, seconds: number): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', ['-t', '2', '-c', '16', '-d', `${seconds}s`, '--latency', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      const transfer = /Transfer\/sec:\s+([\d.]+)([KMG]B)/.exec(out);
      const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
      const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out);
      if (code !== 0 || !rps || !transfer || !p99 || errors) {
        reject(new Error(`wrk failed or saw errors:\n${out}`));
        return;
      }
      const scale = { KB: 1e-3 * 1.024, MB: 1.048576, GB: 1073.741824 }[transfer[2] as 'KB' | 'MB' | 'GB'];
      const unit = { us: 1e-3, ms: 1, s: 1000 }[p99[2] as 'us' | 'ms' | 's'];
      resolve({ requestsPerSecond: Number(rps[1]), megabytesPerSecond: Number(transfer[1]) * scale, p99Ms: Number(p99[1]) * unit });
    });
  });
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const secondsAt = process.argv.indexOf('--seconds');
  const seconds = secondsAt >= 0 ? Number(process.argv[secondsAt + 1]) : 6;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-bench-edge-'));
  fs.chmodSync(root, 0o755);
  const cacheDir = path.join(root, 'cache');
  const segmentDir = path.join(cacheDir, 'titles', 't1', 'avc1');
  fs.mkdirSync(segmentDir, { recursive: true, mode: 0o755 });
  fs.writeFileSync(path.join(segmentDir, 'seg-1.m4s'), randomBytes(1_048_576), { mode: 0o644 });
  const keyringFile = path.join(root, 'keyring.json');
  fs.writeFileSync(keyringFile, JSON.stringify({ activeKeyId: 'k1', k1: TEST_KEYRING.keys.get('k1')!.toString('utf8') }), { mode: 0o644 });
  const plainPort = await freePort();
  const edge = await EdgeServer.start(path.join(root, 'nginx'), (listen) =>
    [
      renderEdgeConfig(
        readEdgeTemplate(path.join(__dirname, '..', 'appliance-image', 'nginx', 'nearstream-edge.conf.template')),
        { applianceId: 'oca-1', cacheDir, keyringFile },
        { listen, njsDir: path.join(__dirname, '..', 'appliance-image', 'nginx'), accessLog: 'off' },
      ),
      `server { listen 127.0.0.1:${plainPort} reuseport; sendfile on; tcp_nopush on; keepalive_requests 10000; access_log off; location /titles/ { root ${cacheDir}; } }`,
    ].join('\n'),
  );
  try {
    const token = signToken(TEST_KEYRING, { applianceId: 'oca-1', titleId: 't1', maxHeight: 1080, expiresAt: Math.floor(Date.now() / 1000) + 3600 });
    const tokenUrl = edge.url(tokenizedPath(token, 't1', 'avc1/seg-1.m4s'));
    const plainUrl = `http://127.0.0.1:${plainPort}/titles/t1/avc1/seg-1.m4s`;
    await wrk(tokenUrl, 1);
    await wrk(plainUrl, 1);
    const runs: { token: WrkResult[]; plain: WrkResult[] } = { token: [], plain: [] };
    for (let round = 0; round < 2; round++) {
      runs.plain.push(await wrk(plainUrl, seconds / 2));
      runs.token.push(await wrk(tokenUrl, seconds / 2));
    }
    const mean = (results: WrkResult[], field: keyof WrkResult) => results.reduce((sum, r) => sum + r[field], 0) / results.length;
    const round2 = (value: number) => Math.round(value * 100) / 100;
    const figures = {
      segmentBytes: 1_048_576,
      tokenRequestsPerSecond: round2(mean(runs.token, 'requestsPerSecond')),
      tokenMBps: round2(mean(runs.token, 'megabytesPerSecond')),
      tokenP99Ms: round2(mean(runs.token, 'p99Ms')),
      plainRequestsPerSecond: round2(mean(runs.plain, 'requestsPerSecond')),
      plainMBps: round2(mean(runs.plain, 'megabytesPerSecond')),
      plainP99Ms: round2(mean(runs.plain, 'p99Ms')),
      ratio: round2(mean(runs.token, 'requestsPerSecond') / mean(runs.plain, 'requestsPerSecond')),
      goalRatio: 0.9,
    };
    if (json) {
      console.log(JSON.stringify(figures));
      return;
    }
    console.log('| 1 MB segments | requests/s | MB/s | p99 ms |');
    console.log('| --- | --- | --- | --- |');
    console.log(`| edge server, token checked in njs | ${figures.tokenRequestsPerSecond} | ${figures.tokenMBps} | ${figures.tokenP99Ms} |`);
    console.log(`| plain nginx, no validation | ${figures.plainRequestsPerSecond} | ${figures.plainMBps} | ${figures.plainP99Ms} |`);
    console.log(`| ratio (token / plain requests/s) | ${figures.ratio} | goal >= 0.9 (${figures.ratio >= 0.9 ? 'met' : 'MISSED'}) | |`);
  } finally {
    await edge.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

requireTools('bench:edge');
main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
