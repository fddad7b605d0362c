// Draws the current play from `window.nearstream` and the grant: facts, the segment strip coloured
// per appliance, the ladder with the current rung, the ranked sources and the moves between them.

import { applianceColour, byId, el, formatSeconds, swatch } from './view.js';

const PHASES = {
  login: 'Logging in',
  loading: 'Loading',
  playing: 'Playing',
  ended: 'Ended',
  error: 'Stopped by an error',
};

function fact(term, ...value) {
  return [el('dt', {}, term), el('dd', {}, ...value)];
}

function protectionFact(grant, state) {
  if (!grant) {
    return '—';
  }
  if (!grant.protection) {
    return 'none (clear)';
  }
  const licenses = state.protection ? ` — ${state.protection.licensesGranted} of ${state.protection.licenseRequests} license request(s) granted` : '';
  return `protected (ClearKey)${licenses}`;
}

function renderFacts(state, grant, player, telemetry) {
  const current = player && player.index >= 0 ? player.sources[player.index]?.applianceId : undefined;
  byId('facts').replaceChildren(
    ...fact('Phase', el('span', { class: `phase ${state.phase}` }, PHASES[state.phase] ?? state.phase)),
    ...fact('Region', state.region ?? '—'),
    ...fact('Session', el('code', {}, state.sessionId ?? '—')),
    ...fact('Codec', grant?.codec ?? '—'),
    ...fact('Protection', protectionFact(grant, state)),
    ...fact('Serving appliance', current ? [swatch(current), current] : '—'),
    ...fact('Steering', grant ? (grant.steering?.degraded ? 'degraded (stale fleet view)' : 'normal') : '—'),
    ...fact('Position', `${formatSeconds(state.currentTime)} of ${formatSeconds(state.duration)}`),
    ...fact('Buffer ahead', formatSeconds(state.bufferSeconds)),
    ...fact('Throughput estimate', state.throughputKbps === null ? '—' : `${state.throughputKbps.toLocaleString()} kbps`),
    ...fact('Level switches', String(state.switches)),
    ...fact('Telemetry', telemetry ? `${telemetry.counts.sent} sent, ${telemetry.counts.failed} failed${telemetry.counts.lastFailure ? ` (last: ${telemetry.counts.lastFailure})` : ''}` : '—'),
  );
}

function renderStrip(state) {
  const counts = new Map();
  for (const segment of state.segments) {
    counts.set(segment.source, (counts.get(segment.source) ?? 0) + 1);
  }
  const summary = [...counts].map(([source, count]) => `${count} from ${source}`).join(', ');
  const strip = byId('segment-strip');
  strip.setAttribute('aria-label', state.segments.length === 0 ? 'No segments loaded yet' : `Segments loaded: ${summary}`);
  strip.replaceChildren(
    ...state.segments.map((segment) =>
      el('li', { class: 'segment', colour: applianceColour(segment.source), title: `segment ${segment.sn} · ${segment.height ?? '?'}p · ${segment.source}` }, String(segment.sn)),
    ),
  );
  byId('segment-legend').replaceChildren(...[...counts].map(([source, count]) => el('li', {}, swatch(source), `${source}: ${count} segment${count === 1 ? '' : 's'}`)));
}

function renderLadder(grant, player, state) {
  const currentHeight = player?.levels[state.currentLevel]?.height;
  const rungs = [...(grant?.renditions ?? [])].sort((a, b) => b.height - a.height);
  byId('ladder-body').replaceChildren(
    ...rungs.map((rung) => {
      const current = rung.height === currentHeight;
      return el(
        'tr',
        { class: current ? 'current' : undefined, 'aria-current': current ? 'true' : undefined },
        el('td', {}, current ? '▶ ' : '', `${rung.height}p`),
        el('td', {}, `${rung.width}×${rung.height}`),
        el('td', { class: 'number' }, rung.bitrateKbps.toLocaleString()),
      );
    }),
  );
}

function renderSources(grant, player, state) {
  const failed = new Set(state.failovers.map((move) => move.from));
  byId('sources').replaceChildren(
    ...(grant?.sources ?? []).map((source, rank) => {
      if (source.tier !== 'appliance') {
        return el('li', { class: 'skipped' }, `origin tier — skipped in the browser (needs signed cookies on its own domain; the CLI player's last resort)`);
      }
      const current = player?.sources[player.index] === source && state.phase !== 'error';
      const note = failed.has(source.applianceId) ? 'failed' : current ? 'serving' : 'standing by';
      return el(
        'li',
        { class: current ? 'current' : undefined },
        swatch(source.applianceId),
        `${source.applianceId} `,
        el('span', { class: 'muted' }, `#${rank + 1}, cluster ${source.clusterId}, matched by ${source.matchedBy} — ${note}`),
      );
    }),
  );
  byId('failovers').replaceChildren(
    ...(state.failovers.length === 0
      ? [el('li', { class: 'muted' }, 'None')]
      : state.failovers.map((move) => el('li', {}, `${move.from} → ${move.to}: ${move.reason}`))),
  );
}

/** Redraws the play panel; cheap enough to run on every change. */
export function renderPlay({ state, titleName, grant, player, telemetry }) {
  byId('title-name').textContent = titleName ?? state.titleId ?? '—';
  renderFacts(state, grant, player, telemetry);
  renderStrip(state);
  renderLadder(grant, player, state);
  renderSources(grant, player, state);
}

/** The catalog as links; the one playing is marked. */
export function renderTitles(titles, playingId) {
  byId('titles').replaceChildren(
    ...titles.map((title) =>
      el(
        'li',
        {},
        el('a', { href: `?title=${encodeURIComponent(title.titleId)}`, 'aria-current': title.titleId === playingId ? 'page' : undefined }, title.name || title.titleId),
        el('span', { class: 'muted' }, ` ${Math.round(title.durationSeconds ?? 0)} s, ${Object.keys(title.renditions ?? {}).join(', ') || 'no renditions'}`),
      ),
    ),
  );
}
