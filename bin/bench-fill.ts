#!/usr/bin/env node
/**
 * `npm run bench:fill [-- --json] [--total-bytes B] [--titles T] [--renditions R] [--rounds N]`: fill
 * throughput of the appliance agent from the S3 server (s3rver) into a fresh cache (SHA-256
 * verified, each object synced before it is renamed into place), beside `rclone sync --checksum`
 * (Debian package rclone) from the same server into another directory, in the same run.
 *
 * Goal: at least 1.0x rclone at equal durability. rclone exits with its bytes in the page cache,
 * so its time runs until `sync -f` on its directory returns (syncfs of that file system: the same
 * dirty pages the agent's per-file syncs write, flushed in one pass, which is the cheapest way
 * rclone's copy becomes as durable, so the stricter bar for the agent). `ratio` is that time over
 * the agent's; rclone's time without the sync is kept as `notDurableRatio`, not the goal.
 *
 * The workload is shaped like real titles (`makeTitles`): per title and rendition a small init
 * segment, media segments of 1-4 MB and a playlist, plus the title's index.m3u8 and index.mpd.
 * Both use 4 parallel transfers (rclone's default); each is warmed up once, then the rounds
 * alternate which runs first and the medians are compared. The agent's peak resident set is the
 * highest of its runs.
 */
import { createCipheriv, createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ManifestObject } from '../lambda/shared/fill-manifest';
import { requireTools } from '../local/prerequisites';
import { AGENT_CREDENTIALS, ApplianceWorld } from '../test/support/agent-harness';
import { runNodeMeasuringPeakRss } from '../test/support/peak-rss';
import { mustRun } from '../test/support/run-process';
import { random as seededRandom } from '../simulator/synthetic';

const USAGE = 'usage: npm run bench:fill -- [--json] [--total-bytes 1000000000] [--titles 4] [--renditions 4] [--rounds 3]';
const GOAL_RATIO = 1.0;
const PARALLELISM = 4;
const SEGMENT_SECONDS = 4;
const MB = 1e6;
/** Media segments of the lowest rendition are 1-1.75 MB, of the highest 3.25-4 MB (for 4 renditions). */
const SEGMENT_MIN_BYTES = 1 * MB;
const SEGMENT_MAX_BYTES = 4 * MB;

type Item = { readonly object: ManifestObject; readonly body: Buffer };

/** Incompressible bytes that depend only on the key: AES-CTR's keystream, fast enough for gigabytes. */
function bytesFor(key: string, size: number): Buffer {
  const seed = createHash('sha256').update(key).digest();
  return createCipheriv('aes-128-ctr', seed.subarray(0, 16), seed.subarray(16, 32)).update(Buffer.alloc(size));
}

/**
 * An object whose body is made again each time it is read, so that a gigabyte of titles never sits
 * in this process (which also hosts the S3 server both tools read from).
 */
function lazyItem(key: string, titleId: string, make: () => Buffer): Item {
  const body = make();
  const object = { key, size: body.length, sha256: createHash('sha256').update(body).digest('hex'), titleId };
  return body.length > 64 * 1024 ? { object, get body() { return make(); } } : { object, body };
}

/**
 * Titles laid out as the encoding writes them (`titles/<titleId>/avc1/`): per rendition an init
 * segment of 1-2 KB, a media playlist and `segmentsPerRendition` segments whose size grows with the
 * rendition's bitrate, within 1-4 MB; per title a multivariant `index.m3u8` and an `index.mpd`.
 */
function makeTitles(titles: number, renditions: number, segmentsPerRendition: number): Item[] {
  const random = seededRandom(20_261_121);
  const items: Item[] = [];
  const band = (SEGMENT_MAX_BYTES - SEGMENT_MIN_BYTES) / renditions;
  for (let t = 0; t < titles; t++) {
    const titleId = `bench-${t}`;
    const prefix = `titles/${titleId}/avc1/`;
    const add = (name: string, make: () => Buffer) => items.push(lazyItem(`${prefix}${name}`, titleId, make));
    for (let r = 0; r < renditions; r++) {
      const initBytes = 1024 + Math.floor(random() * 1024);
      add(`index_${r}_init.mp4`, () => bytesFor(`${prefix}init-${r}`, initBytes));
      const segments = Array.from({ length: segmentsPerRendition }, (_, s) => {
        const name = `index_${r}_${String(s + 1).padStart(5, '0')}.m4s`;
        const size = Math.floor(SEGMENT_MIN_BYTES + band * (r + random()));
        add(name, () => bytesFor(`${prefix}${name}`, size));
        return name;
      });
      const playlist = ['#EXTM3U', '#EXT-X-VERSION:7', `#EXT-X-TARGETDURATION:${SEGMENT_SECONDS}`, '#EXT-X-PLAYLIST-TYPE:VOD', `#EXT-X-MAP:URI="index_${r}_init.mp4"`];
      segments.forEach((name) => playlist.push(`#EXTINF:${SEGMENT_SECONDS}.000,`, name));
      playlist.push('#EXT-X-ENDLIST', '');
      add(`media_${r}.m3u8`, () => Buffer.from(playlist.join('\n')));
    }
    const heights = Array.from({ length: renditions }, (_, r) => 360 + Math.round((720 * r) / Math.max(1, renditions - 1)));
    const bandwidth = (r: number) => Math.round(((SEGMENT_MIN_BYTES + band * (r + 0.5)) * 8) / SEGMENT_SECONDS);
    const multivariant = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-INDEPENDENT-SEGMENTS'];
    heights.forEach((height, r) => multivariant.push(`#EXT-X-STREAM-INF:BANDWIDTH=${bandwidth(r)},RESOLUTION=${Math.round((height * 16) / 9)}x${height},CODECS="avc1.640028"`, `media_${r}.m3u8`));
    add('index.m3u8', () => Buffer.from(`${multivariant.join('\n')}\n`));
    const representations = heights.map(
      (height, r) =>
        `      <Representation id="${r}" bandwidth="${bandwidth(r)}" width="${Math.round((height * 16) / 9)}" height="${height}">\n` +
        `        <SegmentTemplate timescale="1000" duration="${SEGMENT_SECONDS * 1000}" startNumber="1" initialization="index_$RepresentationID$_init.mp4" media="index_$RepresentationID$_$Number%05d$.m4s"/>\n` +
        '      </Representation>',
    );
    const mpd = [
      '<?xml version="1.0" encoding="utf-8"?>',
      `<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT${segmentsPerRendition * SEGMENT_SECONDS}S" minBufferTime="PT${SEGMENT_SECONDS}S" profiles="urn:mpeg:dash:profile:isoff-live:2011">`,
      '  <Period id="0" start="PT0S">',
      '    <AdaptationSet contentType="video" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1">',
      ...representations,
      '    </AdaptationSet>',
      '  </Period>',
      '</MPD>',
      '',
    ];
    add('index.mpd', () => Buffer.from(mpd.join('\n')));
  }
  return items;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Every file below `dir`, by its path relative to `dir`, with its size. */
function filesBelow(dir: string): Map<string, number> {
  const files = new Map<string, number>();
  const walk = (at: string) => {
    for (const entry of fs.readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) walk(full);
      else files.set(path.relative(dir, full), fs.statSync(full).size);
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return files;
}

function options(): { json: boolean; totalBytes: number; titles: number; renditions: number; rounds: number } {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    allowPositionals: false,
    options: {
      json: { type: 'boolean', default: false },
      'total-bytes': { type: 'string', default: String(1_000_000_000) },
      titles: { type: 'string', default: '4' },
      renditions: { type: 'string', default: '4' },
      rounds: { type: 'string', default: '3' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const whole = (name: 'total-bytes' | 'titles' | 'renditions' | 'rounds') => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value <= 0) {
      throw new Error(`--${name} must be a positive whole number, not '${values[name]}'`);
    }
    return value;
  };
  return { json: values.json, totalBytes: whole('total-bytes'), titles: whole('titles'), renditions: whole('renditions'), rounds: whole('rounds') };
}

async function main(): Promise<void> {
  let settings: ReturnType<typeof options>;
  try {
    settings = options();
  } catch (error) {
    process.stderr.write(`bench:fill: ${(error as Error).message} (see --help)\n`);
    process.exit(2);
  }
  const { json, totalBytes, titles, renditions, rounds } = settings;
  requireTools('bench:fill');
  const say = (line: string) => process.stderr.write(`bench:fill: ${line}\n`);
  const meanSegmentBytes = (SEGMENT_MIN_BYTES + SEGMENT_MAX_BYTES) / 2;
  const segmentsPerRendition = Math.max(1, Math.round(totalBytes / (titles * renditions * meanSegmentBytes)));

  say('starting the S3 server, DynamoDB Local and the fleet API');
  const world = new ApplianceWorld();
  await world.start();
  try {
    const items = makeTitles(titles, renditions, segmentsPerRendition);
    const manifestObjects = items.map((item) => item.object);
    const objects = manifestObjects.length;
    const bytes = manifestObjects.reduce((sum, object) => sum + object.size, 0);
    say(`publishing ${titles} titles x ${renditions} renditions: ${objects} objects, ${(bytes / MB).toFixed(0)} MB`);
    await world.publish(1, items);
    // The agent reads the S3 server directly, as rclone does: the tests' recording proxy in front of
    // it would pipe every byte through this process, which also hosts the server, on a new
    // connection per request.
    world.writeConfig({
      s3Endpoint: world.s3.endpoint,
      parallelism: PARALLELISM,
      bandwidthCapBytesPerSecond: 100_000_000_000,
      diskCeilingBytes: bytes * 2,
      capacity: { egressGbps: 10, diskBytes: bytes * 2 },
    });

    // Each run starts with nothing dirty in the page cache: otherwise one tool's unwritten bytes
    // are flushed to disk during, and at the cost of, the next tool's run.
    const settleDisk = () => mustRun('sync', []);
    // As `world.runAgent`, with the child's peak resident set measured.
    const agentEnv = { ...process.env, ...AGENT_CREDENTIALS };
    const agentRun = async () => {
      fs.rmSync(world.cacheDir, { recursive: true, force: true });
      fs.rmSync(world.stateDir, { recursive: true, force: true });
      fs.mkdirSync(world.cacheDir);
      await settleDisk();
      const startedAtMs = Date.now();
      const started = performance.now();
      const agent = await runNodeMeasuringPeakRss([world.agentBundle, 'fill', '--ignore-window', '--config', world.configFile], agentEnv);
      const seconds = (performance.now() - started) / 1000;
      if (agent.status !== 0 || agent.peakRssBytes === undefined) {
        throw new Error(`the agent's fill exited ${agent.status}: ${agent.output.slice(-500)}`);
      }
      const logged = agent.stdout.trim().split('\n').map((line) => JSON.parse(line) as { time: string; message: string });
      const at = (message: string) => Date.parse(logged.find((entry) => entry.message === message)!.time);
      const served = world.servedFiles();
      const wrong = manifestObjects.filter((object) => served[object.key] !== object.sha256);
      if (wrong.length > 0 || Object.keys(served).length !== objects) {
        throw new Error(`the agent's cache holds ${Object.keys(served).length} files for ${objects} objects; ${wrong.length} missing or different, e.g. ${wrong[0]?.key}`);
      }
      return {
        seconds,
        startupSeconds: (at('fill starting') - startedAtMs) / 1000,
        transferSeconds: (at('fill finished') - at('fill starting')) / 1000,
        peakRssBytes: agent.peakRssBytes,
      };
    };

    const rcloneDir = path.join(world.root, 'rclone');
    // rclone reads AWS_CA_BUNDLE and refuses a plain-HTTP endpoint with it set; the S3 server is local.
    const { AWS_CA_BUNDLE: _bundle, ...inherited } = process.env;
    const env = {
      ...inherited,
      RCLONE_CONFIG_ORIGIN_TYPE: 's3',
      RCLONE_CONFIG_ORIGIN_PROVIDER: 'Other',
      RCLONE_CONFIG_ORIGIN_ENDPOINT: world.s3.endpoint,
      RCLONE_CONFIG_ORIGIN_ACCESS_KEY_ID: 'S3RVER',
      RCLONE_CONFIG_ORIGIN_SECRET_ACCESS_KEY: 'S3RVER',
      RCLONE_CONFIG_ORIGIN_REGION: 'us-east-1',
    };
    const rcloneRun = async () => {
      fs.rmSync(rcloneDir, { recursive: true, force: true });
      await settleDisk();
      const started = performance.now();
      // --fast-list: one recursive listing. s3rver answers delimiter listings of nested prefixes
      // with nothing, which would make rclone copy nothing; on AWS --fast-list is the usual choice.
      await mustRun('rclone', ['sync', '--checksum', '--fast-list', '--transfers', String(PARALLELISM), 'origin:origin/titles', rcloneDir], env);
      const notDurableSeconds = (performance.now() - started) / 1000;
      await mustRun('sync', ['-f', rcloneDir]);
      const durableSeconds = (performance.now() - started) / 1000;
      const copied = filesBelow(rcloneDir);
      const wrong = manifestObjects.filter((object) => copied.get(object.key.slice('titles/'.length)) !== object.size);
      if (wrong.length > 0 || copied.size !== objects) {
        throw new Error(`rclone copied ${copied.size} files for ${objects} objects into ${rcloneDir}; ${wrong.length} missing or of another size, e.g. ${wrong[0]?.key}`);
      }
      return { notDurableSeconds, durableSeconds };
    };

    // One untimed run of each warms the server (JIT, page cache) for both; then the timed rounds
    // alternate which goes first, so neither always meets the server warmer.
    say('warming up: one untimed run of each');
    const warmup = await agentRun();
    await rcloneRun();
    const agentRuns: Awaited<ReturnType<typeof agentRun>>[] = [];
    const rcloneRuns: Awaited<ReturnType<typeof rcloneRun>>[] = [];
    for (let round = 0; round < rounds; round++) {
      if (round % 2 === 0) {
        agentRuns.push(await agentRun());
        rcloneRuns.push(await rcloneRun());
      } else {
        rcloneRuns.push(await rcloneRun());
        agentRuns.push(await agentRun());
      }
      const agent = agentRuns[round];
      const rclone = rcloneRuns[round];
      say(
        `round ${round + 1}/${rounds}: agent ${agent.seconds.toFixed(2)} s (peak RSS ${(agent.peakRssBytes / 2 ** 20).toFixed(0)} MiB), ` +
          `rclone ${rclone.notDurableSeconds.toFixed(2)} s + sync -f = ${rclone.durableSeconds.toFixed(2)} s`,
      );
    }
    const agentSeconds = median(agentRuns.map((r) => r.seconds));
    const rcloneDurableSeconds = median(rcloneRuns.map((r) => r.durableSeconds));
    const rcloneNotDurableSeconds = median(rcloneRuns.map((r) => r.notDurableSeconds));

    const mbps = (seconds: number) => Math.round((bytes / seconds / MB) * 10) / 10;
    const round2 = (value: number) => Math.round(value * 100) / 100;
    const ratio = round2(rcloneDurableSeconds / agentSeconds);
    const figures = {
      titles,
      renditions,
      objects,
      bytes,
      rounds,
      parallelism: PARALLELISM,
      agentSeconds: round2(agentSeconds),
      agentMBps: mbps(agentSeconds),
      agentStartupSeconds: round2(median(agentRuns.map((r) => r.startupSeconds))),
      agentTransferSeconds: round2(median(agentRuns.map((r) => r.transferSeconds))),
      agentPeakRssMb: Math.round(Math.max(warmup.peakRssBytes, ...agentRuns.map((r) => r.peakRssBytes)) / 2 ** 20),
      rcloneDurability: 'rclone sync --checksum, then sync -f (syncfs) of its directory',
      rcloneDurableSeconds: round2(rcloneDurableSeconds),
      rcloneDurableMBps: mbps(rcloneDurableSeconds),
      rcloneNotDurableSeconds: round2(rcloneNotDurableSeconds),
      rcloneNotDurableMBps: mbps(rcloneNotDurableSeconds),
      ratio,
      goalRatio: GOAL_RATIO,
      goalMet: ratio >= GOAL_RATIO,
      notDurableRatio: round2(rcloneNotDurableSeconds / agentSeconds),
    };
    if (json) {
      console.log(JSON.stringify(figures));
      return;
    }
    console.log(`| fill of ${titles} titles x ${renditions} renditions: ${objects} objects, ${(bytes / MB).toFixed(0)} MB (median of ${rounds} rounds) | seconds | MB/s |`);
    console.log('| --- | --- | --- |');
    console.log(`| nearstream-agent (SHA-256 verified, each object synced, ${PARALLELISM} parallel), whole run | ${figures.agentSeconds} | ${figures.agentMBps} |`);
    console.log(`| - of which start-up, register, manifest, reconcile | ${figures.agentStartupSeconds} | |`);
    console.log(`| - of which transfer, state snapshot, report | ${figures.agentTransferSeconds} | |`);
    console.log(`| rclone sync --checksum (${PARALLELISM} transfers), then sync -f of its directory | ${figures.rcloneDurableSeconds} | ${figures.rcloneDurableMBps} |`);
    console.log(`| rclone alone, bytes still in the page cache (not durable) | ${figures.rcloneNotDurableSeconds} | ${figures.rcloneNotDurableMBps} |`);
    console.log(`| ratio at equal durability (rclone + sync -f time / agent time) | ${figures.ratio} | goal >= ${GOAL_RATIO} (${figures.goalMet ? 'met' : 'MISSED'}) |`);
    console.log(`| ratio against rclone without its sync (not the goal) | ${figures.notDurableRatio} | |`);
    console.log(`| agent peak resident set (highest of ${rounds + 1} runs) | ${figures.agentPeakRssMb} MiB | |`);
  } finally {
    await world.stop();
  }
}

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
main().catch((error: Error) => {
  process.stderr.write(`bench:fill: ${error.message}\n`);
  process.exit(1);
});
