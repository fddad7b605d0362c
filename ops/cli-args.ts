import { parseArgs, ParseArgsConfig } from 'node:util';

/** Bad usage of an ops command: the command prints the message and exits 2. */
export class UsageError extends Error {}

/** Parsed option values, as `node:util` parseArgs gives them for string and boolean options. */
export type OptionValues = Record<string, string | boolean | undefined>;

/**
 * `args` parsed strictly against one command's `options`, positionals allowed; parseArgs' errors
 * become one-line `UsageError`s naming the command (an unknown option points at `--help`).
 */
export function parseCommandOptions(command: string, args: readonly string[], options: ParseArgsConfig['options']): { values: OptionValues; positionals: string[] } {
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: true }) as { values: OptionValues; positionals: string[] };
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    const unknown = /^Unknown option '([^']+)'/.exec(message);
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown) {
      throw new UsageError(`${command}: unknown option '${unknown[1]}' (--help lists each command's options)`);
    }
    throw new UsageError(`${command}: ${message.split('\n')[0]}`);
  }
}
