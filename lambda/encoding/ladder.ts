import type { CmafEncryptionSettings, JobTemplateSettings, OutputGroup, Output, VideoCodecSettings } from '@aws-sdk/client-mediaconvert';
import type { Codec } from '../catalog/catalog';
import { DRM_SYSTEMS, DrmSystem, SPEKE_PRESETS } from '../shared/content-protection';

/**
 * The encoding ladder as typed MediaConvert settings. One module renders the job templates the
 * encoding stack deploys and the per-title job settings the submit function sends, so the two can
 * never drift. Everything MediaConvert's types cannot check (rung order, ranges, GOP alignment,
 * Automated ABR rules) is held by tests.
 */

/** One rung of a fixed ladder. */
export interface Rung {
  readonly width: number;
  readonly height: number;
  /** QVBR's ceiling for the rung, in bits per second. */
  readonly maxBitrate: number;
  /** QVBR target quality, 1 (worst) to 10. */
  readonly qvbrQualityLevel: number;
}

/** Segments of 6 s built from closed 2 s GOPs: every segment starts on a keyframe. */
export const SEGMENT_SECONDS = 6;
export const GOP_SECONDS = 2;
/** AV1 takes its GOP in frames only, so its framerate is pinned to make the GOP 2 s. */
export const AV1_FRAMERATE = { numerator: 30, denominator: 1 } as const;
export const AV1_GOP_FRAMES = GOP_SECONDS * AV1_FRAMERATE.numerator;

export const LADDER_FLOOR_BPS = 235_000;
export const LADDER_CEILING_BPS = 16_000_000;

/** The reference fixed ladders, per codec. H.264 is always present: every device decodes it. */
export const FIXED_LADDERS: Readonly<Record<Codec, readonly Rung[]>> = {
  avc1: [
    { width: 416, height: 234, maxBitrate: 235_000, qvbrQualityLevel: 7 },
    { width: 640, height: 360, maxBitrate: 560_000, qvbrQualityLevel: 7 },
    { width: 768, height: 432, maxBitrate: 1_050_000, qvbrQualityLevel: 7 },
    { width: 960, height: 540, maxBitrate: 2_350_000, qvbrQualityLevel: 7 },
    { width: 1280, height: 720, maxBitrate: 3_000_000, qvbrQualityLevel: 8 },
    { width: 1920, height: 1080, maxBitrate: 5_800_000, qvbrQualityLevel: 8 },
  ],
  hvc1: [
    { width: 640, height: 360, maxBitrate: 400_000, qvbrQualityLevel: 7 },
    { width: 960, height: 540, maxBitrate: 1_200_000, qvbrQualityLevel: 7 },
    { width: 1280, height: 720, maxBitrate: 2_000_000, qvbrQualityLevel: 8 },
    { width: 1920, height: 1080, maxBitrate: 3_800_000, qvbrQualityLevel: 8 },
    { width: 2560, height: 1440, maxBitrate: 8_000_000, qvbrQualityLevel: 9 },
    { width: 3840, height: 2160, maxBitrate: 16_000_000, qvbrQualityLevel: 9 },
  ],
  av01: [
    { width: 640, height: 360, maxBitrate: 300_000, qvbrQualityLevel: 7 },
    { width: 960, height: 540, maxBitrate: 900_000, qvbrQualityLevel: 7 },
    { width: 1280, height: 720, maxBitrate: 1_600_000, qvbrQualityLevel: 8 },
    { width: 1920, height: 1080, maxBitrate: 3_000_000, qvbrQualityLevel: 8 },
    { width: 3840, height: 2160, maxBitrate: 12_000_000, qvbrQualityLevel: 9 },
  ],
};

/** Which jobs a title needs. AV1 always runs alone: Automated ABR cannot share a job with it. */
export type LadderMode = 'fixed' | 'automated';
export type JobKind = 'fixed' | 'automated' | 'av1';

export const JOBS_BY_MODE: Readonly<Record<LadderMode, readonly JobKind[]>> = {
  fixed: ['fixed', 'av1'],
  automated: ['automated', 'av1'],
};

export const CODECS_BY_JOB: Readonly<Record<JobKind, readonly Codec[]>> = {
  fixed: ['avc1', 'hvc1'],
  automated: ['avc1', 'hvc1'],
  av1: ['av01'],
};

/** Every encoded object lives under this prefix of the origin bucket, and nothing else does. */
export const TITLE_KEY_PREFIX = 'titles/';

/** `titles/<titleId>/<codec>/`: where a codec's manifests and segments land. */
export function codecPrefix(titleId: string, codec: Codec): string {
  return `${TITLE_KEY_PREFIX}${titleId}/${codec}/`;
}

/** The manifest base name MediaConvert and the stand-in both write: `index.m3u8`, `index.mpd`. */
export const MANIFEST_BASENAME = 'index';

/**
 * `_<codec>_<height>p`: the origin tier's CloudFront Function reads a rendition's height back from
 * this name (`lambda/edge/rendition-guard.js`; a test holds the two together).
 */
function rungName(codec: Codec, rung: { height: number }): string {
  return `_${codec}_${rung.height}p`;
}

const closedGop = { GopSize: GOP_SECONDS, GopSizeUnits: 'SECONDS', GopClosedCadence: 1, SceneChangeDetect: 'TRANSITION_DETECTION' } as const;

function videoCodecSettings(codec: Codec, rung: Rung | undefined, automated: boolean): VideoCodecSettings {
  const qvbr = rung ? { QvbrSettings: { QvbrQualityLevel: rung.qvbrQualityLevel }, MaxBitrate: rung.maxBitrate } : {};
  switch (codec) {
    case 'avc1':
      return {
        Codec: 'H_264',
        H264Settings: {
          RateControlMode: 'QVBR',
          ...qvbr,
          ...closedGop,
          QualityTuningLevel: automated ? 'MULTI_PASS_HQ' : 'SINGLE_PASS_HQ',
          CodecProfile: 'HIGH',
          CodecLevel: 'AUTO',
          NumberBFramesBetweenReferenceFrames: 2,
        },
      };
    case 'hvc1':
      return {
        Codec: 'H_265',
        H265Settings: {
          RateControlMode: 'QVBR',
          ...qvbr,
          ...closedGop,
          QualityTuningLevel: automated ? 'MULTI_PASS_HQ' : 'SINGLE_PASS_HQ',
          CodecProfile: 'MAIN_MAIN',
          CodecLevel: 'AUTO',
          WriteMp4PackagingType: 'HVC1',
        },
      };
    case 'av01':
      return {
        Codec: 'AV1',
        Av1Settings: {
          RateControlMode: 'QVBR',
          ...qvbr,
          GopSize: AV1_GOP_FRAMES,
          FramerateControl: 'SPECIFIED',
          FramerateNumerator: AV1_FRAMERATE.numerator,
          FramerateDenominator: AV1_FRAMERATE.denominator,
          NumberBFramesBetweenReferenceFrames: 7,
          SceneChangeDetect: 'ENABLED',
        },
      };
  }
}

const audioOutput: Output = {
  NameModifier: '_audio',
  ContainerSettings: { Container: 'CMFC' },
  AudioDescriptions: [
    {
      AudioSourceName: 'Audio Selector 1',
      CodecSettings: { Codec: 'AAC', AacSettings: { Bitrate: 128_000, CodingMode: 'CODING_MODE_2_0', SampleRate: 48_000 } },
    },
  ],
};

/**
 * How a protected title's CMAF output is encrypted: `cbcs` (AES-CBC with the 1:9 pattern, which
 * HLS and DASH players and all three major DRM systems accept), keys from a SPEKE v2 key provider,
 * one key per group (PRESET-VIDEO-6: SD, HD1 up to 720p, HD2 up to 1080p and UHD video;
 * PRESET-AUDIO-1: all audio), so that a license can grant a plan's renditions and nothing taller.
 */
export interface LadderProtection {
  /** The key provider's SPEKE v2 endpoint (HTTPS). */
  readonly keyProviderUrl: string;
  /** SPEKE's content id: the title id, the key provider's key for the title's keys. */
  readonly resourceId: string;
  /** The DRM systems the manifests signal: at most 3, as MediaConvert allows per manifest. */
  readonly systems: readonly DrmSystem[];
}

/** The scheme protected titles are encrypted with. */
export const PROTECTION_SCHEME = 'cbcs';
/** MediaConvert signals at most this many DRM systems in a CMAF group's HLS or DASH manifest. */
export const MAX_SIGNALLED_SYSTEMS = 3;

/** The CMAF group's encryption for `protection`, refusing what MediaConvert would refuse at submit. */
export function cmafEncryption(protection: LadderProtection): CmafEncryptionSettings {
  if (!protection.keyProviderUrl.startsWith('https://')) {
    throw new Error(`protection.keyProviderUrl must be an https:// URL (got '${protection.keyProviderUrl}')`);
  }
  const systems = [...new Set(protection.systems)];
  if (systems.length === 0 || systems.length > MAX_SIGNALLED_SYSTEMS) {
    throw new Error(`protection.systems must name 1 to ${MAX_SIGNALLED_SYSTEMS} DRM systems (got ${systems.length})`);
  }
  const systemIds = systems.map((system) => DRM_SYSTEMS[system].systemId);
  return {
    Type: 'SPEKE',
    EncryptionMethod: 'SAMPLE_AES',
    // cbcs keeps its IV in each track's tenc box, in the init segment, where players read it.
    InitializationVectorInManifest: 'EXCLUDE',
    SpekeKeyProvider: {
      Url: protection.keyProviderUrl,
      ResourceId: protection.resourceId,
      DashSignaledSystemIds: systemIds,
      HlsSignaledSystemIds: systemIds,
      EncryptionContractConfiguration: { SpekeVideoPreset: SPEKE_PRESETS.video, SpekeAudioPreset: SPEKE_PRESETS.audio },
    },
  };
}

function cmafGroup(codec: Codec, destination: string, outputs: Output[], automated: boolean, protection?: LadderProtection): OutputGroup {
  return {
    Name: `CMAF ${codec}`,
    OutputGroupSettings: {
      Type: 'CMAF_GROUP_SETTINGS',
      CmafGroupSettings: {
        Destination: destination,
        SegmentLength: SEGMENT_SECONDS,
        SegmentLengthControl: 'GOP_MULTIPLE',
        FragmentLength: GOP_SECONDS,
        SegmentControl: 'SEGMENTED_FILES',
        WriteHlsManifest: 'ENABLED',
        WriteDashManifest: 'ENABLED',
        MpdProfile: 'MAIN_PROFILE',
        ManifestDurationFormat: 'FLOATING_POINT',
        StreamInfResolution: 'INCLUDE',
        ClientCache: 'ENABLED',
        ...(protection ? { Encryption: cmafEncryption(protection) } : {}),
      },
    },
    AutomatedEncodingSettings: automated
      ? { AbrSettings: { MinAbrBitrate: LADDER_FLOOR_BPS, MaxAbrBitrate: LADDER_CEILING_BPS, MaxRenditions: 8 } }
      : undefined,
    Outputs: [...outputs, audioOutput],
  };
}

/**
 * The fixed rungs of `codec` a source of `sourceHeight` pixels gets: none above the source (no
 * upscaling), but always the lowest rung, so even a tiny source plays everywhere.
 */
export function rungsFor(codec: Codec, sourceHeight?: number): readonly Rung[] {
  const ladder = FIXED_LADDERS[codec];
  if (sourceHeight === undefined) {
    return ladder;
  }
  const fitting = ladder.filter((rung) => rung.height <= sourceHeight);
  return fitting.length > 0 ? fitting : ladder.slice(0, 1);
}

function fixedOutputs(codec: Codec, sourceHeight?: number): Output[] {
  return rungsFor(codec, sourceHeight).map((rung) => ({
    NameModifier: rungName(codec, rung),
    ContainerSettings: { Container: 'CMFC' },
    VideoDescription: {
      Width: rung.width,
      Height: rung.height,
      ScalingBehavior: 'DEFAULT',
      CodecSettings: videoCodecSettings(codec, rung, false),
    },
  }));
}

function automatedOutput(codec: Codec): Output {
  return {
    NameModifier: `_${codec}_abr`,
    ContainerSettings: { Container: 'CMFC' },
    VideoDescription: { CodecSettings: videoCodecSettings(codec, undefined, true) },
  };
}

/**
 * The settings of one job kind. `destination(codec)` is where each codec's group writes; the
 * deployed templates use a placeholder the submit function replaces per title, and the full
 * ladder, which a job trims to the probed source height. A protected title's job encrypts every
 * group (`protection`); the templates carry none, since the key provider's content id is the title.
 */
export function jobSettings(kind: JobKind, destination: (codec: Codec) => string, sourceHeight?: number, protection?: LadderProtection) {
  const automated = kind === 'automated';
  const settings = {
    TimecodeConfig: { Source: 'ZEROBASED' },
    OutputGroups: CODECS_BY_JOB[kind].map((codec) =>
      cmafGroup(codec, destination(codec), automated ? [automatedOutput(codec)] : fixedOutputs(codec, sourceHeight), automated, protection),
    ),
  } satisfies JobTemplateSettings;
  return settings;
}

/** The input of a job: the uploaded file, with its first audio track. */
export function jobInput(sourceUri: string) {
  return {
    FileInput: sourceUri,
    TimecodeSource: 'ZEROBASED',
    AudioSelectors: { 'Audio Selector 1': { DefaultSelection: 'DEFAULT' } },
    VideoSelector: {},
  } as const;
}

/** The template's stand-in destination; a job always overrides it. */
export const TEMPLATE_DESTINATION = 's3://replaced-per-job/';
