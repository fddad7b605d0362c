import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { CODECS } from '../../lambda/catalog/catalog';
import { RegionEndpoint } from './control-plane-client';
import { formatProgress, formatReport } from './format-report';
import { play, PlayOptions } from './player';

const USAGE = `npm run local -- play [titleId] [options]

Plays a title through the local platform as a viewer's player would: asks the regions for a play,
fetches HLS (or DASH) segment by segment from the appliances steering ranked (then the origin
tier), adapts the bitrate, sends telemetry, and prints what happened. Progress goes to stderr.
A protected title is licensed with ClearKey from the region that granted the play, and its first
video segment is decoded with the licensed key (ffmpeg) to show the key opens it.

  titleId             the title to play [the platform's default title]
  --dash              play the DASH MPD instead of HLS
  --json              print the play report as one JSON object instead of the summary
  --speed N|max       media seconds per wall second; max: as fast as the network allows [1]
  --max-seconds N     stop after N seconds of media [the whole title]
  --max-height N      the device's tallest picture, 144-4320 [1080]
  --codecs LIST       codecs the device decodes, comma-separated, from ${CODECS.join(', ')} [av01,avc1]
  --client-ip IP      steer as if the player were at this address [the caller's]
  --help, -h          this text

Exit status: 0 played to the end, 1 the play failed, 2 bad usage.`;

/** Where the integrator's bin/ gets the platform's regions and a signed-in viewer from. */
export interface PlayerCliContext {
  readonly regions: readonly RegionEndpoint[];
  readonly token: string;
  readonly defaultTitleId?: string;
  readonly clientIp?: string;
}

export interface PlayerCliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

class UsageError extends Error {}

function positiveNumber(flag: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !(value > 0) || !Number.isFinite(value)) {
    throw new UsageError(`--${flag} must be a positive number (got '${text}')`);
  }
  return value;
}

function optionsFrom(argv: readonly string[], context: PlayerCliContext): { options: Omit<PlayOptions, 'onEvent'>; json: boolean } | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        dash: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        speed: { type: 'string' },
        'max-seconds': { type: 'string' },
        'max-height': { type: 'string' },
        codecs: { type: 'string' },
        'client-ip': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    return 'help';
  }
  if (positionals.length > 1) {
    throw new UsageError(`one title id at most (got ${positionals.length}: ${positionals.join(' ')})`);
  }
  const titleId = positionals[0] ?? context.defaultTitleId;
  if (!titleId) {
    throw new UsageError('titleId is required: there is no default title to play');
  }
  const speed = values.speed === undefined ? undefined : values.speed === 'max' || values.speed === 'Infinity' ? Number.POSITIVE_INFINITY : positiveNumber('speed', values.speed);
  const maxHeight = values['max-height'] === undefined ? undefined : Number(values['max-height']);
  if (maxHeight !== undefined && !(Number.isInteger(maxHeight) && maxHeight >= 144 && maxHeight <= 4320)) {
    throw new UsageError(`--max-height must be a whole number from 144 to 4320 (got '${values['max-height']}')`);
  }
  const codecs = values.codecs?.split(',').map((codec) => codec.trim());
  const unknown = codecs?.filter((codec) => !(CODECS as readonly string[]).includes(codec));
  if (codecs && (codecs.length === 0 || unknown!.length > 0)) {
    throw new UsageError(`--codecs must list codecs from ${CODECS.join(', ')} (got '${values.codecs}')`);
  }
  const clientIp = values['client-ip'] ?? context.clientIp;
  if (clientIp !== undefined && isIP(clientIp) === 0) {
    throw new UsageError(`--client-ip must be an IPv4 or IPv6 address (got '${clientIp}')`);
  }
  return {
    json: values.json,
    options: {
      regions: context.regions,
      token: context.token,
      titleId,
      protocol: values.dash ? 'dash' : 'hls',
      ...(speed === undefined ? {} : { speed }),
      ...(values['max-seconds'] === undefined ? {} : { maxSeconds: positiveNumber('max-seconds', values['max-seconds']) }),
      ...(maxHeight === undefined ? {} : { maxHeight }),
      ...(codecs ? { codecs } : {}),
      ...(clientIp === undefined ? {} : { clientIp }),
    },
  };
}

/**
 * The `play` command's core, for bin/ to call with the platform's regions and a viewer's token.
 * Resolves to the exit status: 0 played to the end, 1 the play failed, 2 bad usage (one line on
 * stderr naming the flag).
 */
export async function runPlayerCli(argv: readonly string[], context: PlayerCliContext, io: PlayerCliIo = process): Promise<number> {
  let parsed: ReturnType<typeof optionsFrom>;
  try {
    parsed = optionsFrom(argv, context);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`play: ${error.message} (see --help)\n`);
      return 2;
    }
    throw error;
  }
  if (parsed === 'help') {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const report = await play({
    ...parsed.options,
    onEvent: (event) => {
      const line = formatProgress(event);
      if (line) {
        io.stderr.write(`${line}\n`);
      }
    },
  });
  io.stdout.write(parsed.json ? `${JSON.stringify(report)}\n` : formatReport(report));
  if (!report.completed) {
    io.stderr.write(`play: ${report.errors.join('; ')}\n`);
  }
  return report.completed && report.errors.length === 0 ? 0 : 1;
}
