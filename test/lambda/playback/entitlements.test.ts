import { CatalogTitle, isPlayable } from '../../../lambda/catalog/catalog';
import { chooseRenditions, PLANS } from '../../../lambda/playback/entitlements';

const rung = (codec: 'avc1' | 'hvc1' | 'av01', height: number, bitrateKbps: number) => ({
  codec,
  width: Math.round((height * 16) / 9),
  height,
  bitrateKbps,
  bytes: bitrateKbps * 1000,
});

const title: CatalogTitle = {
  titleId: 't1',
  name: 'A Title',
  durationSeconds: 600,
  status: 'available',
  availableFrom: '2026-01-01T00:00:00Z',
  renditions: [
    rung('avc1', 2160, 16000),
    rung('avc1', 240, 235),
    rung('avc1', 720, 3000),
    rung('avc1', 1080, 5800),
    rung('hvc1', 720, 1800),
    rung('hvc1', 1080, 3500),
    rung('hvc1', 2160, 12000),
  ],
  manifests: {
    avc1: { hls: 'titles/t1/avc1/index.m3u8', dash: 'titles/t1/avc1/index.mpd' },
    hvc1: { hls: 'titles/t1/hvc1/index.m3u8', dash: 'titles/t1/hvc1/index.mpd' },
  },
};

describe('chooseRenditions', () => {
  it('caps the ladder at the plan\'s resolution', () => {
    const choice = chooseRenditions(title, { codecs: ['avc1'], maxHeight: 2160 }, PLANS.standard)!;
    expect(choice.codec).toBe('avc1');
    expect(choice.renditions.map((r) => r.height)).toEqual([240, 720, 1080]);
    expect(choice.maxHeight).toBe(1080);
  });

  it('caps the ladder at the device\'s screen when it is smaller than the plan', () => {
    const choice = chooseRenditions(title, { codecs: ['avc1'], maxHeight: 720 }, PLANS.premium)!;
    expect(choice.renditions.map((r) => r.height)).toEqual([240, 720]);
  });

  it('prefers the most efficient codec both sides have', () => {
    expect(chooseRenditions(title, { codecs: ['avc1', 'hvc1', 'av01'], maxHeight: 2160 }, PLANS.premium)!.codec).toBe('hvc1');
  });

  it('falls back to a less efficient codec when the efficient one has no rung low enough', () => {
    const choice = chooseRenditions(title, { codecs: ['hvc1', 'avc1'], maxHeight: 480 }, PLANS.premium)!;
    expect(choice.codec).toBe('avc1');
    expect(choice.renditions.map((r) => r.height)).toEqual([240]);
  });

  it('finds nothing for a device with no common codec or a screen below the lowest rung', () => {
    expect(chooseRenditions(title, { codecs: ['av01'], maxHeight: 2160 }, PLANS.premium)).toBeUndefined();
    expect(chooseRenditions(title, { codecs: ['avc1'], maxHeight: 144 }, PLANS.premium)).toBeUndefined();
  });
});

describe('isPlayable', () => {
  const now = Date.parse('2026-06-01T00:00:00Z');

  it('plays available titles inside their window only', () => {
    expect(isPlayable(title, now)).toBe(true);
    expect(isPlayable({ ...title, availableFrom: '2026-07-01T00:00:00Z' }, now)).toBe(false);
    expect(isPlayable({ ...title, availableUntil: '2026-05-31T23:59:59Z' }, now)).toBe(false);
    expect(isPlayable({ ...title, status: 'processing' }, now)).toBe(false);
  });
});
