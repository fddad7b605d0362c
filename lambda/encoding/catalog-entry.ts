import { CatalogTitle, Codec, CodecManifests, EncodingRecord, Rendition } from '../catalog/catalog';
import { InventoryRecord } from '../shared/title-inventory';
import { JobKind, JOBS_BY_MODE, LadderMode, rungsFor } from './ladder';

/** MediaConvert's per-minute price of one output, by codec and resolution class, in USD. */
export type RateTable = Readonly<Record<Codec, Readonly<Record<ResolutionClass, number>>>>;
export type ResolutionClass = 'sd' | 'hd' | 'uhd';

export function resolutionClass(height: number): ResolutionClass {
  return height < 720 ? 'sd' : height <= 1080 ? 'hd' : 'uhd';
}

/** What one job produced for one codec: its manifests and the renditions behind them. */
export interface CodecOutputs {
  readonly codec: Codec;
  readonly manifests: CodecManifests;
  readonly renditions: readonly Rendition[];
  readonly durationSeconds: number;
}

/** Minutes x renditions x rate: the estimate the catalog shows for a title's encoding. */
export function estimateCostUsd(renditions: readonly Pick<Rendition, 'codec' | 'height'>[], durationSeconds: number, rates: RateTable): number {
  const minutes = durationSeconds / 60;
  const cost = renditions.reduce((sum, rendition) => sum + minutes * rates[rendition.codec][resolutionClass(rendition.height)], 0);
  return Math.round(cost * 10_000) / 10_000;
}

/** Bytes the reference fixed ladder would take for these codecs at this duration and source height. */
export function referenceBytes(codecs: readonly Codec[], durationSeconds: number, sourceHeight?: number): number {
  return Math.round(
    codecs.reduce(
      (sum, codec) => sum + rungsFor(codec, sourceHeight).reduce((bits, rung) => bits + (rung.maxBitrate * durationSeconds) / 8, 0),
      0,
    ),
  );
}

/** The title as ingest creates it: processing, with the jobs its ladder mode needs still to run. */
export function processingTitle(
  titleId: string,
  source: EncodingRecord['source'],
  ladder: LadderMode,
  nowIso: string,
  series?: CatalogTitle['series'],
  protection?: CatalogTitle['protection'],
): CatalogTitle {
  const base = source.key.split('/').pop() ?? source.key;
  return {
    titleId,
    name: base.replace(/\.[^.]+$/, '') || titleId,
    durationSeconds: 0,
    status: 'processing',
    availableFrom: nowIso,
    renditions: [],
    manifests: {},
    encoding: { ladder, source, jobs: {} },
    ...(series === undefined ? {} : { series }),
    ...(protection === undefined ? {} : { protection }),
  };
}

/**
 * Whether ingest has nothing left to do for a title: it already finished (available or failed), or
 * every job its ladder needs was submitted. A replayed upload event for such a title is a duplicate.
 */
export function needsNoMoreJobs(title: CatalogTitle): boolean {
  if (title.status !== 'processing') {
    return true;
  }
  const encoding = title.encoding!;
  return JOBS_BY_MODE[encoding.ladder].every((kind) => encoding.jobs[kind] !== undefined);
}

/** Records a job as submitted; unchanged if it already was. */
export function withJobSubmitted(title: CatalogTitle, kind: JobKind, jobId: string): CatalogTitle | undefined {
  const encoding = title.encoding!;
  if (encoding.jobs[kind]) {
    return undefined;
  }
  return { ...title, encoding: { ...encoding, jobs: { ...encoding.jobs, [kind]: { jobId, status: 'SUBMITTED' } } } };
}

/** Whether every job of the title's ladder mode has completed. */
export function allJobsComplete(title: CatalogTitle): boolean {
  const encoding = title.encoding!;
  return JOBS_BY_MODE[encoding.ladder].every((job) => encoding.jobs[job]?.status === 'COMPLETE');
}

/**
 * Whether the title waits for its inventory: all its jobs completed, and it is neither failed nor
 * available yet. Only then are its objects hashed.
 */
export function inventoryDue(title: CatalogTitle): boolean {
  return title.status === 'processing' && allJobsComplete(title);
}

/**
 * Folds one completed job into the title. Once every job of its ladder mode is complete, the title
 * records its savings against the reference ladder and its estimated cost, and waits for its
 * inventory (`withInventory`) to become available. A title that already failed stays failed.
 */
export function withJobCompleted(title: CatalogTitle, kind: JobKind, jobId: string, outputs: readonly CodecOutputs[], rates: RateTable): CatalogTitle {
  const encoding = title.encoding!;
  const codecs = new Set(outputs.map((output) => output.codec));
  const renditions = [
    ...title.renditions.filter((rendition) => !codecs.has(rendition.codec)),
    ...outputs.flatMap((output) => output.renditions),
  ].sort((a, b) => a.codec.localeCompare(b.codec) || a.bitrateKbps - b.bitrateKbps);
  const manifests = { ...title.manifests, ...Object.fromEntries(outputs.map((output) => [output.codec, output.manifests])) };
  const durationSeconds = Math.max(title.durationSeconds, ...outputs.map((output) => output.durationSeconds));
  const jobs = { ...encoding.jobs, [kind]: { jobId, status: 'COMPLETE' as const } };
  const done = JOBS_BY_MODE[encoding.ladder].every((job) => jobs[job]?.status === 'COMPLETE');
  const updated: CatalogTitle = { ...title, renditions, manifests, durationSeconds, encoding: { ...encoding, jobs } };
  if (!done || title.status === 'failed') {
    return updated;
  }
  const reference = referenceBytes([...new Set(renditions.map((r) => r.codec))], durationSeconds, encoding.sourceHeight);
  const produced = renditions.reduce((sum, rendition) => sum + rendition.bytes, 0);
  return {
    ...updated,
    encoding: {
      ...updated.encoding!,
      referenceBytes: reference,
      producedBytes: produced,
      savingsPercent: reference > 0 ? Math.round((1 - produced / reference) * 1000) / 10 : 0,
      estimatedCostUsd: estimateCostUsd(renditions, durationSeconds, rates),
    },
  };
}

/**
 * Records the title's inventory. A title waiting for it becomes available (eligible for fill) from
 * `nowIso`; an available one (its inventory rebuilt, or built for the first time for a title that
 * predates inventories) keeps its availability; a failed one is left as it is. Refuses a title
 * with jobs still running: its objects are not all there yet.
 */
export function withInventory(title: CatalogTitle, inventory: InventoryRecord, nowIso: string): CatalogTitle | undefined {
  if (title.status === 'failed') {
    return undefined;
  }
  if (!title.encoding) {
    throw new Error(`title ${title.titleId} has no encoding record to keep its inventory in`);
  }
  const encoding = { ...title.encoding, inventory };
  if (title.status === 'available') {
    return { ...title, encoding };
  }
  if (!allJobsComplete(title)) {
    const pending = JOBS_BY_MODE[encoding.ladder].filter((job) => encoding.jobs[job]?.status !== 'COMPLETE');
    throw new Error(`title ${title.titleId} still waits for its ${pending.join(' and ')} job; an inventory now would miss their outputs`);
  }
  return { ...title, status: 'available', availableFrom: nowIso, encoding };
}

/** Marks the title failed with the reason; the other jobs' results no longer make it available. */
export function withFailure(title: CatalogTitle, reason: string, kind?: JobKind, jobId?: string): CatalogTitle {
  const encoding = title.encoding!;
  const jobs = kind ? { ...encoding.jobs, [kind]: { jobId, status: 'ERROR' as const } } : encoding.jobs;
  return { ...title, status: 'failed', encoding: { ...encoding, jobs, failureReason: reason } };
}
