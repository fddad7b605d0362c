#!/usr/bin/env node
/**
 * `npm start`: the whole platform on this machine (see local/platform/platform.ts), a title played
 * with the CLI player, then the web page until Ctrl-C. `--once` stops after the play: exit 0 only
 * when it completed without error.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { CODECS, Codec } from '../lambda/catalog/catalog';
import { DEFAULT_BASE_PORT } from '../local/platform/layout';
import { loginAsDevViewer, regionEndpoints } from '../local/platform/login';
import { LocalPlatform, PLATFORM_STEPS } from '../local/platform/platform';
import { StepFailedError } from '../local/platform/progress';
import { AlreadyRunningError } from '../local/platform/instance-lock';
import { formatProgress, formatReport, play } from '../local/player';

const USAGE = `usage: npm start -- [options]

Starts Nearstream on this machine (no AWS account, no Docker), plays a title, and serves a page.

  --once              stop after the play; exit 0 only if it completed without error
  --fresh             start over: remove the working directory's titles, caches and tables
  --video FILE        seed this video instead of a generated test clip
  --clear             seed the demo title in the clear (it is protected by default: cbcs, ClearKey, no AV1)
  --workdir DIR       where everything is kept [.nearstream]
  --port N            first of the loopback ports it uses (N to N+9, and N+10 on for the appliances) [${DEFAULT_BASE_PORT}]
  --appliances N      appliances, in 2 clusters [3]
  --codecs LIST       renditions to encode, from ${CODECS.join(', ')} [avc1,av01]
  --speed N           play N times faster than real time [4]
  --json              print the play report as one JSON object on stdout
  --help, -h          this text`;

function wholeNumber(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new Error(`--${flag} must be a whole number from ${min} to ${max} (got '${text}')`);
  }
  return value;
}

function options() {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: {
      once: { type: 'boolean', default: false },
      fresh: { type: 'boolean', default: false },
      video: { type: 'string' },
      clear: { type: 'boolean', default: false },
      workdir: { type: 'string', default: '.nearstream' },
      port: { type: 'string', default: String(DEFAULT_BASE_PORT) },
      appliances: { type: 'string', default: '3' },
      codecs: { type: 'string', default: 'avc1,av01' },
      speed: { type: 'string', default: '4' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const codecs = values.codecs.split(',').map((codec) => codec.trim());
  const unknown = codecs.filter((codec) => !(CODECS as readonly string[]).includes(codec));
  if (unknown.length > 0 || codecs.length === 0) {
    throw new Error(`--codecs must name codecs from ${CODECS.join(', ')} (got '${values.codecs}')`);
  }
  if (values.video !== undefined && !fs.statSync(values.video, { throwIfNoEntry: false })?.isFile()) {
    throw new Error(`--video: no such file: ${values.video}`);
  }
  const speed = Number(values.speed);
  if (!(speed > 0) || !Number.isFinite(speed)) {
    throw new Error(`--speed must be a positive number (got '${values.speed}')`);
  }
  return {
    help: values.help,
    once: values.once,
    fresh: values.fresh,
    video: values.video,
    demoProtection: values.clear ? ('off' as const) : ('on' as const),
    workdir: values.workdir,
    basePort: wholeNumber('port', values.port, 1024, 65_000),
    appliances: wholeNumber('appliances', values.appliances, 1, 20),
    codecs: codecs as Codec[],
    speed,
    json: values.json,
  };
}

async function main(): Promise<number> {
  let settings: ReturnType<typeof options>;
  try {
    settings = options();
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (settings.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  // Progress goes to stderr, so that `--json` leaves stdout to the report.
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  const totalSteps = PLATFORM_STEPS + (settings.once ? 1 : 2);
  let platform: LocalPlatform | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= (platform?.stop() ?? Promise.resolve()).catch((error: Error) => log(error.message)));
  // Ctrl-C at any moment: the step under way is cut short, what was started is stopped, exit 130.
  const interrupt = new AbortController();
  const interrupted = new Promise<string>((resolve) => interrupt.signal.addEventListener('abort', () => resolve(String(interrupt.signal.reason))));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (interrupt.signal.aborted) {
        log('still stopping what was started');
        return;
      }
      log(`${signal}: stopping what was started`);
      interrupt.abort(signal);
    });
  }
  // A bug in a stand-in must not leave the others running.
  process.on('uncaughtException', (error) => {
    log(`npm start: ${error.stack ?? error.message}`);
    void stop().finally(() => process.exit(1));
  });
  const unlessInterrupted = <T>(work: Promise<T>): Promise<T> =>
    Promise.race([work, interrupted.then((signal) => Promise.reject(new StepFailedError('npm start', `interrupted by ${signal}`)))]);
  try {
    platform = await LocalPlatform.start({ ...settings, log, totalSteps, signal: interrupt.signal });
    const state = platform.state;
    const report = await platform.progress.step(`play '${state.demoTitleId}' with the CLI player (HLS, ${settings.speed}x)`, async (note) => {
      const token = await loginAsDevViewer(state);
      return unlessInterrupted(
        play({
          regions: regionEndpoints(state),
          token,
          titleId: state.demoTitleId!,
          speed: settings.speed,
          onEvent: (event) => {
            const line = formatProgress(event);
            if (line) note(line);
          },
        }),
      );
    });
    process.stdout.write(settings.json ? `${JSON.stringify(report)}\n` : `\n${formatReport(report)}\n`);
    const played = report.completed && report.errors.length === 0;
    if (settings.once) {
      await stop();
      return played ? 0 : 1;
    }
    const page = await platform.progress.step('web page', async () => platform!.openPage());
    log(
      [
        '',
        `Nearstream is running. Open ${page.url}/ to watch a play and the fleet.`,
        `  regions: ${state.regions.map((region) => `${region.label} ${region.url}`).join(', ')}`,
        `  dev viewer: ${state.viewer.username} / ${state.viewer.password}; a token for it, valid 12 h (more from POST ${state.issuer.tokenUrl}):`,
        `    ${await platform.issuer.tokenFor(state.viewer.sub)}`,
        '  more titles: npm run local -- upload <video>;  another play: npm run local -- play [--json]',
        '  Ctrl-C stops everything.',
      ].join('\n'),
    );
    await interrupted;
    await stop();
    return 0;
  } catch (error) {
    if (interrupt.signal.aborted) {
      await stop();
      return 130;
    }
    log(error instanceof StepFailedError ? `npm start: ${error.message}` : `npm start: ${(error as Error).stack}`);
    await stop();
    return (error as Error).cause instanceof AlreadyRunningError ? 3 : 1;
  }
}

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
main().then((code) => process.exit(code));
