import { indexHeightOf, patternMatches, renditionIndex } from '../../../lambda/shared/rendition-index';
import { MEDIACONVERT_HLS, MEDIACONVERT_MPD, SHARED_TEMPLATE_MPD } from '../../support/manifests';

describe('the rendition index', () => {
  it('holds every rendition\'s files as patterns, DASH templates resolved for their representation', () => {
    const index = renditionIndex({ hls: MEDIACONVERT_HLS, dash: MEDIACONVERT_MPD });
    expect(index.renditions).toEqual(
      expect.arrayContaining([
        { height: 1080, files: [['index_avc1_1080p.m3u8']] },
        { height: 0, files: [['index_audio.m3u8']] },
        { height: 360, files: [['index_avc1_360pinit.cmfv'], ['index_avc1_360p_', 9, '.cmfv']] },
        { height: 0, files: [['index_audioinit.cmfa'], ['index_audio_', 9, '.cmfa']] },
      ]),
    );
    expect(renditionIndex({ hls: '#EXTM3U\n', dash: SHARED_TEMPLATE_MPD }).renditions).toEqual([
      { height: 480, files: [['v/1000000/init.mp4'], ['v/1000000/', 1, '.m4s']] },
      { height: 2160, files: [['v/16000000/init.mp4'], ['v/16000000/', 1, '.m4s']] },
      { height: 0, files: [['a/init.mp4']] },
    ]);
  });

  it('survives JSON, and keeps a video rendition without a stated height taller than any cap', () => {
    const index = renditionIndex({ hls: '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nmystery.m3u8\n', dash: '<MPD/>' });
    const copy = JSON.parse(JSON.stringify(index));
    expect(copy).toEqual({ version: 1, renditions: [{ height: null, files: [['mystery.m3u8']] }] });
    expect(indexHeightOf(copy, 'mystery.m3u8')).toBe(Infinity);
  });

  it.each([
    [['index_3_', 5, '.m4s'], 'index_3_00042.m4s', true],
    [['index_3_', 5, '.m4s'], 'index_3_123456.m4s', true],
    [['index_3_', 5, '.m4s'], 'index_3_0042.m4s', false],
    [['index_3_', 5, '.m4s'], 'index_3_00042.m4s.bak', false],
    [['index_3_', 5, '.m4s'], 'index_30_00042.m4s', false],
    [['seg_', 1, '1.m4s'], 'seg_421.m4s', true],
    [[1, '.m4s'], '90000.m4s', true],
    [['exact.m3u8'], 'exact.m3u8', true],
    [['exact.m3u8'], 'exact.m3u8x', false],
  ] as const)('matches %p against %s: %p', (pattern, file, matches) => {
    expect(patternMatches(pattern, file)).toBe(matches);
  });

  it('gives a file two renditions name the taller one\'s height', () => {
    const index = { version: 1 as const, renditions: [{ height: 360, files: [['shared.mp4']] }, { height: 720, files: [['shared.mp4']] }] };
    expect(indexHeightOf(index, 'shared.mp4')).toBe(720);
    expect(indexHeightOf(index, 'other.mp4')).toBeUndefined();
  });
});
