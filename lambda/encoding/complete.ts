import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { CODECS, Codec, Rendition } from '../catalog/catalog';
import { CatalogStore } from '../catalog/catalog-store';
import { sharedDocumentClient } from '../shared/dynamodb';
import { requireEnv } from '../shared/env';
import { lambdaEntry } from '../shared/lambda-entry';
import { contentKeyIdsForTitle } from '../keys/content-key-store';
import { CodecOutputs, inventoryDue, RateTable, withJobCompleted } from './catalog-entry';
import { failTitle } from './failure-notice';
import { JobKind } from './ladder';
import type { KeyGroup } from '../shared/content-protection';

/** The part of MediaConvert's "Job State Change" event the completion step reads. */
export interface JobStateChangeEvent {
  readonly detail: {
    readonly status: string;
    readonly jobId: string;
    readonly userMetadata?: Record<string, string>;
    readonly errorCode?: number;
    readonly errorMessage?: string;
    readonly outputGroupDetails?: readonly {
      readonly playlistFilePaths?: readonly string[];
      readonly outputDetails?: readonly {
        readonly outputFilePaths?: readonly string[];
        readonly durationInMs?: number;
        readonly videoDetails?: { readonly widthInPx?: number; readonly heightInPx?: number; readonly averageBitrate?: number };
      }[];
    }[];
  };
}

export interface CompleteDependencies {
  readonly catalog: CatalogStore;
  readonly s3: S3Client;
  readonly sns: SNSClient;
  readonly topicArn: string;
  readonly rates: RateTable;
  /**
   * The key ids an encrypted title's content is under (the key provider's store), listed on the
   * title when a job completes.
   * @default - no key provider: no title is encrypted
   */
  readonly contentKeys?: { keyIdsForTitle(titleId: string): Promise<readonly { group: KeyGroup; kid: string }[]> };
}

/** What the completion state machine branches on: `inventoryDue` once the title's last job is in. */
export interface CompleteResult {
  readonly titleId: string;
  readonly status: string;
  readonly inventoryDue: boolean;
}

/**
 * Turns MediaConvert's verdict into the catalog: COMPLETE folds the job's renditions (sizes summed
 * from what actually landed in the origin) into the title; once all its jobs are done its
 * inventory is due, and the title becomes available only when that is written. ERROR fails the
 * title and tells the operators' topic. A replayed COMPLETE of a title still waiting for its
 * inventory reports it due again, so a lost inventory build is retried.
 */
export function createCompleteHandler(deps: CompleteDependencies) {
  return async (event: JobStateChangeEvent): Promise<CompleteResult> => {
    const { detail } = event;
    const titleId = detail.userMetadata?.nearstreamTitleId;
    const kind = detail.userMetadata?.nearstreamJob as JobKind | undefined;
    if (!titleId || !kind) {
      throw new Error(`MediaConvert job ${detail.jobId} carries no nearstreamTitleId/nearstreamJob user metadata`);
    }
    if (detail.status === 'ERROR') {
      await failTitle(deps.catalog, deps.sns, deps.topicArn, {
        titleId,
        reason: `MediaConvert job ${detail.jobId} (${kind}) failed: ${detail.errorCode ?? ''} ${detail.errorMessage ?? 'no message'}`.trim(),
        job: { kind, jobId: detail.jobId },
      });
      return { titleId, status: 'failed', inventoryDue: false };
    }
    const outputs = await Promise.all((detail.outputGroupDetails ?? []).map((group) => codecOutputs(deps.s3, group)));
    // The key provider stored every key MediaConvert asked for before the job wrote a segment.
    const keys = deps.contentKeys ? await deps.contentKeys.keyIdsForTitle(titleId) : [];
    const title = await deps.catalog.modify(titleId, (current) => {
      const completed = withJobCompleted(current, kind, detail.jobId, outputs, deps.rates);
      return completed.protection ? { ...completed, protection: { ...completed.protection, keys } } : completed;
    });
    if (!title) {
      throw new Error(`MediaConvert job ${detail.jobId} completed for unknown title ${titleId}`);
    }
    return { titleId, status: title.status, inventoryDue: inventoryDue(title) };
  };
}

type GroupDetail = NonNullable<JobStateChangeEvent['detail']['outputGroupDetails']>[number];

async function codecOutputs(s3: S3Client, group: GroupDetail): Promise<CodecOutputs> {
  const playlists = (group.playlistFilePaths ?? []).map(parseS3Uri);
  const hls = playlists.find((p) => p.key.endsWith('.m3u8'));
  if (!hls) {
    throw new Error(`an output group wrote no HLS playlist: ${JSON.stringify(group.playlistFilePaths)}`);
  }
  const codec = hls.key.split('/').at(-2) as Codec;
  if (!CODECS.includes(codec)) {
    throw new Error(`output ${hls.key} is not under titles/<titleId>/<codec>/`);
  }
  const dash = playlists.find((p) => p.key.endsWith('.mpd'))?.key ?? hls.key.replace(/\.m3u8$/, '.mpd');
  let durationSeconds = 0;
  const renditions: Rendition[] = [];
  for (const output of group.outputDetails ?? []) {
    const seconds = (output.durationInMs ?? 0) / 1000;
    durationSeconds = Math.max(durationSeconds, seconds);
    const video = output.videoDetails;
    const file = output.outputFilePaths?.[0];
    if (!video?.heightInPx || !file) {
      continue;
    }
    const { bucket, key } = parseS3Uri(file);
    const bytes = await bytesUnder(s3, bucket, key.replace(/\.[^./]+$/, ''));
    renditions.push({
      codec,
      width: video.widthInPx ?? 0,
      height: video.heightInPx,
      bitrateKbps: Math.round(video.averageBitrate ? video.averageBitrate / 1000 : seconds > 0 ? (bytes * 8) / seconds / 1000 : 0),
      bytes,
    });
  }
  return { codec, manifests: { hls: hls.key, dash }, renditions, durationSeconds };
}

function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!match) {
    throw new Error(`'${uri}' is not an s3:// URI`);
  }
  return { bucket: match[1], key: match[2] };
}

/** Total size of every object whose key starts with `prefix`: a rendition's playlist, init and segments. */
async function bytesUnder(s3: S3Client, bucket: string, prefix: string): Promise<number> {
  let total = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    total += (page.Contents ?? []).reduce((sum, object) => sum + (object.Size ?? 0), 0);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return total;
}

export const handler = lambdaEntry(() =>
  createCompleteHandler({
    catalog: new CatalogStore(sharedDocumentClient(), requireEnv('CONTROL_TABLE_NAME')),
    s3: new S3Client({}),
    sns: new SNSClient({}),
    topicArn: requireEnv('FAILURE_TOPIC_ARN'),
    rates: JSON.parse(requireEnv('ENCODING_RATES_JSON')),
    // Lists key ids only, and never opens a key: no key wrapper, no KMS.
    contentKeys: { keyIdsForTitle: (titleId) => contentKeyIdsForTitle(sharedDocumentClient(), requireEnv('CONTROL_TABLE_NAME'), titleId) },
  }),
);
