import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { PlaybackGrant } from '../../lambda/playback/play-service';
import { encryptInitSegment } from '../../local/encoder/cmaf-encrypt';
import { ClearKeySession, ProtectedSegment, ProtectionError } from '../../local/player/clearkey-session';

const KIDS = { sd: '11111111111111111111111111111111', hd1: '22222222222222222222222222222222', audio: '33333333333333333333333333333333' } as const;
const KEY_OF: Record<string, Buffer> = Object.fromEntries(Object.values(KIDS).map((kid, index) => [kid, Buffer.alloc(16, index + 1)]));

/** A fragmented MP4 of one track from ffmpeg: its moov is what a player reads the key id from. */
function fragmentedMp4(dir: string, name: string, input: string[], codec: string[]): Buffer {
  const file = path.join(dir, name);
  execFileSync('ffmpeg', ['-v', 'error', ...input, '-t', '0.5', ...codec, '-movflags', 'frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4', file]);
  return fs.readFileSync(file);
}

/**
 * The license route's stand-in: records each request's key ids (hex) and answers a W3C ClearKey
 * license with their keys, less any listed in `withhold`, or `refuse`s with its status.
 */
function licenseServer() {
  const requests: string[][] = [];
  const behaviour: { withhold: string[]; refuse?: number } = { withhold: [] };
  const server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      const kids = (JSON.parse(body) as { kids: string[] }).kids.map((kid) => Buffer.from(kid, 'base64url').toString('hex'));
      requests.push(kids);
      if (behaviour.refuse) {
        response.writeHead(behaviour.refuse, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'key-not-granted', message: 'not on this plan' }));
        return;
      }
      const keys = kids
        .filter((kid) => !behaviour.withhold.includes(kid))
        .map((kid) => ({ kty: 'oct', kid: Buffer.from(kid, 'hex').toString('base64url'), k: KEY_OF[kid].toString('base64url') }));
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys, type: 'temporary' }));
    });
  });
  return { server, requests, behaviour };
}

describe('the CLI player\'s ClearKey session', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-clearkey-session-'));
  const { server, requests, behaviour } = licenseServer();
  let apiUrl: string;
  const inits: Record<keyof typeof KIDS, Buffer> = {} as Record<keyof typeof KIDS, Buffer>;

  beforeAll(async () => {
    const video = fragmentedMp4(dir, 'video.mp4', ['-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=24'], ['-c:v', 'libx264', '-preset', 'ultrafast']);
    const audio = fragmentedMp4(dir, 'audio.mp4', ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'], ['-c:a', 'aac']);
    const constantIv = Buffer.alloc(16, 9);
    inits.sd = encryptInitSegment(video, { kid: KIDS.sd, constantIv });
    inits.hd1 = encryptInitSegment(video, { kid: KIDS.hd1, constantIv });
    inits.audio = encryptInitSegment(audio, { kid: KIDS.audio, constantIv });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    requests.length = 0;
    behaviour.withhold = [];
    behaviour.refuse = undefined;
  });

  const session = () =>
    ClearKeySession.forGrant({
      grant: { titleId: 't1', protection: { scheme: 'cbcs', keySystems: [{ system: 'clearkey', licenseUrl: '/license/clearkey?session=s1' }] } } as unknown as PlaybackGrant,
      regions: [{ name: 'A us-east-1', apiUrl }],
      token: 'token',
      timeoutMs: 2_000,
      verifyDecryption: false,
    })!;
  const segment = (track: 'video' | 'audio', init: Buffer): ProtectedSegment => ({ track, index: 0, init, body: Buffer.alloc(0) });

  it('asks for the first video and audio keys in one request, and once more for each other video group', async () => {
    const keys = session();

    await keys.prepare([segment('video', inits.sd), segment('audio', inits.audio)]);
    await keys.prepare([segment('video', inits.sd)]);
    await keys.prepare([segment('audio', inits.audio)]);
    await keys.prepare([segment('video', inits.hd1)]);

    expect(requests).toEqual([[KIDS.sd, KIDS.audio], [KIDS.hd1]]);
    expect(await keys.report()).toMatchObject({ licenseRequests: 2, keysGranted: [KIDS.sd, KIDS.audio, KIDS.hd1] });
  });

  it('asks once for a key id two starting segments share', async () => {
    await session().prepare([segment('video', inits.sd), segment('video', inits.sd)]);

    expect(requests).toEqual([[KIDS.sd]]);
  });

  it('ends the play naming the key a license left out, and keeps none of that license\'s keys', async () => {
    behaviour.withhold = [KIDS.audio];
    const keys = session();

    await expect(keys.prepare([segment('video', inits.sd), segment('audio', inits.audio)])).rejects.toThrow(
      new ProtectionError(`region A us-east-1's ClearKey license has no 16-byte 'oct' key for key id ${KIDS.audio}`),
    );
    expect((await keys.report()).keysGranted).toEqual([]);
  });

  it('ends the play on a refusal, naming every key asked for and the route\'s reason', async () => {
    behaviour.refuse = 403;

    await expect(session().prepare([segment('video', inits.hd1), segment('audio', inits.audio)])).rejects.toThrow(
      `region A us-east-1 refused the ClearKey license for keys ${KIDS.hd1}, ${KIDS.audio}: HTTP 403 key-not-granted: not on this plan`,
    );
    expect(requests).toHaveLength(1);
  });
});
