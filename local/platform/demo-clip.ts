import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The generated demo: 20 s of a moving test pattern with a tone, at 720p: short to encode, long enough to switch renditions. */
const DEMO = { name: 'nearstream-demo.mp4', seconds: 20, size: '1280x720', rate: 24 };

/** Makes the demo clip with ffmpeg once and keeps it in `mediaDir`; a restart reuses it. */
export async function makeDemoClip(mediaDir: string, note: (line: string) => void, signal?: AbortSignal): Promise<string> {
  const file = path.join(mediaDir, DEMO.name);
  if (fs.existsSync(file)) {
    return file;
  }
  const partial = `${file}.partial.mp4`;
  await run('ffmpeg', [
    '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${DEMO.size}:rate=${DEMO.rate}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:beep_factor=4:sample_rate=48000',
    '-t', String(DEMO.seconds), '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-shortest', partial,
  ], { signal });
  fs.renameSync(partial, file);
  note(`made a ${DEMO.seconds} s ${DEMO.size} test clip with ffmpeg: ${file}`);
  return file;
}
