import { PlayerProgressEvent, PlayReport, RenditionSummary, SteeringReport, SwitchRecord } from './play-report';

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function kbps(value: number): string {
  return value >= 10_000 ? `${(value / 1000).toFixed(1)} Mbps` : `${value} kbps`;
}

function rendition(summary: RenditionSummary): string {
  return `${summary.height}p ${kbps(summary.bitrateKbps)}`;
}

function steeringLines(steering: SteeringReport): string[] {
  const sources = steering.sources.map((source) =>
    source.tier === 'appliance'
      ? `  ${source.rank}. appliance ${source.applianceId} (cluster ${source.clusterId}, matched by ${source.matchedBy === 'prefix' ? 'client IP prefix' : 'region'})`
      : `  ${source.rank}. origin tier`,
  );
  const fleet = steering.fleetAgeSeconds === undefined ? '' : `, fleet view ${steering.fleetAgeSeconds} s old`;
  return [`Steering${steering.degraded ? ' (DEGRADED: fleet view unavailable or stale)' : ''}${fleet}:`, ...sources];
}

function switchLine(record: SwitchRecord): string {
  return `  at ${record.atMediaSeconds.toFixed(1)} s: ${rendition(record.from)} -> ${rendition(record.to)} (${record.reason}: estimate ${kbps(record.estimateKbps)}, buffer ${record.bufferSeconds.toFixed(1)} s)`;
}

/** The play as a few lines a person reads: where it played from and why, how it started, adapted and ended. */
export function formatReport(report: PlayReport): string {
  const outcome = report.completed ? 'completed' : 'FAILED';
  const lines = [`Play of ${report.titleId} (${report.protocol.toUpperCase()}${report.codec ? `, ${report.codec}` : ''}, speed ${report.speed}): ${outcome}`];
  lines.push(
    `Regions: ${report.regionsTried.map((attempt) => `${attempt.region} ${attempt.outcome}${attempt.reason ? ` (${attempt.reason})` : ''} in ${attempt.ms} ms`).join('; ')}`,
  );
  if (report.steering) {
    lines.push(...steeringLines(report.steering));
  }
  if (report.protection) {
    const { protection } = report;
    lines.push(
      `Protection: ${protection.scheme}, ${protection.keySystem}: ${protection.keysGranted.length} key(s) licensed in ${protection.licenseRequests} request(s); ` +
        `first video segment ${protection.firstSegmentDecrypted ? 'decrypted' : 'NOT decrypted'} (${protection.decryption})`,
    );
  }
  if (report.timeToFirstSegmentMs !== undefined) {
    lines.push(`Time to first segment: ${report.timeToFirstSegmentMs} ms (/play ${report.playRequestMs} ms)`);
  }
  lines.push(`Switches: ${report.switches.length}`, ...report.switches.map(switchLine));
  if (report.failovers.length > 0) {
    lines.push(
      `Failovers: ${report.failovers.length}`,
      ...report.failovers.map((failover) => `  at ${failover.track} segment ${failover.atSegment}: ${failover.from} -> ${failover.to} (${failover.reason})`),
    );
  }
  const bySource = new Map<string, number>();
  for (const segment of report.segments) {
    bySource.set(segment.source, (bySource.get(segment.source) ?? 0) + 1);
  }
  const bytes = report.segments.reduce((sum, segment) => sum + segment.bytes, 0);
  const perSource = [...bySource].map(([source, count]) => `${source} ${count}`).join(', ');
  lines.push(
    `Segments: ${report.segments.length} (${(bytes / 1_000_000).toFixed(2)} MB${perSource ? ` from ${perSource}` : ''})`,
    `Throughput: mean ${kbps(report.throughput.meanKbps)}${report.throughput.estimateKbps === undefined ? '' : `, last estimate ${kbps(report.throughput.estimateKbps)}`}`,
    `Rebuffers: ${report.rebuffers.count}${report.rebuffers.count > 0 ? `, ${report.rebuffers.totalMs} ms in all` : ''}`,
    `Telemetry: ${report.telemetry.sent} event(s) sent, ${report.telemetry.failed} failed, ${report.telemetry.rejected} rejected`,
    `Total: ${report.mediaSecondsPlayed.toFixed(1)} s of media in ${seconds(report.totalWallMs)}`,
  );
  lines.push(...report.errors.map((error) => `Error: ${error}`));
  return `${lines.join('\n')}\n`;
}

/** One progress line for an event, or undefined for those not worth a line. */
export function formatProgress(event: PlayerProgressEvent): string | undefined {
  switch (event.type) {
    case 'region-down':
      return `region ${event.region} is down (${event.reason}); trying the next`;
    case 'play-granted': {
      const first = event.steering.sources[0];
      const steeredTo = first?.tier === 'appliance' ? `appliance ${first.applianceId} (matched by ${first.matchedBy})` : 'the origin tier';
      return `play granted by ${event.region} in ${event.playRequestMs} ms: ${event.codec}, ${event.steering.sources.length} source(s), best ${steeredTo}${event.steering.degraded ? ', steering degraded' : ''}`;
    }
    case 'license-granted':
      return `ClearKey license from ${event.region}: key ${event.kid} (${event.track})`;
    case 'first-segment':
      return `playing after ${event.timeToFirstSegmentMs} ms at ${rendition(event.rendition)} from ${event.source}`;
    case 'segment':
      return `${event.segment.track} segment ${event.segment.index} ${event.segment.track === 'video' ? `${event.segment.height}p ` : ''}from ${event.segment.source}: ${event.segment.bytes} bytes in ${Math.round(event.segment.ms)} ms, buffer ${event.bufferSeconds.toFixed(1)} s`;
    case 'switch':
      return `switch${switchLine(event.switch).slice(1)}`;
    case 'rebuffer':
      return `rebuffer at ${event.rebuffer.atMediaSeconds.toFixed(1)} s for ${event.rebuffer.ms} ms`;
    case 'failover':
      return `failover at ${event.failover.track} segment ${event.failover.atSegment}: ${event.failover.from} -> ${event.failover.to} (${event.failover.reason})`;
    case 'telemetry-failed':
      return `telemetry: ${event.events} event(s) not delivered (${event.reason})`;
    case 'done':
      return undefined;
  }
}
