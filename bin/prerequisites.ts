#!/usr/bin/env node
/**
 * `tsx bin/prerequisites.ts check|install <purpose>...`: the machine's tools that the test suite and
 * the benchmarks need (the list is `local/prerequisites.ts`). `check` prints what is missing and the
 * command that installs it, exit 1; `install` installs it with apt-get (Debian/Ubuntu, as root).
 */
import { parseArgs } from 'node:util';
import { installMissing, missingLine, missingTools, Purpose, PURPOSES } from '../local/prerequisites';

const USAGE = `usage: tsx bin/prerequisites.ts check|install <purpose>...   (purposes: ${PURPOSES.join(', ')})`;

function main(): number {
  let parsed: { values: { help?: boolean }; positionals: string[] };
  try {
    parsed = parseArgs({ args: process.argv.slice(2), options: { help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const [action, ...named] = parsed.positionals;
  if (parsed.values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const unknown = named.filter((purpose) => !(PURPOSES as readonly string[]).includes(purpose));
  if ((action !== 'check' && action !== 'install') || named.length === 0 || unknown.length > 0) {
    process.stderr.write(`${unknown.length > 0 ? `unknown purpose: ${unknown.join(', ')}\n` : ''}${USAGE}\n`);
    return 2;
  }
  const purposes = named as Purpose[];
  if (action === 'check') {
    const missing = missingTools(purposes);
    if (missing.length > 0) {
      process.stderr.write(`${missingLine(purposes.join(', '), missing)}\n`);
      return 1;
    }
    process.stdout.write(`all prerequisites of ${purposes.join(', ')} are present\n`);
    return 0;
  }
  try {
    const installed = installMissing(purposes, (line) => process.stdout.write(`prerequisites: ${line}\n`));
    process.stdout.write(installed.length > 0 ? `prerequisites: installed ${installed.join(' ')}\n` : `prerequisites: nothing to install for ${purposes.join(', ')}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 1;
  }
}

process.exitCode = main();
