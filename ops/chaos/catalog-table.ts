import { ChaosExperiment, ChaosFault } from '../../lib/chaos/catalog';

/** What a fault does, in a few words for a table cell. */
export function faultSummary(fault: ChaosFault): string {
  switch (fault.kind) {
    case 'terminate-appliance':
      return `terminate ${fault.count} appliance instance${fault.count === 1 ? '' : 's'}`;
    case 'function-latency':
      return `+${fault.delayMs} ms on ${fault.invocationPercent}% of function invocations`;
    case 'function-errors':
      return `fail ${fault.invocationPercent}% of function invocations`;
    case 'appliance-disk-latency':
      return `+${fault.latencyMs} ms on ${fault.ioPercent}% of one appliance's disk I/O`;
    case 'region-evacuation':
      return `the region's API answers ${fault.statusCode}, its table replication paused`;
  }
}

/** The catalog as an aligned text table, one experiment a row, and how to run one. */
export function formatCatalog(experiments: readonly ChaosExperiment[]): string {
  const header = ['EXPERIMENT', 'FAULT', 'BLAST RADIUS', 'DURATION', 'SPS DIP ALLOWED'];
  const rows = experiments.map((experiment) => [
    experiment.name,
    faultSummary(experiment.fault),
    experiment.blastRadius,
    `${experiment.durationMinutes} min`,
    `${experiment.maxSpsDipPercent}%${experiment.steadyState === 'global' ? ' (both regions)' : ''}`,
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: readonly string[]) => cells.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd();
  return [
    line(header),
    ...rows.map(line),
    '',
    'Run one in a region of an environment whose chaos is leashed or on:',
    '  npm run chaos -- run EXPERIMENT --env NAME --region R [--dry-run]',
  ].join('\n');
}
