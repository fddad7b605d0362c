#!/usr/bin/env node
/**
 * `npm run local -- <command>`: works with the platform `npm start` is running (it reads
 * `<workdir>/platform.json`). `upload` encodes a video into it, plans and fills; `play` plays a title
 * with the CLI player; `status` prints what the web page shows.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { CODECS, Codec } from '../lambda/catalog/catalog';
import { resolveEnvironment } from '../lib/config/environment';
import { layoutOf } from '../local/platform/layout';
import { loginAsDevViewer, regionEndpoints } from '../local/platform/login';
import { encodeUpload, fillAppliances, planRegions } from '../local/platform/operations';
import { readPlatformState } from '../local/platform/platform-state';
import { runPlayerCli } from '../local/player';

const USAGE = `usage: npm run local -- <command> [options]

  upload FILE [--codecs avc1,av01] [--protection on|off]
                                     encode a video into the running platform, plan and fill: the title is then playable;
                                     --protection: encrypt it (cbcs, ClearKey licenses) or not [the environment's default: off]
  play [TITLE] [player options]      play a title (the demo by default) with the CLI player; play --help lists its options
  status                             the regions, appliances and titles, as JSON

  --workdir DIR     the running platform's working directory [.nearstream]
  --help, -h        this text`;

/** Bad usage: exit 2 with the message. */
class UsageError extends Error {}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Splits `--workdir` off the front of the arguments; the rest belongs to the command. */
function workdirOf(args: readonly string[]): { workdir: string; rest: string[] } {
  const rest = [...args];
  const at = rest.indexOf('--workdir');
  if (at < 0) {
    return { workdir: '.nearstream', rest };
  }
  const value = rest[at + 1];
  if (!value || value.startsWith('--')) {
    throw new UsageError('--workdir needs a directory');
  }
  rest.splice(at, 2);
  return { workdir: value, rest };
}

async function upload(workdir: string, args: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    strict: true,
    allowPositionals: true,
    options: { codecs: { type: 'string', default: 'avc1,av01' }, protection: { type: 'string' } },
  });
  if (positionals.length !== 1) {
    throw new UsageError('upload needs exactly one video file');
  }
  const codecs = values.codecs.split(',').map((codec) => codec.trim());
  const unknown = codecs.filter((codec) => !(CODECS as readonly string[]).includes(codec));
  if (unknown.length > 0) {
    throw new UsageError(`--codecs: unknown codec(s) ${unknown.join(', ')}; choose from ${CODECS.join(', ')}`);
  }
  const protection = values.protection;
  if (protection !== undefined && protection !== 'on' && protection !== 'off') {
    throw new UsageError(`--protection must be on or off (got '${protection}')`);
  }
  const state = readPlatformState(layoutOf(workdir).stateFile);
  const config = resolveEnvironment({ name: 'local' });
  const file = path.resolve(positionals[0]);
  log(`encoding ${file} (${codecs.join(', ')})`);
  const title = await encodeUpload(state, config, file, { codecs: codecs as Codec[], protection, log });
  log(`'${title.name}' is available as ${title.titleId}: ${title.renditions.length} renditions, ${title.protection ? 'protected (cbcs, ClearKey)' : 'in the clear'}`);
  for (const { region, planned } of await planRegions(state, config)) {
    log(`planned ${region}: ${planned} cluster manifest(s)`);
  }
  await fillAppliances(state, (line) => log(`filled ${line}`));
  log(`playable now; steered to the appliances once the play functions' fleet view refreshes (within ${config.playback.fleetCacheSeconds} s)`);
  process.stdout.write(`${title.titleId}\n`);
  return 0;
}

async function status(workdir: string): Promise<number> {
  const state = readPlatformState(layoutOf(workdir).stateFile);
  const response = await fetch(`${state.pageUrl}/api/status`, { signal: AbortSignal.timeout(10_000) }).catch(() => {
    throw new Error(`the platform's page (${state.pageUrl}) is not up yet: it opens after the first play (not with --once)`);
  });
  process.stdout.write(`${JSON.stringify(await response.json(), null, 2)}\n`);
  return response.ok ? 0 : 1;
}

async function main(): Promise<number> {
  let command: string | undefined;
  let workdir: string;
  let rest: string[];
  try {
    ({ workdir, rest } = workdirOf(process.argv.slice(2)));
    [command, ...rest] = rest;
  } catch (error) {
    log(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (!command || command === '--help' || command === '-h') {
    (command ? process.stdout : process.stderr).write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  try {
    switch (command) {
      case 'upload':
        return await upload(workdir, rest);
      case 'status':
        return await status(workdir);
      case 'play': {
        const state = readPlatformState(layoutOf(workdir).stateFile);
        return await runPlayerCli(rest, { regions: regionEndpoints(state), token: await loginAsDevViewer(state), defaultTitleId: state.demoTitleId });
      }
      default:
        log(`unknown command '${command}'\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    log(`npm run local -- ${command}: ${(error as Error).message}`);
    const usage = error instanceof UsageError || String((error as { code?: string }).code).startsWith('ERR_PARSE_ARGS');
    return usage ? 2 : 1;
  }
}

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
main().then((code) => process.exit(code));
