// The live platform panel: `/api/status` every 2 s, drawn as the regions and the appliances. When
// the status cannot be read, the last good view stays up, marked as stale, with the reason.

import { byId, el, formatBytes, formatTime, health, swatch } from './view.js';

const POLL_MS = 2_000;
const TIMEOUT_MS = 5_000;

function renderRegions(regions) {
  byId('regions-body').replaceChildren(
    ...regions.map((region) =>
      el(
        'tr',
        {},
        el('th', { scope: 'row' }, region.name),
        el('td', {}, health(region.healthy)),
        el('td', { class: 'number' }, region.streamStartsPerSecond === undefined ? '—' : region.streamStartsPerSecond.toFixed(2)),
        el('td', { class: 'number' }, region.playFailuresLastMinute === undefined ? '—' : String(region.playFailuresLastMinute)),
        el('td', {}, region.detail),
      ),
    ),
  );
}

function renderAppliances(appliances) {
  byId('appliances-body').replaceChildren(
    ...(appliances.length === 0
      ? [el('tr', {}, el('td', { colspan: 6, class: 'muted' }, 'No appliances registered'))]
      : appliances.map((appliance) =>
          el(
            'tr',
            {},
            el('th', { scope: 'row' }, swatch(appliance.applianceId), appliance.applianceId, el('br'), el('code', { class: 'muted' }, appliance.baseUrl)),
            el('td', {}, appliance.clusterId, el('br'), el('span', { class: 'muted' }, appliance.region)),
            el('td', {}, health(appliance.healthy)),
            el('td', { class: 'number' }, String(appliance.titlesHeld)),
            el('td', { class: 'number' }, formatBytes(appliance.bytesServed)),
            el('td', {}, appliance.lastFill ? [appliance.lastFill.result, el('br'), el('span', { class: 'muted' }, formatTime(appliance.lastFill.at))] : 'never'),
          ),
        )),
  );
}

/**
 * Polls the status until the page goes; `onRegions` hears each region list, so calls can try the
 * healthy regions first.
 */
export function startStatusPanel(onRegions) {
  const updated = byId('status-updated');
  const problem = byId('status-problem');
  const poll = async () => {
    try {
      const response = await fetch('/api/status', { signal: AbortSignal.timeout(TIMEOUT_MS), cache: 'no-store' });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        throw new Error(`HTTP ${response.status} ${body.message ?? ''}`.trim());
      }
      renderRegions(body.regions ?? []);
      renderAppliances(body.appliances ?? []);
      onRegions(body.regions ?? []);
      updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
      byId('platform').classList.remove('stale');
      problem.hidden = true;
    } catch (error) {
      byId('platform').classList.add('stale');
      problem.hidden = false;
      problem.textContent = `Status unavailable (showing the last known view): ${error.message}`;
    } finally {
      setTimeout(poll, POLL_MS);
    }
  };
  return poll();
}
