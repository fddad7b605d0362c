// Plays one grant with hls.js: the ranked appliance sources one after another, moving on when a
// source stops serving and resuming where the viewer was. Everything it learns goes into `state`
// (which is `window.nearstream`), plain data only.

/* global Hls */

import { positionSeconds } from './telemetry.js';

/**
 * Short timeouts and one retry: a dead appliance is left within a few seconds instead of the
 * half-minute of retries hls.js defaults to; the next appliance serves the same segments.
 */
function quickPolicy(maxTimeToFirstByteMs, maxLoadTimeMs) {
  return {
    default: {
      maxTimeToFirstByteMs,
      maxLoadTimeMs,
      timeoutRetry: { maxNumRetry: 1, retryDelayMs: 0, maxRetryDelayMs: 0 },
      errorRetry: { maxNumRetry: 1, retryDelayMs: 300, maxRetryDelayMs: 600 },
    },
  };
}

const HLS_CONFIG = {
  manifestLoadPolicy: quickPolicy(3_000, 6_000),
  playlistLoadPolicy: quickPolicy(3_000, 6_000),
  fragLoadPolicy: quickPolicy(3_000, 15_000),
};

/**
 * hls.js asks for one ClearKey license per playlist key ('keyids' init data) rather than for every
 * key id of the init segment's pssh: a play capped below the title's top rung is licensed only
 * the keys of the renditions it was granted, and a request naming another is refused whole.
 */
function keyIdsRequest(initDataType, initData, context) {
  const keyId = context.decryptdata.keyId;
  if (!keyId) {
    return { initDataType, initData };
  }
  const kid = btoa(String.fromCharCode(...keyId)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  return { initDataType: 'keyids', initData: new TextEncoder().encode(JSON.stringify({ kids: [kid] })).buffer };
}

/** What a refused license request's `{ error, message }` answer says. */
function licenseRefusal(xhr) {
  try {
    const body = JSON.parse(new TextDecoder().decode(xhr.response));
    return [body.error, body.message].filter(Boolean).join(': ');
  } catch {
    return '';
  }
}

/** hls.js's NetworkErrorAction.RetryRequest: anything else means it gave up on the request. */
const RETRY_REQUEST = 5;

function hostOf(url) {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
}

/** Seconds buffered ahead of the playhead. */
function bufferAhead(video) {
  for (let i = 0; i < video.buffered.length; i++) {
    if (video.buffered.start(i) <= video.currentTime + 0.1 && video.currentTime < video.buffered.end(i)) {
      return video.buffered.end(i) - video.currentTime;
    }
  }
  return 0;
}

export class GrantPlayer {
  /**
   * @param {{ video: HTMLVideoElement, grant: object, state: object, telemetry: import('./telemetry.js').Telemetry, licensing: { apiUrl: string, token: () => string }, log: (message: string) => void, changed: () => void }} options
   */
  constructor({ video, grant, state, telemetry, licensing, log, changed }) {
    this.video = video;
    this.grant = grant;
    /** `{ apiUrl, token() }`: where a protected grant's licenses come from, and the viewer's token for them. */
    this.licensing = licensing;
    this.state = state;
    this.telemetry = telemetry;
    this.log = log;
    this.changed = changed;
    this.sources = grant.sources.filter((source) => source.tier === 'appliance');
    this.index = -1;
    this.hls = undefined;
    this.levels = [];
    this.mediaRecoveries = 0;
    this.ticker = undefined;
    this.waiting = false;
    /** When the playhead last moved, to see a stall at the very end. */
    this.lastProgress = { time: -1, atMs: 0 };
    /** Where the viewer was when the source moved: the playhead reads 0 until the next source plays. */
    this.resumeAt = undefined;
  }

  position() {
    return this.resumeAt ?? this.video.currentTime;
  }

  start() {
    if (typeof Hls === 'undefined' || !Hls.isSupported()) {
      this.fail('hls.js cannot play in this browser (no MediaSource)');
      return;
    }
    this.state.sources = this.sources.map((source) => source.applianceId);
    if (this.grant.sources.some((source) => source.tier === 'origin')) {
      this.log('The origin tier is skipped here: it needs signed cookies on its own domain, which a page cannot set. The CLI player uses it as its last resort.');
    }
    if (this.sources.length === 0) {
      this.fail('the grant lists no appliance, only the origin tier, which a page cannot play (it needs signed cookies); play it with the CLI player');
      return;
    }
    if (this.grant.protection) {
      const offer = this.grant.protection.keySystems.find((system) => system.system === 'clearkey');
      if (!offer) {
        this.fail(`the title is protected and the grant offers no ClearKey license (offered: ${this.grant.protection.keySystems.map((system) => system.system).join(', ') || 'none'})`);
        return;
      }
      this.drm = { keySystem: offer.keySystem, licenseUrl: new URL(offer.licenseUrl, this.licensing.apiUrl).href };
      this.state.protection = { keySystem: offer.keySystem, scheme: this.grant.protection.scheme, licenseRequests: 0, licensesGranted: 0 };
      this.log(`Protected (${this.grant.protection.scheme}): ClearKey licenses from ${new URL(this.drm.licenseUrl).origin}`);
    }
    this.video.muted = true;
    this.video.addEventListener('playing', () => this.onPlaying());
    this.video.addEventListener('waiting', () => this.onWaiting());
    this.video.addEventListener('ended', () => this.onEnded());
    window.addEventListener('pagehide', () => this.onLeave());
    this.ticker = setInterval(() => this.sample(), 500);
    this.load(0, -1);
  }

  /** The appliance a fragment came from: the ranked source whose URL has the same host:port. */
  sourceOf(url) {
    const host = hostOf(url);
    return this.grant.sources.find((source) => source.tier === 'appliance' && hostOf(source.hls) === host)?.applianceId ?? `unknown (${host})`;
  }

  load(index, startPosition) {
    this.hls?.destroy();
    this.index = index;
    this.mediaRecoveries = 0;
    const source = this.sources[index];
    const hls = new Hls({ ...HLS_CONFIG, ...this.emeConfig(), startPosition });
    this.hls = hls;
    hls.on(Hls.Events.MANIFEST_PARSED, (_, data) => {
      this.levels = data.levels.map((level) => ({ height: level.height, bitrateKbps: Math.round(level.bitrate / 1000) }));
      this.video.play().catch((error) => {
        // A source move replaces the media under a pending play(): that abort is expected.
        if (error.name !== 'AbortError') {
          this.log(`The browser would not start playback: ${error.message}`);
        }
      });
      this.changed();
    });
    hls.on(Hls.Events.FRAG_LOADED, (_, { frag }) => {
      if (hls === this.hls && frag.type === 'main' && typeof frag.sn === 'number') {
        this.state.segments.push({ sn: frag.sn, level: frag.level, height: this.levels[frag.level]?.height ?? null, source: this.sourceOf(frag.url) });
        this.changed();
      }
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_, { level }) => hls === this.hls && this.onLevelSwitched(level));
    hls.on(Hls.Events.ERROR, (_, data) => hls === this.hls && this.onError(data));
    this.log(`Loading from ${source.applianceId} (cluster ${source.clusterId}, matched by ${source.matchedBy})`);
    hls.loadSource(source.hls);
    hls.attachMedia(this.video);
    this.changed();
  }

  /** hls.js's EME settings for a protected grant: ClearKey, the license URL, the viewer's token on each license request. */
  emeConfig() {
    if (!this.drm) {
      return {};
    }
    const protection = this.state.protection;
    const token = this.licensing.token;
    return {
      emeEnabled: true,
      drmSystems: { [this.drm.keySystem]: { licenseUrl: this.drm.licenseUrl, generateRequest: keyIdsRequest } },
      licenseXhrSetup(xhr, url) {
        xhr.open('POST', url, true);
        xhr.setRequestHeader('authorization', `Bearer ${token()}`);
        xhr.setRequestHeader('content-type', 'application/json');
        protection.licenseRequests++;
      },
      licenseResponseCallback(xhr) {
        protection.licensesGranted++;
        return xhr.response;
      },
    };
  }

  onLevelSwitched(level) {
    const previous = this.state.currentLevel;
    this.state.currentLevel = level;
    // Before the first frame the level is still being chosen, not switched.
    if (previous !== null && previous !== level && this.state.phase === 'playing') {
      this.state.switches++;
      this.telemetry.send('bitrate-switch', { positionSeconds: this.position(), bitrateKbps: this.levels[level]?.bitrateKbps });
      this.log(`Switched to ${this.levels[level]?.height}p (${this.levels[level]?.bitrateKbps} kbps)`);
    }
    this.changed();
  }

  onError(data) {
    const answer = data.response ? (data.response.code ? `HTTP ${data.response.code}` : 'no HTTP answer') : data.error?.message?.trim();
    const what = `${data.details}${data.frag && typeof data.frag.sn === 'number' ? ` on segment ${data.frag.sn}` : ''}${answer ? ` (${answer})` : ''}`;
    const gaveUpOnFragment =
      (data.details === Hls.ErrorDetails.FRAG_LOAD_ERROR || data.details === Hls.ErrorDetails.FRAG_LOAD_TIMEOUT) &&
      data.errorAction !== undefined &&
      data.errorAction.action !== RETRY_REQUEST;
    if (data.type === Hls.ErrorTypes.KEY_SYSTEM_ERROR && data.fatal) {
      // Another appliance serves the same keys: a refused or failed license is the play's end.
      const refusal = data.networkDetails instanceof XMLHttpRequest ? licenseRefusal(data.networkDetails) : '';
      this.telemetry.send('error', { positionSeconds: this.position(), fatal: true, code: data.details });
      this.fail(`the ClearKey license was not granted: ${what}${refusal ? `: ${refusal}` : ''}`);
      return;
    }
    if (data.fatal && data.type === Hls.ErrorTypes.MEDIA_ERROR && this.mediaRecoveries === 0) {
      this.mediaRecoveries++;
      this.log(`Recovering from a media error: ${what}`);
      this.hls.recoverMediaError();
    } else if (data.fatal || gaveUpOnFragment) {
      this.moveOn(data.details, what);
    }
  }

  /** Leaves the current source for the next ranked one, at the viewer's position. */
  moveOn(code, reason) {
    const from = this.sources[this.index].applianceId;
    const next = this.sources[this.index + 1];
    const position = this.position();
    this.state.failovers.push({ from, to: next?.applianceId ?? 'none', reason });
    this.telemetry.send('error', { positionSeconds: position, fatal: next === undefined, code });
    if (next === undefined) {
      this.fail(`every appliance in the grant failed (last: ${from}, ${reason}); the origin tier needs signed cookies a page cannot set, so only the CLI player can fall back to it`);
      return;
    }
    this.log(`${from} failed: ${reason}; moving to ${next.applianceId} at ${positionSeconds(position)} s`);
    this.resumeAt = position;
    this.load(this.index + 1, position);
  }

  onPlaying() {
    if (this.state.phase === 'loading') {
      this.state.phase = 'playing';
      this.telemetry.started(() => this.position(), this.levels[this.hls?.currentLevel]?.bitrateKbps);
      this.log('Playing');
    }
    this.waiting = false;
    this.resumeAt = undefined;
    this.changed();
  }

  onWaiting() {
    if (this.state.phase === 'playing' && !this.waiting) {
      this.waiting = true;
      this.telemetry.send('rebuffer', { positionSeconds: this.position() });
    }
  }

  onEnded() {
    if (this.state.phase !== 'playing') {
      return;
    }
    this.state.phase = 'ended';
    this.sample();
    this.telemetry.stop(this.video.currentTime);
    clearInterval(this.ticker);
    this.log('Ended');
    this.changed();
  }

  /**
   * Tracks whose last frames end a few tens of milliseconds apart can leave the media element
   * waiting just short of the duration, never firing `ended`; players treat a playhead that stopped
   * within half a second of the end for a second as the end.
   */
  endIfStuckAtTheEnd() {
    if (this.state.phase !== 'playing' || !Number.isFinite(this.video.duration)) {
      return;
    }
    const now = performance.now();
    if (this.video.currentTime !== this.lastProgress.time) {
      this.lastProgress = { time: this.video.currentTime, atMs: now };
    } else if (this.video.duration - this.video.currentTime < 0.5 && now - this.lastProgress.atMs >= 1000) {
      this.onEnded();
    }
  }

  onLeave() {
    if (this.state.phase === 'playing' || this.state.phase === 'loading') {
      this.telemetry.stop(this.position(), { keepalive: true });
    }
  }

  fail(message) {
    this.state.phase = 'error';
    this.state.error = message;
    this.telemetry.stop(this.position());
    clearInterval(this.ticker);
    this.hls?.destroy();
    this.hls = undefined;
    this.changed();
  }

  sample() {
    this.endIfStuckAtTheEnd();
    this.state.currentTime = positionSeconds(this.position());
    this.state.duration = Number.isFinite(this.video.duration) ? positionSeconds(this.video.duration) : null;
    this.state.bufferSeconds = positionSeconds(bufferAhead(this.video));
    this.state.throughputKbps = this.hls && Number.isFinite(this.hls.bandwidthEstimate) ? Math.round(this.hls.bandwidthEstimate / 1000) : null;
    this.changed();
  }
}
