import { CatalogTitle, isPlayable, publicView } from '../catalog/catalog';
import { CatalogStore } from '../catalog/catalog-store';
import { ViewerStore } from '../playback/viewer-store';
import { sharedDocumentClient } from '../shared/dynamodb';
import { requireEnv } from '../shared/env';
import { httpHandler, json, viewerAccountId } from '../shared/http';
import { lambdaEntry } from '../shared/lambda-entry';
import { logger } from '../shared/powertools';
import { DemandStore, TitleDemand } from '../telemetry/demand-store';
import { utcDay } from '../telemetry/telemetry';

const ROW_LENGTH = 10;
const DAY_MS = 24 * 3600 * 1000;

export interface HomeDependencies {
  readonly catalog: Pick<CatalogStore, 'get'>;
  readonly viewers: Pick<ViewerStore, 'continueWatching'>;
  readonly demand: Pick<DemandStore, 'topTitlesInRegion'>;
  readonly region: string;
  readonly nowMs: () => number;
  /** How long the region's top titles are reused before being read again. */
  readonly topTitlesCacheMs: number;
}

interface Row {
  readonly id: string;
  readonly heading: string;
  readonly items: unknown[];
}

/**
 * `GET /home`: rows of titles for the viewer. Each row is built on its own; a row that fails is
 * left out and named in `unavailableRows`, and the page still answers. This function is not on
 * the play path: a failure here cannot affect `/play`.
 */
export function createHomeHandler(deps: HomeDependencies) {
  let topCache: { atMs: number; titles: TitleDemand[] } | undefined;

  async function topTitles(): Promise<TitleDemand[]> {
    const now = deps.nowMs();
    if (topCache && now - topCache.atMs < deps.topTitlesCacheMs) {
      return topCache.titles;
    }
    const [today, yesterday] = await Promise.all([
      deps.demand.topTitlesInRegion(utcDay(now), deps.region, ROW_LENGTH),
      deps.demand.topTitlesInRegion(utcDay(now - DAY_MS), deps.region, ROW_LENGTH),
    ]);
    const starts = new Map<string, number>();
    for (const { titleId, starts: count } of [...today, ...yesterday]) {
      starts.set(titleId, (starts.get(titleId) ?? 0) + count);
    }
    const titles = [...starts.entries()]
      .map(([titleId, count]) => ({ titleId, starts: count }))
      .sort((a, b) => b.starts - a.starts || a.titleId.localeCompare(b.titleId));
    topCache = { atMs: now, titles };
    return titles;
  }

  async function playable(titleIds: readonly string[]): Promise<CatalogTitle[]> {
    const titles = await Promise.all(titleIds.map((id) => deps.catalog.get(id)));
    const now = deps.nowMs();
    return titles.filter((title): title is CatalogTitle => title !== undefined && isPlayable(title, now));
  }

  const rows: Record<string, (accountId: string) => Promise<Row>> = {
    'continue-watching': async (accountId) => {
      const positions = await deps.viewers.continueWatching(accountId, ROW_LENGTH);
      const titles = new Map((await playable(positions.map((p) => p.titleId))).map((t) => [t.titleId, t]));
      return {
        id: 'continue-watching',
        heading: 'Continue watching',
        items: positions
          .filter((p) => titles.has(p.titleId))
          .map((p) => ({ ...publicView(titles.get(p.titleId)!), positionSeconds: p.positionSeconds })),
      };
    },
    'top-in-region': async () => {
      const top = await topTitles();
      const titles = await playable(top.map((t) => t.titleId));
      return { id: 'top-in-region', heading: 'Top titles near you', items: titles.slice(0, ROW_LENGTH).map(publicView) };
    },
  };

  return httpHandler(async (event) => {
    const accountId = viewerAccountId(event);
    const names = Object.keys(rows);
    const settled = await Promise.allSettled(names.map((name) => rows[name](accountId)));
    const built: Row[] = [];
    const unavailableRows: string[] = [];
    settled.forEach((result, i) => {
      if (result.status === 'fulfilled') {
        built.push(result.value);
      } else {
        unavailableRows.push(names[i]);
        logger.warn('home row failed', { row: names[i], error: result.reason as Error });
      }
    });
    return json(200, { rows: built.filter((row) => row.items.length > 0), unavailableRows });
  });
}

export const handler = lambdaEntry(() => {
  const table = requireEnv('CONTROL_TABLE_NAME');
  const client = sharedDocumentClient();
  return createHomeHandler({
    catalog: new CatalogStore(client, table),
    viewers: new ViewerStore(client, table),
    demand: new DemandStore(client, table),
    region: requireEnv('AWS_REGION'),
    nowMs: Date.now,
    topTitlesCacheMs: 60_000,
  });
});
