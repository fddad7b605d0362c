import * as fs from 'node:fs';
import * as path from 'node:path';
import { bodyExcerpt, RegionTarget } from './api-client';
import { ClipUploader, makeSmokeClip, SMOKE_CLIP } from './clip-upload';
import { newestTitle, TitleRecordReader, titlePlayable, waitForTitle } from './title';

export interface TitleStepContext {
  readonly region: RegionTarget;
  readonly token: string;
  readonly env: string;
  /** `--title`: play this one, after checking the API lets viewers play it. */
  readonly titleId?: string;
  /** How long an encode of the smoke clip may take. */
  readonly titleTimeoutMs: number;
  /** Called only when the catalog is empty: making one may need credentials. */
  readonly uploader: () => Promise<ClipUploader>;
  /** @default - the API alone tells availability */
  readonly readRecord?: TitleRecordReader;
  /** Where the clip is made; removed after the upload. */
  readonly scratchDir: string;
  readonly note: (line: string) => void;
  /** @default 10 s */
  readonly pollEveryMs?: number;
  /** @default 30 s */
  readonly progressEveryMs?: number;
}

export interface ChosenTitle {
  readonly titleId: string;
  readonly how: 'given' | 'newest' | 'uploaded';
  readonly detail: string;
}

/**
 * The title to play: the one given, else the catalog's newest, else a fresh 10 s clip uploaded to
 * the source bucket and waited for until the encoding workflow makes it available.
 */
export async function chooseTitle(context: TitleStepContext): Promise<ChosenTitle> {
  const { region, token } = context;
  if (context.titleId) {
    const answer = await titlePlayable(region, token, context.titleId);
    if (!answer.playable) {
      throw new Error(`--title ${context.titleId} is not playable in ${region.name}: GET /titles/${context.titleId} answered ${answer.status} ${bodyExcerpt(answer.body)}`);
    }
    return { titleId: context.titleId, how: 'given', detail: `${context.titleId} (given with --title)` };
  }
  const newest = await newestTitle(region, token);
  if (newest) {
    return { titleId: newest.titleId, how: 'newest', detail: `${newest.titleId} '${newest.name}', the newest available (since ${newest.availableFrom})` };
  }
  context.note(`the catalog is empty: encoding a ${SMOKE_CLIP.seconds} s clip`);
  const uploader = await context.uploader();
  const directory = fs.mkdtempSync(path.join(context.scratchDir, 'nearstream-smoke-clip-'));
  let uploaded;
  try {
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const clip = await makeSmokeClip(directory, `nearstream-smoke-${context.env}-${stamp}`);
    uploaded = await uploader.upload(clip);
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
  context.note(`uploaded ${uploaded.location}: waiting for title ${uploaded.titleId} (up to ${duration(context.titleTimeoutMs)})`);
  const startedMs = Date.now();
  await waitForTitle(region, token, uploaded.titleId, {
    timeoutMs: context.titleTimeoutMs,
    log: context.note,
    readRecord: context.readRecord,
    pollEveryMs: context.pollEveryMs,
    progressEveryMs: context.progressEveryMs,
  });
  return { titleId: uploaded.titleId, how: 'uploaded', detail: `${uploaded.titleId}, encoded from ${uploaded.location} in ${Math.round((Date.now() - startedMs) / 1000)} s` };
}

function duration(ms: number): string {
  return ms >= 60_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`;
}
