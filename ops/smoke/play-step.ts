import { formatProgress, play, PlayReport } from '../../local/player';
import { RegionTarget } from './api-client';

/** Media seconds the scripted play asks for: the first two segments of each track, give or take. */
export const SMOKE_PLAY_SECONDS = 12;

export interface ScriptedPlay {
  readonly report: PlayReport;
  /** Where the first video segment came from: an appliance id, or `origin`. */
  readonly firstSource: string;
}

/**
 * Plays the start of a title as a viewer's player would, through the CLI player: both regions
 * offered (the primary first), as fast as the network allows. Throws naming what went wrong
 * unless the play completed without error and fetched the first segment of every track it played.
 */
export async function scriptedPlay(regions: readonly RegionTarget[], token: string, titleId: string, note: (line: string) => void): Promise<ScriptedPlay> {
  const report = await play({
    regions: regions.map((region) => ({ name: region.name, apiUrl: region.apiUrl })),
    token,
    titleId,
    speed: Number.POSITIVE_INFINITY,
    maxSeconds: SMOKE_PLAY_SECONDS,
    onEvent: (event) => {
      const line = event.type === 'segment' ? undefined : formatProgress(event);
      if (line) {
        note(line);
      }
    },
  });
  const problems = playProblems(report);
  if (problems.length > 0) {
    const error = new Error(`the play of ${titleId} ${problems.join('; ')}`);
    Object.assign(error, { report });
    throw error;
  }
  const firstVideo = report.segments.find((segment) => segment.track === 'video' && segment.index === 0)!;
  return { report, firstSource: firstVideo.source };
}

/** What is wrong with a play the smoke test should accept; empty when nothing is. */
export function playProblems(report: PlayReport): string[] {
  const problems: string[] = [];
  if (!report.completed || report.errors.length > 0) {
    problems.push(`did not complete: ${report.errors.join('; ') || 'no error given'}`);
  }
  const tracks = new Set(report.segments.map((segment) => segment.track));
  if (!tracks.has('video')) {
    problems.push('fetched no video segment');
  }
  for (const track of tracks) {
    if (!report.segments.some((segment) => segment.track === track && segment.index === 0)) {
      problems.push(`never fetched the first ${track} segment`);
    }
  }
  return problems;
}
