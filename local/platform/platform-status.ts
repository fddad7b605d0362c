import * as fs from 'node:fs';
import * as path from 'node:path';
import { CatalogStore } from '../../lambda/catalog/catalog-store';
import { FleetStore } from '../../lambda/fleet/fleet-store';
import { DEFAULT_STEERING_POLICY } from '../../lambda/playback/steering';
import { NodeStore } from '../../appliance-image/agent/src/store';
import type { ApplianceStatus, PlatformStatus, RegionStatus } from '../web/console-server';
import { localDocumentClient } from './operations';
import { PlatformState } from './platform-state';

/** Bytes nginx served, summed from its JSON access log as it grows. */
class AccessLogTally {
  private offset = 0;
  private bytes = 0;
  private rest = '';

  constructor(private readonly file: string) {}

  read(): number {
    if (!fs.existsSync(this.file)) {
      return this.bytes;
    }
    const size = fs.statSync(this.file).size;
    if (size < this.offset) {
      this.offset = 0;
      this.bytes = 0;
      this.rest = '';
    }
    if (size > this.offset) {
      const fd = fs.openSync(this.file, 'r');
      const chunk = Buffer.alloc(size - this.offset);
      fs.readSync(fd, chunk, 0, chunk.length, this.offset);
      fs.closeSync(fd);
      this.offset = size;
      const lines = (this.rest + chunk.toString('utf8')).split('\n');
      this.rest = lines.pop() ?? '';
      for (const line of lines) {
        const bytes = Number(/"bytes":(\d+)/.exec(line)?.[1] ?? 0);
        this.bytes += bytes;
      }
    }
    return this.bytes;
  }
}

async function probe(url: string): Promise<{ ok: boolean; detail: string }> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    const text = await response.text();
    return { ok: response.ok, detail: response.ok ? 'healthy' : `${response.status}: ${text.slice(0, 200)}` };
  } catch (error) {
    return { ok: false, detail: `unreachable: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}` };
  }
}

/**
 * What the web page shows of the running platform: each region's `/health`, stream starts per
 * second and play failures (from the handlers' metrics, as CloudWatch would read them), each appliance as the control plane sees it (last report, titles held) and as it is
 * (edge answering, bytes served, last fill), and the catalog.
 */
export function platformStatusSource(state: PlatformState, steadyState: (region: string) => Pick<RegionStatus, 'streamStartsPerSecond' | 'playFailuresLastMinute'>): () => Promise<PlatformStatus> {
  const documents = localDocumentClient(state);
  const fleet = new FleetStore(documents, state.tableName);
  const catalog = new CatalogStore(documents, state.tableName);
  const tallies = new Map(state.appliances.map((appliance) => [appliance.applianceId, new AccessLogTally(appliance.accessLog)]));
  return async () => {
    const [regions, registry, page] = await Promise.all([
      Promise.all(
        state.regions.map(async (region): Promise<RegionStatus> => {
          const health = await probe(`${region.url}/health`);
          return { name: `${region.label} ${region.name}`, apiUrl: region.url, healthy: health.ok, detail: health.detail, ...steadyState(region.name) };
        }),
      ),
      fleet.loadFleet().catch(() => []),
      catalog.list(50).catch(() => ({ titles: [] })),
    ]);
    const appliances = await Promise.all(
      state.appliances.map(async (appliance): Promise<ApplianceStatus> => {
        const registered = registry.find((entry) => entry.applianceId === appliance.applianceId);
        const edge = await probe(`${appliance.baseUrl}/health`);
        const reportedRecently = registered?.reportedAtMs !== undefined && Date.now() - registered.reportedAtMs < DEFAULT_STEERING_POLICY.maxReportAgeMs;
        const lastFill = NodeStore.readState(path.join(path.dirname(appliance.configFile), 'state')).lastFill;
        return {
          applianceId: appliance.applianceId,
          clusterId: appliance.clusterId,
          region: appliance.region,
          baseUrl: appliance.baseUrl,
          healthy: edge.ok && reportedRecently,
          titlesHeld: registered?.holdings?.count ?? 0,
          bytesServed: tallies.get(appliance.applianceId)!.read(),
          lastFill: lastFill ? { at: lastFill.finishedAt, result: lastFill.result } : undefined,
        };
      }),
    );
    return { regions, appliances, titles: page.titles.map((title) => ({ titleId: title.titleId, name: title.name })) };
  };
}
