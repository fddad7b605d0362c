import { CreateJobCommand, MediaConvertClient, ProbeCommand } from '@aws-sdk/client-mediaconvert';
import { HeadObjectCommand, HeadObjectCommandOutput, NotFound, S3Client } from '@aws-sdk/client-s3';
import { CatalogTitle } from '../catalog/catalog';
import { CatalogStore } from '../catalog/catalog-store';
import { sharedDocumentClient } from '../shared/dynamodb';
import { positiveIntegerEnv, requireEnv } from '../shared/env';
import { lambdaEntry } from '../shared/lambda-entry';
import { needsNoMoreJobs, processingTitle, withJobSubmitted } from './catalog-entry';
import { codecPrefix, JobKind, jobInput, JOBS_BY_MODE, jobSettings, LadderMode, MANIFEST_BASENAME, PROTECTION_SCHEME } from './ladder';
import type { DrmSystem } from '../shared/content-protection';
import { titleIdFor } from './title-id';

/** The part of EventBridge's S3 "Object Created" event ingest reads. */
export interface UploadEvent {
  readonly detail: {
    readonly bucket: { readonly name: string };
    readonly object: { readonly key: string; readonly size: number; readonly 'version-id'?: string };
  };
}

export type IngestResult =
  | { readonly outcome: 'submitted'; readonly titleId: string; readonly jobs: readonly JobKind[] }
  | { readonly outcome: 'duplicate'; readonly titleId: string }
  | { readonly outcome: 'rejected'; readonly titleId: string; readonly reason: string; readonly source: string };

export interface IngestSettings {
  readonly environment: string;
  readonly originBucket: string;
  readonly mediaConvertRoleArn: string;
  /** Job template name per job kind. */
  readonly templates: Readonly<Record<JobKind, string>>;
  readonly maxUploadBytes: number;
  readonly defaultLadder: LadderMode;
  /**
   * Content protection: titles are encrypted (cbcs) with keys from this SPEKE v2 key provider,
   * by default or when their upload asks (`PROTECTION_METADATA`).
   * @default - no key provider: every title is encoded in the clear, and an upload asking for protection is refused
   */
  readonly protection?: { readonly keyProviderUrl: string; readonly systems: readonly DrmSystem[]; readonly byDefault: boolean };
}

export interface IngestDependencies {
  readonly catalog: CatalogStore;
  readonly mediaConvert: MediaConvertClient;
  readonly s3: S3Client;
  readonly settings: IngestSettings;
  readonly nowIso: () => string;
}

/** Uploads may choose their ladder with this object metadata: `fixed` or `automated`. */
export const LADDER_METADATA = 'nearstream-ladder';
/** An episode's upload names its series with this object metadata, and its place in it with `EPISODE_METADATA`. */
export const SERIES_METADATA = 'nearstream-series';
/** An upload may ask for its title to be encrypted (`on`) or not (`off`), overriding the environment's default. */
export const PROTECTION_METADATA = 'nearstream-protection';
/** 1-based, counting on across seasons; only with `SERIES_METADATA`. */
export const EPISODE_METADATA = 'nearstream-episode';
const SERIES_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const MAX_EPISODE = 100_000;

/**
 * The series an upload's metadata names (both keys or neither), or why it cannot be used: fill
 * planning predicts an episode from the ones before it, so a wrong number would misplace it.
 */
export function seriesFromMetadata(metadata: Readonly<Record<string, string>> | undefined): { series?: CatalogTitle['series'] } | { problem: string } {
  const id = metadata?.[SERIES_METADATA];
  const episode = metadata?.[EPISODE_METADATA];
  if (id === undefined && episode === undefined) {
    return {};
  }
  if (id === undefined || episode === undefined) {
    return { problem: `object metadata ${SERIES_METADATA} and ${EPISODE_METADATA} go together (got only ${id === undefined ? EPISODE_METADATA : SERIES_METADATA})` };
  }
  if (!SERIES_ID.test(id)) {
    return { problem: `object metadata ${SERIES_METADATA} must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit (got '${id.slice(0, 140)}')` };
  }
  if (!/^[0-9]{1,6}$/.test(episode) || Number(episode) < 1 || Number(episode) > MAX_EPISODE) {
    return { problem: `object metadata ${EPISODE_METADATA} must be a whole number from 1 to ${MAX_EPISODE} (got '${episode.slice(0, 40)}')` };
  }
  return { series: { id, episode: Number(episode) } };
}

/**
 * The first step of the encoding workflow for one upload: refuse it if it is too large or not a
 * video, create its title, and submit the MediaConvert jobs its ladder needs. Safe to run again
 * for the same event: the title id comes from the object version, each job is recorded on the
 * title, and MediaConvert deduplicates a repeated submit by its client request token.
 */
export function createIngestHandler(deps: IngestDependencies) {
  const { settings } = deps;

  return async (event: UploadEvent): Promise<IngestResult> => {
    const bucket = event.detail.bucket.name;
    const versionId = event.detail.object['version-id'];
    const head = await headUpload(deps.s3, bucket, event.detail.object.key, versionId);
    if (!head) {
      const gone = `s3://${bucket}/${event.detail.object.key}`;
      return {
        outcome: 'rejected',
        titleId: titleIdFor(bucket, event.detail.object.key, versionId),
        reason: `${gone}${versionId ? ` (version ${versionId})` : ''} no longer exists: it was deleted before it could be encoded`,
        source: gone,
      };
    }
    const key = head.key;
    const titleId = titleIdFor(bucket, key, versionId);
    const sourceUri = `s3://${bucket}/${key}`;
    const size = event.detail.object.size;
    const reject = (reason: string): IngestResult => ({ outcome: 'rejected', titleId, reason, source: sourceUri });

    const requestedLadder = head.output.Metadata?.[LADDER_METADATA];
    const validLadder = requestedLadder === undefined || requestedLadder === 'fixed' || requestedLadder === 'automated';
    const ladder: LadderMode = validLadder && requestedLadder ? requestedLadder : settings.defaultLadder;
    const episode = seriesFromMetadata(head.output.Metadata);
    const protection = protectionFromMetadata(head.output.Metadata, settings.protection);
    const created = await deps.catalog.putIfAbsent(
      processingTitle(
        titleId,
        { bucket, key, versionId, bytes: size },
        ladder,
        deps.nowIso(),
        'series' in episode ? episode.series : undefined,
        protection === true ? { scheme: PROTECTION_SCHEME, keys: [], systems: settings.protection!.systems } : undefined,
      ),
    );
    const title = created ? undefined : await deps.catalog.get(titleId);
    if (title && needsNoMoreJobs(title)) {
      return { outcome: 'duplicate', titleId };
    }
    if (!validLadder) {
      return reject(`object metadata ${LADDER_METADATA} must be 'fixed' or 'automated' (got '${requestedLadder}')`);
    }
    if ('problem' in episode) {
      return reject(episode.problem);
    }
    if (typeof protection === 'string') {
      return reject(protection);
    }
    if (size > settings.maxUploadBytes) {
      return reject(`upload is ${size} bytes; the limit is ${settings.maxUploadBytes}`);
    }

    let sourceHeight: number | undefined;
    try {
      const probe = await deps.mediaConvert.send(new ProbeCommand({ InputFiles: [{ FileUrl: sourceUri }] }));
      const tracks = probe.ProbeResults?.[0]?.Container?.Tracks ?? [];
      const video = tracks.find((track) => track.TrackType === 'video');
      if (!video) {
        return reject(`${key} has no video track (found: ${tracks.map((t) => t.TrackType).join(', ') || 'nothing readable'})`);
      }
      sourceHeight = video.VideoProperties?.Height;
    } catch (error) {
      if ((error as { name?: string }).name === 'BadRequestException') {
        return reject(`${key} could not be read as media: ${(error as Error).message}`);
      }
      throw error;
    }

    const mode = title?.encoding?.ladder ?? ladder;
    // A replayed upload keeps the protection its title was created with.
    const encrypted = title ? title.protection !== undefined : protection === true;
    if (encrypted && !settings.protection) {
      return reject('the title is to be encrypted, but this environment no longer has a key provider');
    }
    const ladderProtection = encrypted ? { keyProviderUrl: settings.protection!.keyProviderUrl, resourceId: titleId, systems: settings.protection!.systems } : undefined;
    const submitted = new Set(Object.keys(title?.encoding?.jobs ?? {}));
    const kinds = JOBS_BY_MODE[mode].filter((kind) => !submitted.has(kind));
    for (const kind of kinds) {
      const { Job } = await deps.mediaConvert.send(
        new CreateJobCommand({
          Role: settings.mediaConvertRoleArn,
          JobTemplate: settings.templates[kind],
          ClientRequestToken: `${titleId}-${kind}`,
          StatusUpdateInterval: 'SECONDS_60',
          UserMetadata: { nearstreamEnvironment: settings.environment, nearstreamTitleId: titleId, nearstreamJob: kind },
          Settings: {
            Inputs: [jobInput(sourceUri)],
            ...jobSettings(kind, (codec) => `s3://${settings.originBucket}/${codecPrefix(titleId, codec)}${MANIFEST_BASENAME}`, sourceHeight, ladderProtection),
          },
        }),
      );
      await deps.catalog.modify(titleId, (current) =>
        withJobSubmitted({ ...current, encoding: { ...current.encoding!, sourceHeight } }, kind, Job?.Id ?? 'unknown'),
      );
    }
    return { outcome: 'submitted', titleId, jobs: kinds };
  };
}

/**
 * Whether an upload's title is encrypted: its `PROTECTION_METADATA` (`on` or `off`), else the
 * environment's default; or why that cannot be (a value other than on/off, or protection asked of
 * an environment without a key provider).
 */
export function protectionFromMetadata(metadata: Readonly<Record<string, string>> | undefined, protection: IngestSettings['protection']): boolean | string {
  const asked = metadata?.[PROTECTION_METADATA];
  if (asked === undefined) {
    return protection?.byDefault ?? false;
  }
  if (asked !== 'on' && asked !== 'off') {
    return `object metadata ${PROTECTION_METADATA} must be 'on' or 'off' (got '${asked.slice(0, 40)}')`;
  }
  if (asked === 'on' && !protection) {
    return `object metadata ${PROTECTION_METADATA} asks for an encrypted title, but this environment has no key provider (deploy it with -c contentProtection=on)`;
  }
  return asked === 'on';
}

/**
 * Reads the upload's metadata, or undefined if it is gone. EventBridge may hand over the key
 * URL-encoded, as S3's own notifications do; if the key as given is not found, the decoded key is
 * tried. S3 says "not found" (404) only because the role may list the bucket; without that it
 * answers 403 and this could not tell a missing key from a forbidden one.
 */
async function headUpload(s3: S3Client, bucket: string, key: string, versionId?: string): Promise<{ key: string; output: HeadObjectCommandOutput } | undefined> {
  const head = async (candidate: string) => {
    try {
      return { key: candidate, output: await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: candidate, VersionId: versionId })) };
    } catch (error) {
      if (error instanceof NotFound) {
        return undefined;
      }
      throw error;
    }
  };
  const decoded = urlDecoded(key);
  return (await head(key)) ?? (decoded === undefined || decoded === key ? undefined : await head(decoded));
}

/** The key as S3 notifications encode keys (`+` for a space) decoded; undefined if it is no such encoding. */
function urlDecoded(key: string): string | undefined {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

export const handler = lambdaEntry(() =>
  createIngestHandler({
    catalog: new CatalogStore(sharedDocumentClient(), requireEnv('CONTROL_TABLE_NAME')),
    mediaConvert: new MediaConvertClient({}),
    s3: new S3Client({}),
    settings: {
      environment: requireEnv('NEARSTREAM_ENVIRONMENT'),
      originBucket: requireEnv('ORIGIN_BUCKET'),
      mediaConvertRoleArn: requireEnv('MEDIACONVERT_ROLE_ARN'),
      templates: JSON.parse(requireEnv('JOB_TEMPLATES_JSON')),
      maxUploadBytes: positiveIntegerEnv('MAX_UPLOAD_BYTES', 200 * 1024 ** 3),
      defaultLadder: requireEnv('DEFAULT_LADDER') === 'automated' ? 'automated' : 'fixed',
      protection: process.env.KEY_PROVIDER_URL
        ? {
            keyProviderUrl: process.env.KEY_PROVIDER_URL,
            systems: (process.env.DRM_SYSTEMS ?? 'clearkey').split(',') as DrmSystem[],
            byDefault: process.env.PROTECTION_BY_DEFAULT === 'on',
          }
        : undefined,
    },
    nowIso: () => new Date().toISOString(),
  }),
);
