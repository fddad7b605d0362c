import { isoDurationSeconds, parseMpd } from '../../local/player/dash-parser';
import { parseMediaPlaylist, parseMultivariantPlaylist } from '../../local/player/hls-parser';

const APPLIANCE = 'http://127.0.0.1:8080/t/tok123/titles/t1/avc1/index.m3u8';
const SIGNED_ORIGIN = 'https://d1.cloudfront.net/titles/t1/avc1/index.cap720.m3u8?Policy=p&Signature=s&Key-Pair-Id=k';

const MULTIVARIANT = [
  '#EXTM3U',
  '#EXT-X-VERSION:6',
  '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",DEFAULT=NO,URI="audio_en_lo.m3u8"',
  '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English HQ",DEFAULT=YES,URI="audio_en.m3u8"',
  '#EXT-X-STREAM-INF:BANDWIDTH=3200000,AVERAGE-BANDWIDTH=3000000,CODECS="avc1.640020,mp4a.40.2",RESOLUTION=1280x720,AUDIO="aud"',
  'index_720p.m3u8',
  '#EXT-X-STREAM-INF:BANDWIDTH=420000,CODECS="avc1.4d401e,mp4a.40.2",RESOLUTION=640x360,AUDIO="aud"',
  '',
  'index_360p.m3u8',
  '#EXT-X-STREAM-INF:BANDWIDTH=130000,CODECS="mp4a.40.2",AUDIO="aud"',
  'audio_only.m3u8',
  '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=900000,RESOLUTION=1280x720,URI="iframes.m3u8"',
  '',
].join('\n');

const MEDIA = ['#EXTM3U', '#EXT-X-TARGETDURATION:6', '#EXT-X-MAP:URI="init_360p.m4s"', '#EXTINF:6.000,', 'seg_1.m4s', '#EXTINF:6.000,', 'seg_2.m4s', '#EXTINF:2.5,', 'seg_3.m4s', '#EXT-X-ENDLIST', ''].join('\n');

describe('the HLS parser', () => {
  it('reads the video variants lowest bandwidth first with their picture sizes, skipping audio-only and I-frame ones, and the default audio of their group', () => {
    const playlist = parseMultivariantPlaylist(MULTIVARIANT, APPLIANCE);

    expect(playlist.variants.map(({ width, height, bandwidthBps, uri }) => ({ width, height, bandwidthBps, uri }))).toEqual([
      { width: 640, height: 360, bandwidthBps: 420_000, uri: 'http://127.0.0.1:8080/t/tok123/titles/t1/avc1/index_360p.m3u8' },
      { width: 1280, height: 720, bandwidthBps: 3_200_000, uri: 'http://127.0.0.1:8080/t/tok123/titles/t1/avc1/index_720p.m3u8' },
    ]);
    expect(playlist.audioUri).toBe('http://127.0.0.1:8080/t/tok123/titles/t1/avc1/audio_en.m3u8');
  });

  it('resolves what a signed origin playlist names against its URL without the signed query string', () => {
    const playlist = parseMultivariantPlaylist(MULTIVARIANT, SIGNED_ORIGIN);
    const media = parseMediaPlaylist(MEDIA, playlist.variants[0].uri);

    expect(playlist.variants[0].uri).toBe('https://d1.cloudfront.net/titles/t1/avc1/index_360p.m3u8');
    expect(media.initUrl).toBe('https://d1.cloudfront.net/titles/t1/avc1/init_360p.m4s');
  });

  it('reads a media playlist\'s init segment and its segments with their start times', () => {
    expect(parseMediaPlaylist(MEDIA, APPLIANCE)).toEqual({
      initUrl: 'http://127.0.0.1:8080/t/tok123/titles/t1/avc1/init_360p.m4s',
      segments: [
        { url: 'http://127.0.0.1:8080/t/tok123/titles/t1/avc1/seg_1.m4s', startSeconds: 0, durationSeconds: 6 },
        { url: 'http://127.0.0.1:8080/t/tok123/titles/t1/avc1/seg_2.m4s', startSeconds: 6, durationSeconds: 6 },
        { url: 'http://127.0.0.1:8080/t/tok123/titles/t1/avc1/seg_3.m4s', startSeconds: 12, durationSeconds: 2.5 },
      ],
    });
  });

  it.each([
    ['a body that is not a playlist', () => parseMultivariantPlaylist('<html></html>', APPLIANCE), /index\.m3u8: is not an HLS playlist: the first line must be #EXTM3U$/],
    ['a variant without BANDWIDTH', () => parseMultivariantPlaylist('#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=640x360\nv.m3u8', APPLIANCE), /EXT-X-STREAM-INF on line 2 needs a positive whole BANDWIDTH \(got ''\)/],
    ['a video variant without RESOLUTION', () => parseMultivariantPlaylist('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="avc1.64001e,mp4a.40.2"\nv.m3u8', APPLIANCE), /line 2 carries video \(CODECS="avc1\.64001e,mp4a\.40\.2"\) but no RESOLUTION/],
    ['a variant without a URI', () => parseMultivariantPlaylist('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=640x360\n', APPLIANCE), /EXT-X-STREAM-INF on line 2 is followed by no URI/],
    ['a media playlist where the multivariant one belongs', () => parseMultivariantPlaylist(MEDIA, APPLIANCE), /lists no video variant/],
    ['a live media playlist', () => parseMediaPlaylist(MEDIA.replace('#EXT-X-ENDLIST', ''), APPLIANCE), /has no EXT-X-ENDLIST: live playlists are not played/],
    ['a segment without EXTINF', () => parseMediaPlaylist('#EXTM3U\nseg.m4s\n#EXT-X-ENDLIST', APPLIANCE), /the segment 'seg\.m4s' on line 2 has no EXTINF before it/],
    ['byte-range segments', () => parseMediaPlaylist(MEDIA.replace('seg_2.m4s', '#EXT-X-BYTERANGE:100@0\nseg_2.m4s'), APPLIANCE), /uses EXT-X-BYTERANGE/],
  ])('refuses %s with an error naming the URL (no token) and the rule', (_, parse, message) => {
    expect(parse).toThrow(message);
    expect(parse).toThrow(/^http:\/\/127\.0\.0\.1:8080\/t\/<token>\/titles\/t1\/avc1\/index\.m3u8: /);
  });
});

const MPD_URL = 'http://127.0.0.1:8080/t/tok123/titles/t1/avc1/index.mpd';

/** As the ffmpeg stand-in for MediaConvert writes it: one SegmentTemplate per Representation. */
const FFMPEG_MPD = `<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT31.0S" minBufferTime="PT12.0S">
  <ProgramInformation>
  </ProgramInformation>
  <Period id="0" start="PT0.0S">
    <AdaptationSet id="0" contentType="video" segmentAlignment="true" maxWidth="768" maxHeight="432">
      <Representation id="1" mimeType="video/mp4" codecs="avc1.64001e" bandwidth="572222" width="640" height="360">
        <SegmentTemplate timescale="1000000" duration="6000000" initialization="index_$RepresentationID$_init.m4s" media="index_$RepresentationID$_$Number%05d$.m4s" startNumber="1">
        </SegmentTemplate>
      </Representation>
      <Representation id="0" mimeType="video/mp4" codecs="avc1.64000d" bandwidth="239834" width="416" height="234">
        <SegmentTemplate timescale="1000000" duration="6000000" initialization="index_$RepresentationID$_init.m4s" media="index_$RepresentationID$_$Number%05d$.m4s" startNumber="1"/>
      </Representation>
    </AdaptationSet>
    <AdaptationSet id="1" contentType="audio" lang="und">
      <Representation id="2" mimeType="audio/mp4" codecs="mp4a.40.2" bandwidth="128000" audioSamplingRate="48000">
        <AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="2" />
        <SegmentTemplate timescale="1000000" duration="6000000" initialization="index_$RepresentationID$_init.m4s" media="index_$RepresentationID$_$Number%05d$.m4s" startNumber="1"/>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>`;

/** One SegmentTemplate for the AdaptationSet, with a SegmentTimeline, $Bandwidth$ and $Time$, below BaseURLs. */
const TIMELINE_MPD = `<?xml version="1.0"?>
<!-- written by hand -->
<mpd:MPD xmlns:mpd="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT10S">
  <mpd:BaseURL>media/</mpd:BaseURL>
  <mpd:Period>
    <mpd:AdaptationSet mimeType="video/mp4" width="1280" height="720">
      <mpd:BaseURL>v/</mpd:BaseURL>
      <mpd:SegmentTemplate timescale="90000" initialization="$Bandwidth$/init.mp4" media="$Bandwidth$/$Time$.m4s?x=1&amp;y=2">
        <mpd:SegmentTimeline><mpd:S t="0" d="360000" r="1"/><mpd:S d="180000"/></mpd:SegmentTimeline>
      </mpd:SegmentTemplate>
      <mpd:Representation id="hd" bandwidth="3000000"/>
    </mpd:AdaptationSet>
  </mpd:Period>
</mpd:MPD>`;

describe('the DASH MPD parser', () => {
  it('reads each video Representation\'s picture and bandwidth, lowest first, and numbers its segments from the template', () => {
    const mpd = parseMpd(FFMPEG_MPD, MPD_URL);

    expect(mpd.video.map(({ id, width, height, bandwidthBps }) => ({ id, width, height, bandwidthBps }))).toEqual([
      { id: '0', width: 416, height: 234, bandwidthBps: 239_834 },
      { id: '1', width: 640, height: 360, bandwidthBps: 572_222 },
    ]);
    const { initUrl, segments } = mpd.video[1].index;
    expect(initUrl).toBe('http://127.0.0.1:8080/t/tok123/titles/t1/avc1/index_1_init.m4s');
    expect(segments.map((segment) => segment.url.split('/').pop())).toEqual(['index_1_00001.m4s', 'index_1_00002.m4s', 'index_1_00003.m4s', 'index_1_00004.m4s', 'index_1_00005.m4s', 'index_1_00006.m4s']);
    expect(segments[5]).toMatchObject({ startSeconds: 30, durationSeconds: 1 });
    expect(mpd.audio?.segments[0].url).toBe('http://127.0.0.1:8080/t/tok123/titles/t1/avc1/index_2_00001.m4s');
  });

  it('follows an inherited SegmentTimeline with repeats, $Bandwidth$ and $Time$, below chained BaseURLs', () => {
    const mpd = parseMpd(TIMELINE_MPD, MPD_URL);

    expect(mpd.video).toHaveLength(1);
    expect(mpd.video[0].index).toEqual({
      initUrl: 'http://127.0.0.1:8080/t/tok123/titles/t1/avc1/media/v/3000000/init.mp4',
      segments: [
        { url: 'http://127.0.0.1:8080/t/tok123/titles/t1/avc1/media/v/3000000/0.m4s?x=1&y=2', startSeconds: 0, durationSeconds: 4 },
        { url: 'http://127.0.0.1:8080/t/tok123/titles/t1/avc1/media/v/3000000/360000.m4s?x=1&y=2', startSeconds: 4, durationSeconds: 4 },
        { url: 'http://127.0.0.1:8080/t/tok123/titles/t1/avc1/media/v/3000000/720000.m4s?x=1&y=2', startSeconds: 8, durationSeconds: 2 },
      ],
    });
    expect(mpd.audio).toBeUndefined();
  });

  it('reads ISO 8601 durations and refuses what is not one', () => {
    expect(isoDurationSeconds('PT36.0S')).toBe(36);
    expect(isoDurationSeconds('PT1H2M3.5S')).toBe(3723.5);
    expect(isoDurationSeconds('P1DT1S')).toBe(86_401);
    expect(isoDurationSeconds('PT')).toBeUndefined();
    expect(isoDurationSeconds('36')).toBeUndefined();
  });

  it.each([
    ['a body that is not XML', '<MPD><Period></MPD>', /is not well-formed XML: <\/MPD> on line 1 closes <Period>/],
    ['a document that is not an MPD', '<html/>', /is not a DASH MPD: its root element is <html>/],
    ['a live MPD', FFMPEG_MPD.replace('type="static"', 'type="dynamic"'), /is a live \(type="dynamic"\) MPD/],
    ['several Periods', FFMPEG_MPD.replace('</Period>', '</Period><Period/>'), /has 2 Periods: only single-Period MPDs are played/],
    ['a Representation without a SegmentTemplate', FFMPEG_MPD.replace(/<SegmentTemplate[^>]*\/>/, '<SegmentBase/>'), /Representation '0' has no SegmentTemplate/],
    ['a template duration without the presentation\'s', FFMPEG_MPD.replace(' mediaPresentationDuration="PT31.0S"', ''), /needs a SegmentTimeline, or a duration and the MPD's mediaPresentationDuration/],
    ['a Representation without bandwidth', FFMPEG_MPD.replace('bandwidth="239834" ', ''), /Representation '0' needs a positive whole bandwidth \(got ''\)/],
    ['a template identifier it cannot fill', FFMPEG_MPD.replace('$Number%05d$.m4s" startNumber="1"/>', '$SubNumber$.m4s"/>'), /the media template 'index_\$RepresentationID\$_\$SubNumber\$\.m4s' uses \$SubNumber\$/],
    ['no video at all', FFMPEG_MPD.replace(/<AdaptationSet id="0"[\s\S]*?<\/AdaptationSet>/, ''), /has no video Representation/],
  ])('refuses %s with an error naming the URL and what is wrong', (_, text, message) => {
    const parse = () => parseMpd(text, MPD_URL);
    expect(parse).toThrow(message);
    expect(parse).toThrow(/^http:\/\/127\.0\.0\.1:8080\/t\/<token>\/titles\/t1\/avc1\/index\.mpd: /);
  });
});
