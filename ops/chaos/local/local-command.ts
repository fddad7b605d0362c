import * as path from 'node:path';
import type { ChaosCommand } from '../args';
import { LocalPlatform } from '../../../local/platform/platform';
import { runLocalDrills } from './run-local';

type LocalCommand = Extract<ChaosCommand, { command: 'local' }>;

/** `npm run chaos -- local ...`: starts a fresh local platform, runs the drills, stops it; true when every drill passed. */
export async function runLocalChaos(command: LocalCommand, io: { out(line: string): void; err(line: string): void; readonly interrupted: AbortSignal }): Promise<boolean> {
  io.out(`starting a local platform in ${command.workdir} (a minute or two: it encodes a demo clip and fills the appliances)`);
  const platform = await LocalPlatform.start({
    workdir: command.workdir,
    fresh: true,
    basePort: command.basePort,
    appliances: 3,
    codecs: ['avc1'],
    keepTables: false,
    log: (line) => io.err(line),
    signal: io.interrupted,
  });
  try {
    const outcome = await runLocalDrills(platform, command.experiments, {
      players: command.players,
      seconds: command.seconds,
      reportsDir: path.join(platform.layout.root, 'reports'),
      out: io.out,
    });
    return outcome.passed;
  } finally {
    await platform.stop();
  }
}
