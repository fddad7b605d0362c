import type { CatalogTitle } from '../../lambda/catalog/catalog';
import { bodyExcerpt, RegionTarget, viewerGet } from './api-client';
import { sleep } from './retry';

/** What `GET /titles` lists of a title (see `publicView` in lambda/catalog/catalog.ts). */
export interface ListedTitle {
  readonly titleId: string;
  readonly name: string;
  readonly durationSeconds: number;
  readonly availableFrom: string;
}

/** Pages of 100 titles read at most when looking for the newest: enough for any test catalog. */
const MAX_CATALOG_PAGES = 20;

/**
 * The newest playable title in the catalog (latest `availableFrom`), or undefined when the catalog
 * is empty. Throws naming the status and body if the API does not list titles.
 */
export async function newestTitle(region: RegionTarget, token: string): Promise<ListedTitle | undefined> {
  let newest: ListedTitle | undefined;
  let cursor: string | undefined;
  for (let page = 0; page < MAX_CATALOG_PAGES; page++) {
    const path = `/titles?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const answer = await viewerGet(region, path, token);
    if (answer.status !== 200) {
      throw new Error(`GET ${path} in ${region.name} answered ${answer.status}: ${bodyExcerpt(answer.body)}`);
    }
    const listing = JSON.parse(answer.body) as { titles?: ListedTitle[]; nextCursor?: string };
    for (const title of listing.titles ?? []) {
      if (!newest || Date.parse(title.availableFrom) > Date.parse(newest.availableFrom)) {
        newest = title;
      }
    }
    cursor = listing.nextCursor;
    if (!cursor) {
      break;
    }
  }
  return newest;
}

/** Whether the API lets viewers play the title now: `GET /titles/{id}` answers 200. */
export async function titlePlayable(region: RegionTarget, token: string, titleId: string): Promise<{ playable: boolean; status: number; body: string }> {
  const answer = await viewerGet(region, `/titles/${encodeURIComponent(titleId)}`, token);
  if (answer.status !== 200 && answer.status !== 404) {
    throw new Error(`GET /titles/${titleId} in ${region.name} answered ${answer.status}: ${bodyExcerpt(answer.body)}`);
  }
  return { playable: answer.status === 200, status: answer.status, body: answer.body };
}

/** The catalog entry as the encoding workflow writes it, for progress and failure; undefined when not (yet) there. */
export type TitleRecordReader = (titleId: string) => Promise<Pick<CatalogTitle, 'status' | 'encoding'> | undefined>;

export interface WaitForTitleOptions {
  readonly timeoutMs: number;
  /** @default 30 s */
  readonly progressEveryMs?: number;
  /** @default 10 s */
  readonly pollEveryMs?: number;
  readonly log: (line: string) => void;
  /**
   * Reads the title's catalog entry, so that a failed encode ends the wait at once with its reason
   * instead of after the timeout.
   * @default - the API alone: a failed title shows as not yet available
   */
  readonly readRecord?: TitleRecordReader;
}

/**
 * Polls until the title is playable through the API, noting progress every 30 s. Throws when the
 * encoding workflow failed the title, or when the timeout passes.
 */
export async function waitForTitle(region: RegionTarget, token: string, titleId: string, options: WaitForTitleOptions): Promise<void> {
  const startedMs = Date.now();
  const progressEveryMs = options.progressEveryMs ?? 30_000;
  const pollEveryMs = options.pollEveryMs ?? 10_000;
  let nextProgressMs = startedMs + progressEveryMs;
  let readRecord = options.readRecord;
  for (;;) {
    if ((await titlePlayable(region, token, titleId)).playable) {
      return;
    }
    let record: Awaited<ReturnType<TitleRecordReader>>;
    try {
      record = await readRecord?.(titleId);
    } catch (error) {
      // The catalog entry only speeds up a failure; without read access the API alone decides.
      options.log(`cannot read the catalog entry of ${titleId} (${(error as Error).message}): waiting on the API alone`);
      readRecord = undefined;
    }
    const state = readRecord ? describeRecord(record) : 'not playable through the API yet';
    if (record?.status === 'failed') {
      throw new Error(`title ${titleId} failed to encode: ${record.encoding?.failureReason ?? 'no reason recorded'}`);
    }
    const elapsedMs = Date.now() - startedMs;
    if (elapsedMs >= options.timeoutMs) {
      throw new Error(`title ${titleId} was not available after ${Math.round(elapsedMs / 1000)} s (--title-timeout): ${state}`);
    }
    if (Date.now() >= nextProgressMs) {
      options.log(`waiting for ${titleId}: ${Math.round(elapsedMs / 1000)} s so far, ${state}`);
      nextProgressMs += progressEveryMs;
    }
    await sleep(Math.min(pollEveryMs, Math.max(0, options.timeoutMs - elapsedMs)));
  }
}

function describeRecord(record: Awaited<ReturnType<TitleRecordReader>>): string {
  if (!record) {
    return 'not in the catalog yet (the upload event may not have reached the encoding workflow)';
  }
  const jobs = Object.entries(record.encoding?.jobs ?? {}).map(([kind, job]) => `${kind} ${job.status}`);
  return `${record.status}${jobs.length > 0 ? ` (jobs: ${jobs.join(', ')})` : ''}`;
}
