import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CodecOutputs } from '../../lambda/encoding/catalog-entry';
import { encodeCodec, probeSource } from '../../local/encoder/ffmpeg-stand-in';

/**
 * Manifests shaped like MediaConvert's CMAF output (one SegmentTemplate per Representation, files
 * named after the rung, an I-frame playlist, audio in its own group), for the rules of
 * `lambda/shared/rendition-manifests.ts` and the edge's njs copy of them.
 */
export const MEDIACONVERT_HLS = [
  '#EXTM3U',
  '#EXT-X-VERSION:6',
  '#EXT-X-INDEPENDENT-SEGMENTS',
  '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="program_audio",LANGUAGE="eng",NAME="English",AUTOSELECT=YES,DEFAULT=YES,URI="index_audio.m3u8"',
  '#EXT-X-STREAM-INF:BANDWIDTH=420000,AVERAGE-BANDWIDTH=380000,CODECS="avc1.4d401e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=30.000,AUDIO="program_audio"',
  'index_avc1_360p.m3u8',
  '#EXT-X-STREAM-INF:BANDWIDTH=3200000,AVERAGE-BANDWIDTH=3000000,CODECS="avc1.640020,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=30.000,AUDIO="program_audio"',
  'index_avc1_720p.m3u8',
  '#EXT-X-STREAM-INF:BANDWIDTH=6000000,AVERAGE-BANDWIDTH=5800000,CODECS="avc1.640028,mp4a.40.2",RESOLUTION=1920x1080,FRAME-RATE=30.000,AUDIO="program_audio"',
  'index_avc1_1080p.m3u8',
  '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=900000,CODECS="avc1.640028",RESOLUTION=1920x1080,URI="index_avc1_1080p_I-Frame.m3u8"',
  '',
].join('\n');

export const MEDIACONVERT_MPD = `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT12S" minBufferTime="PT6S" profiles="urn:mpeg:dash:profile:isoff-main:2011">
  <Period start="PT0S" id="1">
    <!-- <Representation id="9" height="240"><SegmentTemplate media="commented_$Number$.cmfv"/></Representation> -->
    <AdaptationSet mimeType="video/mp4" segmentAlignment="true" startWithSAP="1" maxWidth="1920" maxHeight="1080">
      <Representation id="1" width="640" height="360" bandwidth="400000" codecs="avc1.4d401e">
        <SegmentTemplate media="index_avc1_360p_$Number%09d$.cmfv" initialization="index_avc1_360pinit.cmfv" duration="6000" timescale="1000" startNumber="1"/>
      </Representation>
      <Representation id="2" width="1280" height="720" bandwidth="3000000" codecs="avc1.640020">
        <SegmentTemplate media="index_avc1_720p_$Number%09d$.cmfv" initialization="index_avc1_720pinit.cmfv" duration="6000" timescale="1000" startNumber="1"/>
      </Representation>
      <Representation id="3" width="1920" height="1080" bandwidth="5800000" codecs="avc1.640028">
        <SegmentTemplate media="index_avc1_1080p_$Number%09d$.cmfv" initialization="index_avc1_1080pinit.cmfv" duration="6000" timescale="1000" startNumber="1"/>
      </Representation>
    </AdaptationSet>
    <AdaptationSet mimeType="audio/mp4" lang="eng" segmentAlignment="true">
      <Representation id="4" bandwidth="128000" audioSamplingRate="48000" codecs="mp4a.40.2">
        <AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="2"/>
        <SegmentTemplate media="index_audio_$Number%09d$.cmfa" initialization="index_audioinit.cmfa" duration="6000" timescale="1000" startNumber="1"/>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
`;

/** One SegmentTemplate for the whole AdaptationSet, its Representations told apart by bandwidth only. */
export const SHARED_TEMPLATE_MPD = `<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static">
  <Period>
    <AdaptationSet contentType="video" maxHeight="2160">
      <SegmentTemplate initialization="v/$Bandwidth$/init.mp4" media="v/$Bandwidth$/$Time$.m4s" timescale="90000"/>
      <Representation id="low" height="480" width="854" bandwidth="1000000"/>
      <Representation id="high" height="2160" width="3840" bandwidth="16000000"/>
    </AdaptationSet>
    <AdaptationSet contentType="audio">
      <Representation id="a" bandwidth="96000"><BaseURL>ignored-audio.mp4</BaseURL><SegmentBase><Initialization sourceURL="a/init.mp4"/></SegmentBase></Representation>
    </AdaptationSet>
  </Period>
</MPD>
`;

/** Files of the MediaConvert-shaped title and the height each belongs to; undefined where no manifest names it. */
export const MEDIACONVERT_HEIGHTS: readonly (readonly [string, number | undefined])[] = [
  ['index_avc1_360p.m3u8', 360],
  ['index_avc1_720p.m3u8', 720],
  ['index_avc1_1080p.m3u8', 1080],
  ['index_avc1_1080p_I-Frame.m3u8', 1080],
  ['index_audio.m3u8', 0],
  ['index_avc1_360pinit.cmfv', 360],
  ['index_avc1_360p_000000001.cmfv', 360],
  ['index_avc1_720p_000000002.cmfv', 720],
  ['index_avc1_1080pinit.cmfv', 1080],
  ['index_avc1_1080p_000000002.cmfv', 1080],
  ['index_avc1_1080p_00002.cmfv', undefined],
  ['index_audioinit.cmfa', 0],
  ['index_audio_000000001.cmfa', 0],
  ['commented_1.cmfv', undefined],
  ['index_avc1_1080p_000000002.cmfv.bak', undefined],
  ['inventory.json', undefined],
];

/** A short clip from ffmpeg's test sources: a picture `height` tall, with sound. */
export function testClip(file: string, height: number, seconds: number): void {
  const width = Math.round((height * 16) / 9 / 2) * 2;
  execFileSync('ffmpeg', [
    '-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=30`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-shortest', file,
  ]);
}

/**
 * Real CMAF with HLS and DASH from the ffmpeg stand-in for MediaConvert, written into `codecDir`
 * (world-readable, as nginx's workers need): H.264 at every rung of the ladder up to `height`.
 */
export async function encodeCmaf(codecDir: string, titleId: string, height = 720, seconds = 2): Promise<CodecOutputs> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-cmaf-'));
  try {
    const clip = path.join(work, 'clip.mp4');
    testClip(clip, height, seconds);
    fs.mkdirSync(codecDir, { recursive: true, mode: 0o755 });
    const outputs = await encodeCodec(clip, await probeSource(clip), 'avc1', codecDir, titleId);
    for (const name of fs.readdirSync(codecDir)) {
      fs.chmodSync(path.join(codecDir, name), 0o644);
    }
    return outputs;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
