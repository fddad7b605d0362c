// The page's entry: log in as the dev viewer, list the catalog, ask a region for a play and hand
// the grant to the player, while the platform panel polls the live status beside it.

import { RegionClient, supportedCodecs, supportedKeySystems } from './platform.js';
import { renderPlay, renderTitles } from './play-view.js';
import { GrantPlayer } from './player.js';
import { startStatusPanel } from './status-panel.js';
import { Telemetry } from './telemetry.js';
import { appendLog, byId, showError } from './view.js';

/** The play as data, for tests and the curious: `window.nearstream`. */
const state = {
  phase: 'login',
  titleId: null,
  sessionId: null,
  region: null,
  sources: [],
  segments: [],
  switches: 0,
  failovers: [],
  currentLevel: null,
  bufferSeconds: null,
  throughputKbps: null,
  currentTime: 0,
  duration: null,
  /** For a protected title: `{ keySystem, licenseRequests, licensesGranted }`. */
  protection: null,
};
window.nearstream = state;

const view = { state, titleName: undefined, grant: undefined, player: undefined, telemetry: undefined };
let renderPending = false;

/** Redraws at most every 100 ms however often the player reports. */
function changed() {
  if (renderPending) {
    return;
  }
  renderPending = true;
  setTimeout(() => {
    renderPending = false;
    renderPlay(view);
    showError(state.phase === 'error' ? state.error : undefined);
  }, 100);
}

async function readConfig() {
  const response = await fetch('/api/config', { cache: 'no-store' });
  if (!response.ok) {
    throw new Error(`/api/config answered HTTP ${response.status}`);
  }
  return response.json();
}

async function main() {
  const config = await readConfig();
  const client = new RegionClient({
    regions: config.regions,
    login: config.login,
    onFailover: (region, reason) => appendLog(`Region ${region} failed (${reason}); trying the next region`),
  });
  const firstStatus = startStatusPanel((regions) => client.setUnhealthy(regions.filter((region) => !region.healthy).map((region) => region.name)));

  byId('viewer').textContent = `Logging in as ${config.login.username}…`;
  await client.login();
  byId('viewer').textContent = `Logged in as ${config.login.username}`;
  appendLog(`Logged in as ${config.login.username}`);
  state.phase = 'loading';
  changed();

  const codecs = supportedCodecs(config.device.codecs);
  if (codecs.length === 0) {
    throw new Error(`config.device.codecs: this browser's MediaSource decodes none of ${config.device.codecs.join(', ')}`);
  }
  await firstStatus;
  const { body: catalog } = await client.call('GET', '/titles');
  const requested = new URLSearchParams(window.location.search).get('title');
  const titleId = requested ?? catalog.titles[0]?.titleId;
  renderTitles(catalog.titles, titleId);
  if (!titleId) {
    throw new Error('the catalog has no playable title yet: encode one, then reload this page');
  }
  state.titleId = titleId;
  view.titleName = catalog.titles.find((title) => title.titleId === titleId)?.name;

  const keySystems = await supportedKeySystems();
  const device = { codecs, maxHeight: config.device.maxHeight, ...(keySystems.length > 0 ? { keySystems } : {}) };
  const { region, body: grant } = await client.call('POST', '/play', { body: { titleId, device } });
  state.sessionId = grant.sessionId;
  state.region = region;
  view.grant = grant;
  appendLog(`${region} granted session ${grant.sessionId}: ${grant.codec}, ${grant.sources.length} ranked source(s)${grant.steering?.degraded ? ', steering degraded' : ''}`);

  view.telemetry = new Telemetry({ client, region, sessionId: grant.sessionId, leaseSeconds: grant.leaseSeconds, onChange: changed });
  // Licenses come from the region that granted the play: its API names the session.
  const licensing = { apiUrl: config.regions.find((entry) => entry.name === region).apiUrl, token: () => client.token };
  view.player = new GrantPlayer({ video: byId('video'), grant, state, telemetry: view.telemetry, licensing, log: appendLog, changed });
  view.player.start();
}

main().catch((error) => {
  if (state.phase === 'login') {
    byId('viewer').textContent = 'Not logged in';
  }
  state.phase = 'error';
  state.error = error.message;
  appendLog(`Error: ${error.message}`);
  changed();
});
