import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  capDash,
  capHls,
  cappedManifestPath,
  dashRepresentations,
  hlsRenditionHeights,
} from '../../../lambda/shared/rendition-manifests';
import { pictureHeights, renditionHeightOf, renditionIndex } from '../../../lambda/shared/rendition-index';
import { encodeCmaf, MEDIACONVERT_HEIGHTS, MEDIACONVERT_HLS, MEDIACONVERT_MPD, SHARED_TEMPLATE_MPD } from '../../support/manifests';

const MEDIACONVERT = { hls: MEDIACONVERT_HLS, dash: MEDIACONVERT_MPD };

describe('rendition manifests', () => {
  it.each(MEDIACONVERT_HEIGHTS)('finds the rendition of %s in MediaConvert-shaped manifests: %p', (file, height) => {
    expect(renditionHeightOf(file, MEDIACONVERT)).toBe(height);
  });

  it('reads every playlist of the multivariant playlist with its height, audio without a picture', () => {
    expect(Object.fromEntries(hlsRenditionHeights(MEDIACONVERT_HLS))).toEqual({
      'index_audio.m3u8': 0,
      'index_avc1_360p.m3u8': 360,
      'index_avc1_720p.m3u8': 720,
      'index_avc1_1080p.m3u8': 1080,
      'index_avc1_1080p_I-Frame.m3u8': 1080,
    });
  });

  it('cuts the multivariant playlist to the renditions at or below the height, keeping audio', () => {
    const capped = capHls(MEDIACONVERT_HLS, 720);
    expect(capped).not.toMatch(/1080|1920x/);
    expect(Object.fromEntries(hlsRenditionHeights(capped))).toEqual({ 'index_audio.m3u8': 0, 'index_avc1_360p.m3u8': 360, 'index_avc1_720p.m3u8': 720 });
    expect(capped.split('\n').slice(0, 3)).toEqual(['#EXTM3U', '#EXT-X-VERSION:6', '#EXT-X-INDEPENDENT-SEGMENTS']);
  });

  it('cuts the MPD to the representations at or below the height, and lowers the set\'s maxHeight and maxWidth', () => {
    const capped = capDash(MEDIACONVERT_MPD, 719);
    expect(dashRepresentations(capped).map((r) => [r.id, r.height])).toEqual([['1', 360], ['4', 0]]);
    expect(capped).toContain('maxWidth="640" maxHeight="360"');
    expect(capped).not.toMatch(/720p|1080|commented/);
    expect(capped).toMatch(/^<\?xml[^]*<\/MPD>\n$/);
    expect(capped).not.toMatch(/\n\s*\n/);
  });

  it('drops an AdaptationSet left with nothing, and leaves an MPD with nothing to drop as it was but for comments', () => {
    const capped = capDash(SHARED_TEMPLATE_MPD, 240);
    expect(capped).not.toContain('contentType="video"');
    expect(dashRepresentations(capped).map((r) => r.id)).toEqual(['a']);
    expect(capDash(MEDIACONVERT_MPD, 1080)).toBe(MEDIACONVERT_MPD.replace(/ *<!--.*-->\n/, ''));
  });

  it('tells apart representations sharing one template by the bandwidth it names', () => {
    const manifests = { hls: '#EXTM3U\n', dash: SHARED_TEMPLATE_MPD };
    expect(renditionHeightOf('v/1000000/init.mp4', manifests)).toBe(480);
    expect(renditionHeightOf('v/1000000/90000.m4s', manifests)).toBe(480);
    expect(renditionHeightOf('v/16000000/90000.m4s', manifests)).toBe(2160);
    expect(renditionHeightOf('a/init.mp4', manifests)).toBe(0);
    expect(renditionHeightOf('v/2000000/90000.m4s', manifests)).toBeUndefined();
  });

  it('counts a video rendition without a stated height as taller than any cap', () => {
    const hls = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nmystery.m3u8\n#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID="v",URI="alt.m3u8"\n';
    const dash = '<MPD><Period><AdaptationSet mimeType="video/mp4"><Representation id="x" bandwidth="1"><SegmentTemplate media="x_$Number$.m4s"/></Representation></AdaptationSet></Period></MPD>';
    expect(renditionHeightOf('mystery.m3u8', { hls, dash })).toBe(Infinity);
    expect(renditionHeightOf('alt.m3u8', { hls, dash })).toBe(Infinity);
    expect(renditionHeightOf('x_1.m4s', { hls, dash })).toBe(Infinity);
    expect(capHls(hls, 4320)).toBe('#EXTM3U\n');
    expect(dashRepresentations(capDash(dash, 4320))).toEqual([]);
  });

  it('ignores URIs that leave the codec directory or name another host', () => {
    const hls = '#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=1x240\n../other/a.m3u8\n#EXT-X-STREAM-INF:RESOLUTION=1x240\nhttps://elsewhere.example/b.m3u8\n#EXT-X-STREAM-INF:RESOLUTION=1x240\n./c.m3u8?x=1\n';
    expect([...hlsRenditionHeights(hls).keys()]).toEqual(['c.m3u8']);
  });

  it('lists the picture heights a capped manifest pair is cut for, and where the origin keeps it', () => {
    expect(pictureHeights(renditionIndex(MEDIACONVERT))).toEqual([360, 720, 1080]);
    expect(cappedManifestPath('titles/t1/avc1/index.m3u8', 720)).toBe('titles/t1/avc1/index.cap720.m3u8');
    expect(cappedManifestPath('titles/t1/avc1/index.mpd', 2160)).toBe('titles/t1/avc1/index.cap2160.mpd');
  });

  describe('on real CMAF from the ffmpeg stand-in', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-renditions-'));
    const read = (name: string) => fs.readFileSync(path.join(dir, name), 'utf8');
    let heights: number[];

    beforeAll(async () => {
      heights = (await encodeCmaf(dir, 'clip', 540)).renditions.map((r) => r.height);
    }, 60_000);
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('places every file the encode wrote in a rendition, at the height the catalog records', () => {
      const manifests = { hls: read('index.m3u8'), dash: read('index.mpd') };
      const files = fs.readdirSync(dir).filter((name) => !name.startsWith('index.'));
      const found = new Map(files.map((name) => [name, renditionHeightOf(name, manifests)]));
      expect([...found.values()].every((height) => height !== undefined)).toBe(true);
      expect([...new Set(found.values())].sort((a, b) => a! - b!)).toEqual([0, ...heights]);
      expect(pictureHeights(renditionIndex(manifests))).toEqual(heights);
    });

    it('cuts both manifests so that what remains names only files at or below the height', () => {
      const manifests = { hls: capHls(read('index.m3u8'), 400), dash: capDash(read('index.mpd'), 400) };
      expect(pictureHeights(renditionIndex(manifests))).toEqual(heights.filter((height) => height <= 400));
      const named = fs.readdirSync(dir).filter((name) => renditionHeightOf(name, manifests) !== undefined);
      expect(named.length).toBeGreaterThan(0);
      expect(named.every((name) => renditionHeightOf(name, manifests)! <= 400)).toBe(true);
    });
  });
});
