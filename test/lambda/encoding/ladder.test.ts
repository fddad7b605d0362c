import type { JobTemplateSettings, Output } from '@aws-sdk/client-mediaconvert';
import { CODECS } from '../../../lambda/catalog/catalog';
import {
  AV1_FRAMERATE,
  cmafEncryption,
  CODECS_BY_JOB,
  FIXED_LADDERS,
  GOP_SECONDS,
  jobSettings,
  JOBS_BY_MODE,
  LADDER_CEILING_BPS,
  LADDER_FLOOR_BPS,
  rungsFor,
  SEGMENT_SECONDS,
  TEMPLATE_DESTINATION,
} from '../../../lambda/encoding/ladder';

/** MediaConvert's documented ranges for QVBR. */
const QVBR_QUALITY = { min: 1, max: 10 };
const MAX_BITRATE = { min: 1000, max: 1_152_000_000 };

const destination = (codec: string) => `s3://origin/titles/t1/${codec}/index`;
const allJobs = ['fixed', 'automated', 'av1'] as const;

function videoOutputs(settings: JobTemplateSettings): Output[] {
  return (settings.OutputGroups ?? []).flatMap((group) => (group.Outputs ?? []).filter((output) => output.VideoDescription));
}

function codecSettingsOf(output: Output) {
  const codec = output.VideoDescription!.CodecSettings!;
  return (codec.H264Settings ?? codec.H265Settings ?? codec.Av1Settings)!;
}

describe('the default ladder', () => {
  it.each(CODECS)('has %s rungs strictly increasing in height and bitrate', (codec) => {
    const rungs = FIXED_LADDERS[codec];
    for (let i = 1; i < rungs.length; i++) {
      expect(rungs[i].height).toBeGreaterThan(rungs[i - 1].height);
      expect(rungs[i].maxBitrate).toBeGreaterThan(rungs[i - 1].maxBitrate);
    }
  });

  it('spans 235 kbps to 16 Mbps over all codecs, with H.264 at the floor', () => {
    const bitrates = CODECS.flatMap((codec) => FIXED_LADDERS[codec].map((rung) => rung.maxBitrate));
    expect(Math.min(...bitrates)).toBe(LADDER_FLOOR_BPS);
    expect(Math.max(...bitrates)).toBe(LADDER_CEILING_BPS);
    expect(FIXED_LADDERS.avc1[0].maxBitrate).toBe(LADDER_FLOOR_BPS);
  });

  it.each(allJobs)('keeps QVBR levels and ceilings of the %s job within MediaConvert\'s ranges', (kind) => {
    for (const output of videoOutputs(jobSettings(kind, destination))) {
      const codec = codecSettingsOf(output);
      expect(codec.RateControlMode).toBe('QVBR');
      if (kind !== 'automated') {
        expect(codec.QvbrSettings!.QvbrQualityLevel).toBeGreaterThanOrEqual(QVBR_QUALITY.min);
        expect(codec.QvbrSettings!.QvbrQualityLevel).toBeLessThanOrEqual(QVBR_QUALITY.max);
        expect(codec.MaxBitrate).toBeGreaterThanOrEqual(MAX_BITRATE.min);
        expect(codec.MaxBitrate).toBeLessThanOrEqual(MAX_BITRATE.max);
      }
    }
  });

  it.each(allJobs)('makes every segment of the %s job a whole number of closed GOPs', (kind) => {
    const settings = jobSettings(kind, destination);
    for (const group of settings.OutputGroups) {
      const cmaf = group.OutputGroupSettings!.CmafGroupSettings!;
      expect(cmaf.SegmentLength).toBe(SEGMENT_SECONDS);
      expect(cmaf.SegmentLengthControl).toBe('GOP_MULTIPLE');
      for (const output of (group.Outputs ?? []).filter((o) => o.VideoDescription)) {
        const codec = output.VideoDescription!.CodecSettings!;
        const gopSeconds = codec.Av1Settings
          ? codec.Av1Settings.GopSize! / (codec.Av1Settings.FramerateNumerator! / codec.Av1Settings.FramerateDenominator!)
          : (codec.H264Settings ?? codec.H265Settings)!.GopSize!;
        expect(gopSeconds).toBe(GOP_SECONDS);
        expect(Number.isInteger(SEGMENT_SECONDS / gopSeconds)).toBe(true);
        if (!codec.Av1Settings) {
          const gop = (codec.H264Settings ?? codec.H265Settings)!;
          expect([gop.GopSizeUnits, gop.GopClosedCadence]).toEqual(['SECONDS', 1]);
        }
      }
    }
    expect(AV1_FRAMERATE.numerator / AV1_FRAMERATE.denominator).toBe(30);
  });

  it.each(allJobs)('writes the %s job as CMAF with HLS and DASH manifests and separate audio, under titles/<id>/<codec>/', (kind) => {
    const settings = jobSettings(kind, destination);
    expect(settings.OutputGroups.map((group) => group.OutputGroupSettings!.CmafGroupSettings!.Destination)).toEqual(
      CODECS_BY_JOB[kind].map((codec) => `s3://origin/titles/t1/${codec}/index`),
    );
    for (const group of settings.OutputGroups) {
      const cmaf = group.OutputGroupSettings!.CmafGroupSettings!;
      expect([cmaf.WriteHlsManifest, cmaf.WriteDashManifest]).toEqual(['ENABLED', 'ENABLED']);
      const audio = group.Outputs!.filter((output) => output.AudioDescriptions);
      expect(audio).toHaveLength(1);
      expect(audio[0].VideoDescription).toBeUndefined();
      expect(group.Outputs!.every((output) => output.ContainerSettings!.Container === 'CMFC')).toBe(true);
    }
  });

  it('never ladders above the source, but always keeps the lowest rung', () => {
    expect(rungsFor('avc1', 720).map((rung) => rung.height)).toEqual([234, 360, 432, 540, 720]);
    expect(rungsFor('hvc1', 1080).at(-1)!.height).toBe(1080);
    expect(rungsFor('avc1', 144).map((rung) => rung.height)).toEqual([234]);
    const trimmed = videoOutputs(jobSettings('fixed', destination, 540));
    expect(Math.max(...trimmed.map((output) => output.VideoDescription!.Height!))).toBe(540);
  });
});

describe('Automated ABR', () => {
  const settings = jobSettings('automated', destination);

  it('is used only for AVC and HEVC; AV1 always gets its own job', () => {
    expect(CODECS_BY_JOB.automated).toEqual(['avc1', 'hvc1']);
    expect(JOBS_BY_MODE.automated).toEqual(['automated', 'av1']);
    expect(jobSettings('av1', destination).OutputGroups.every((group) => group.AutomatedEncodingSettings === undefined)).toBe(true);
  });

  it('sets the floor to 235 kbps and the ceiling to 16 Mbps on every group of the job', () => {
    for (const group of settings.OutputGroups) {
      expect(group.AutomatedEncodingSettings!.AbrSettings).toMatchObject({ MinAbrBitrate: 235_000, MaxAbrBitrate: 16_000_000 });
    }
  });

  it('uses QVBR with MULTI_PASS_HQ and exactly one video output per group, with no fixed size or ceiling', () => {
    for (const group of settings.OutputGroups) {
      const video = group.Outputs!.filter((output) => output.VideoDescription);
      expect(video).toHaveLength(1);
      const codec = codecSettingsOf(video[0]);
      expect(codec.RateControlMode).toBe('QVBR');
      expect((codec as { QualityTuningLevel?: string }).QualityTuningLevel).toBe('MULTI_PASS_HQ');
      expect(video[0].VideoDescription!.Width).toBeUndefined();
      expect(codec.MaxBitrate).toBeUndefined();
    }
  });
});

describe('encryption of a protected title', () => {
  const protection = { keyProviderUrl: 'https://speke.example.com/v1/speke/v2', resourceId: 't123', systems: ['clearkey', 'widevine'] as const };

  it('encrypts every group of every job kind cbcs through SPEKE v2, one key per SD/HD1/HD2/UHD and audio, and leaves the templates clear', () => {
    for (const kind of ['fixed', 'automated', 'av1'] as const) {
      const groups = jobSettings(kind, (codec) => `s3://origin/${codec}/index`, 1080, protection).OutputGroups;
      for (const group of groups) {
        expect(group.OutputGroupSettings?.CmafGroupSettings?.Encryption).toMatchObject({
          Type: 'SPEKE',
          EncryptionMethod: 'SAMPLE_AES',
          SpekeKeyProvider: {
            ResourceId: 't123',
            DashSignaledSystemIds: ['e2719d58-a985-b3c9-781a-b030af78d30e', 'edef8ba9-79d6-4ace-a3c8-27dcd51d21ed'],
            EncryptionContractConfiguration: { SpekeVideoPreset: 'PRESET_VIDEO_6', SpekeAudioPreset: 'PRESET_AUDIO_1' },
          },
        });
      }
      for (const group of jobSettings(kind, () => TEMPLATE_DESTINATION).OutputGroups) {
        expect(group.OutputGroupSettings?.CmafGroupSettings?.Encryption).toBeUndefined();
      }
    }
  });

  it.each([
    [{ ...protection, keyProviderUrl: 'http://speke.example.com/' }, /keyProviderUrl must be an https:\/\/ URL/],
    [{ ...protection, systems: [] }, /systems must name 1 to 3 DRM systems \(got 0\)/],
    [{ ...protection, systems: ['clearkey', 'widevine', 'playready', 'fairplay'] as const }, /systems must name 1 to 3 DRM systems \(got 4\)/],
  ])('refuses what MediaConvert would refuse at submit, naming the field', (bad, message) => {
    expect(() => cmafEncryption(bad)).toThrow(message);
  });
});
