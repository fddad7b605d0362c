import * as path from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, NoSuchKey, S3Client } from '@aws-sdk/client-s3';

/** An object of the origin bucket, as the distribution reads it. */
export interface OriginObject {
  readonly body: Buffer | Readable;
  /** @default - by the key's extension */
  readonly contentType?: string;
  readonly size: number;
}

/** Reads an object of the origin bucket by key; undefined when there is none. */
export type ObjectFetcher = (key: string) => Promise<OriginObject | undefined>;

/** What S3 reports for an object stored without a Content-Type. */
const S3_UNSET_CONTENT_TYPE = 'binary/octet-stream';
/** Types that say nothing about the bytes: S3's, and the one the SDK sends when the caller gave none. */
const GENERIC_CONTENT_TYPES = new Set([S3_UNSET_CONTENT_TYPE, 'application/octet-stream']);

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.mpd': 'application/dash+xml',
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
  '.cmfv': 'video/mp4',
  '.cmfa': 'audio/mp4',
};

/**
 * The origin bucket through an S3 client (s3rver locally). An object stored with a generic type
 * (what S3 or the SDK fill in when the uploader named none) gets one by its extension when served,
 * as MediaConvert's uploads carry the right one in the cloud.
 */
export function s3ObjectFetcher(s3: S3Client, bucket: string): ObjectFetcher {
  return async (key) => {
    try {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (!(object.Body instanceof Readable) || object.ContentLength === undefined) {
        throw new Error(`s3://${bucket}/${key}: GetObject returned no stream or no ContentLength`);
      }
      return {
        body: object.Body,
        contentType: object.ContentType === undefined || GENERIC_CONTENT_TYPES.has(object.ContentType) ? undefined : object.ContentType,
        size: object.ContentLength,
      };
    } catch (error) {
      if (error instanceof NoSuchKey) {
        return undefined;
      }
      throw error;
    }
  };
}

/** The object's own Content-Type, else the one its extension implies, else S3's default. */
export function contentTypeOf(key: string, object: OriginObject): string {
  return object.contentType ?? CONTENT_TYPES[path.extname(key).toLowerCase()] ?? S3_UNSET_CONTENT_TYPE;
}

/** Inclusive byte offsets of a satisfiable range. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/**
 * The single range a Range header asks of an object of `size` bytes: undefined for the whole
 * object (no header, a malformed one, or several ranges, which S3 answers whole), or
 * 'unsatisfiable' (416).
 */
export function byteRangeOf(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  const match = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) {
    return undefined;
  }
  if (match[1] === '') {
    const suffix = Number(match[2]);
    return suffix === 0 || size === 0 ? 'unsatisfiable' : { start: Math.max(size - suffix, 0), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? Infinity : Number(match[2]);
  if (end < start) {
    return undefined;
  }
  return start >= size ? 'unsatisfiable' : { start, end: Math.min(end, size - 1) };
}

/** The bytes of `range` out of a body, streaming it when it is a stream. */
export function sliceOf(body: Buffer | Readable, range: ByteRange): Buffer | Readable {
  return Buffer.isBuffer(body) ? body.subarray(range.start, range.end + 1) : Readable.from(sliceStream(body, range));
}

async function* sliceStream(source: Readable, range: ByteRange): AsyncGenerator<Buffer> {
  let offset = 0;
  for await (const chunk of source as AsyncIterable<Buffer>) {
    const from = Math.max(range.start - offset, 0);
    const to = Math.min(range.end + 1 - offset, chunk.length);
    if (from < to) {
      yield chunk.subarray(from, to);
    }
    offset += chunk.length;
    if (offset > range.end) {
      return;
    }
  }
}
