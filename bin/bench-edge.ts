#!/usr/bin/env node
/**
 * `npm run bench:edge [-- --json] [-- --seconds S]`: requests/s and MB/s for 1 MB segment requests
 * through the edge server's token validation, beside plain nginx serving the same files without
 * validation: one nginx, two server blocks, same machine, same run, measured with wrk (Debian
 * package), alternating so that neither gets the warmer machine. Goal: at least 0.9x plain nginx.
 *
 * The token is capped below the title's tallest rendition, as a viewer's is, so every request also
 * pays for the height check: reading the codec directory's rendition index, which the encoding
 * writes, and matching the file against it.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readEdgeTemplate, renderEdgeConfig } from '../appliance-image/agent/src/edge-config';
import { FIXED_LADDERS } from '../lambda/encoding/ladder';
import { RENDITION_INDEX_FILE, renditionIndex } from '../lambda/shared/rendition-index';
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

/** A segment of the 720p rung, named as MediaConvert names it. */
const SEGMENT = 'index_avc1_720p_000000042.cmfv';

/** An MPD shaped like MediaConvert's for the H.264 ladder, with audio: what the edge matches a segment against. */
function ladderMpd(): string {
  const representations = FIXED_LADDERS.avc1.map(
    (rung, i) =>
      `<Representation id="${i + 1}" width="${rung.width}" height="${rung.height}" bandwidth="${rung.maxBitrate}" codecs="avc1.640028">` +
      `<SegmentTemplate media="index_avc1_${rung.height}p_$Number%09d$.cmfv" initialization="index_avc1_${rung.height}pinit.cmfv" duration="6000" timescale="1000" startNumber="1"/></Representation>`,
  );
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT1H30M0S" minBufferTime="PT6S" profiles="urn:mpeg:dash:profile:isoff-main:2011">',
    '<Period start="PT0S" id="1"><AdaptationSet mimeType="video/mp4" segmentAlignment="true" startWithSAP="1" maxWidth="1920" maxHeight="1080">',
    ...representations,
    '</AdaptationSet><AdaptationSet mimeType="audio/mp4" lang="eng"><Representation id="9" bandwidth="128000" codecs="mp4a.40.2">',
    '<SegmentTemplate media="index_audio_$Number%09d$.cmfa" initialization="index_audioinit.cmfa" duration="6000" timescale="1000" startNumber="1"/>',
    '</Representation></AdaptationSet></Period></MPD>',
  ].join('\n');
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
  fs.writeFileSync(path.join(segmentDir, SEGMENT), randomBytes(1_048_576), { mode: 0o644 });
  fs.writeFileSync(path.join(segmentDir, 'index.mpd'), ladderMpd(), { mode: 0o644 });
  const index = renditionIndex({ hls: '#EXTM3U\n', dash: ladderMpd() });
  fs.writeFileSync(path.join(segmentDir, RENDITION_INDEX_FILE), JSON.stringify(index), { mode: 0o644 });
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
    const now = Math.floor(Date.now() / 1000);
    const token = signToken(TEST_KEYRING, { applianceId: 'oca-1', titleId: 't1', maxHeight: 720, expiresAt: now + 3600 }, now);
    const tokenUrl = edge.url(tokenizedPath(token, 't1', `avc1/${SEGMENT}`));
    const plainUrl = `http://127.0.0.1:${plainPort}/titles/t1/avc1/${SEGMENT}`;
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
