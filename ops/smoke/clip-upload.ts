import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { titleIdFor } from '../../lambda/encoding/title-id';
import { missingLine, missingTools } from '../../local/prerequisites';
import { SMOKE_UPLOAD_PREFIX } from './outputs';

const run = promisify(execFile);

/** The smoke clip: short (a few renditions, minutes to encode), with sound, so both tracks are played. */
export const SMOKE_CLIP = { seconds: 10, size: '640x360', rate: 24 } as const;

/** An upload the encoding workflow will turn into a title. */
export interface UploadedClip {
  readonly titleId: string;
  /** `s3://bucket/key`, for the log. */
  readonly location: string;
}

/** Puts a video where the encoding workflow picks it up; a test stands in for S3 with its own. */
export interface ClipUploader {
  upload(file: string): Promise<UploadedClip>;
}

/**
 * Makes the 10 s smoke clip with ffmpeg in `directory`. Not `local/platform/demo-clip.ts`: that one
 * is 20 s at 720p and cached for the local platform; this one is made fresh, small and short so a
 * real MediaConvert encode of it is quick and cheap.
 */
export async function makeSmokeClip(directory: string, name: string): Promise<string> {
  const missing = missingTools(['smoke']);
  if (missing.length > 0) {
    throw new Error(missingLine('npm run smoke (to make a clip for an empty catalog)', missing));
  }
  const file = path.join(directory, `${name}.mp4`);
  await run('ffmpeg', [
    '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${SMOKE_CLIP.size}:rate=${SMOKE_CLIP.rate}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:beep_factor=4:sample_rate=48000',
    '-t', String(SMOKE_CLIP.seconds), '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-shortest', file,
  ]);
  return file;
}

/**
 * Uploads into the environment's source bucket. The title id is the one ingest derives from the
 * bucket, key and object version (lambda/encoding/title-id.ts), so the smoke test knows which
 * title to wait for before the workflow has even started.
 */
export function s3ClipUploader(s3: Pick<S3Client, 'send'>, bucket: string): ClipUploader {
  return {
    async upload(file: string): Promise<UploadedClip> {
      const key = `${SMOKE_UPLOAD_PREFIX}${path.basename(file)}`;
      const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: fs.readFileSync(file), ContentType: 'video/mp4' }));
      return { titleId: titleIdFor(bucket, key, put.VersionId), location: `s3://${bucket}/${key}${put.VersionId ? ` (version ${put.VersionId})` : ''}` };
    },
  };
}
