import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Codec } from '../../lambda/catalog/catalog';
import type { CodecOutputs } from '../../lambda/encoding/catalog-entry';
import { KeyGroup, videoKeyGroup } from '../../lambda/shared/content-protection';
import { CbcsKey } from './cmaf-encrypt';
import { EncryptedRepresentation, encryptRenditionDirectory, RepresentationInfo } from './encrypt-rendition-directory';
import { protectRenditionManifests } from './protected-manifests';

/**
 * A protected title's renditions, as MediaConvert's SPEKE cbcs output writes them: each
 * representation of a codec directory the ffmpeg stand-in wrote is encrypted under the key of its
 * group (audio under AUDIO, video under `videoKeyGroup(width, height)`, the video preset's groups), and the
 * manifests signal it.
 */

/** The codecs the local cbcs packager encrypts: AV1's bitstream it cannot parse, so it refuses it. */
export const PROTECTABLE_CODECS: readonly Codec[] = ['avc1', 'hvc1'];

/** One key a codec's renditions were encrypted under. */
export interface UsedKey {
  readonly group: KeyGroup;
  readonly kid: string;
}

/** The key group of a representation. */
export function keyGroupOf(representation: Pick<RepresentationInfo, 'kind' | 'width' | 'height' | 'representationId'>): KeyGroup {
  if (representation.kind === 'audio') {
    return 'AUDIO';
  }
  if (!representation.width || !representation.height) {
    throw new Error(`representation ${representation.representationId} is video without a width and height in the MPD: its key group cannot be told`);
  }
  return videoKeyGroup(representation.width, representation.height);
}

/**
 * Encrypts the codec directory `dir` (its MPD lists the representations) under `keys`, rewrites its
 * manifests, and returns the outputs with each rendition's bytes measured again (encryption adds
 * the sample auxiliary information) and the keys used, one per group, in group order.
 */
export async function encryptCodecOutputs(dir: string, outputs: CodecOutputs, keys: ReadonlyMap<KeyGroup, CbcsKey>): Promise<{ outputs: CodecOutputs; used: UsedKey[] }> {
  if (!PROTECTABLE_CODECS.includes(outputs.codec)) {
    throw new Error(`${outputs.codec} renditions cannot be encrypted by the local packager (it encrypts ${PROTECTABLE_CODECS.join(', ')})`);
  }
  const report = await encryptRenditionDirectory(dir, (representation) => {
    const group = keyGroupOf(representation);
    const key = keys.get(group);
    if (!key) {
      throw new Error(`representation ${representation.representationId} needs the ${group} key, and the key provider gave none`);
    }
    return key;
  });
  await protectRenditionManifests(dir, report);
  const used = new Map<KeyGroup, string>();
  for (const representation of report) {
    used.set(keyGroupOf(representation), representation.kid);
  }
  return {
    outputs: { ...outputs, renditions: outputs.renditions.map((rendition) => measured(rendition, report, dir, outputs.durationSeconds)) },
    used: [...used].map(([group, kid]) => ({ group, kid })),
  };
}

function measured<R extends CodecOutputs['renditions'][number]>(rendition: R, report: readonly EncryptedRepresentation[], dir: string, durationSeconds: number): R {
  const representation = report.find((entry) => entry.kind === 'video' && entry.width === rendition.width && entry.height === rendition.height);
  if (!representation) {
    return rendition;
  }
  const bytes = [representation.initSegment, ...representation.mediaSegments].reduce((sum, name) => sum + fs.statSync(path.join(dir, name)).size, 0);
  return { ...rendition, bytes, bitrateKbps: Math.round(durationSeconds > 0 ? (bytes * 8) / durationSeconds / 1000 : 0) };
}
