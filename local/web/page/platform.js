// The page's side of the control plane: the dev viewer's login and calls to the regions, with the
// same failover a real client has (a network error or a 5xx moves on to the next region; a 4xx is
// the answer).

const CLIENT_ID = 'nearstream-local';
const REQUEST_TIMEOUT_MS = 8_000;

/** What a failed answer says, from the handlers' `{ error, message }` body when there is one. */
async function describeFailure(response) {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text);
    return [body.error, body.message].filter(Boolean).join(': ') || text;
  } catch {
    return text.slice(0, 200);
  }
}

/** Logs in with the password grant; resolves to the access token. */
export async function login({ tokenUrl, username, password }) {
  const body = new URLSearchParams({ grant_type: 'password', username, password, client_id: CLIENT_ID });
  let response;
  try {
    response = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    throw new Error(`login: ${tokenUrl} did not answer (${error.message})`);
  }
  if (!response.ok) {
    throw new Error(`login: ${tokenUrl} refused the dev viewer '${username}' with HTTP ${response.status} ${await describeFailure(response)}`);
  }
  const grant = await response.json();
  if (typeof grant.access_token !== 'string' || grant.access_token === '') {
    throw new Error(`login: ${tokenUrl} answered without access_token`);
  }
  return grant.access_token;
}

export class RegionClient {
  /**
   * @param {{ regions: {name: string, apiUrl: string}[], login: object, onFailover: (region: string, reason: string) => void }} options
   */
  constructor({ regions, login: credentials, onFailover }) {
    if (regions.length === 0) {
      throw new Error('config.regions: the page needs at least one region');
    }
    this.regions = regions;
    this.credentials = credentials;
    this.onFailover = onFailover;
    this.unhealthy = new Set();
    this.token = undefined;
  }

  async login() {
    this.token = await login(this.credentials);
  }

  /** What the live status says is down; those regions are tried last, not skipped. */
  setUnhealthy(names) {
    this.unhealthy = new Set(names);
  }

  ordered(preferred) {
    const rank = (region) => (region.name === preferred ? 0 : this.unhealthy.has(region.name) ? 2 : 1);
    return [...this.regions].sort((a, b) => rank(a) - rank(b));
  }

  async send(region, method, path, body, keepalive) {
    const headers = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
    }
    return fetch(new URL(path, region.apiUrl), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      keepalive,
      // A page being closed cannot wait; everything else gives up on a silent region in time to try the next.
      signal: keepalive ? undefined : AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  }

  /**
   * Calls `path` on the regions in order (`preferred` first, then healthy, then the rest) until
   * one answers below 500. Resolves to `{ region, body }`; a 4xx is the answer, not retried elsewhere.
   */
  async call(method, path, { body, preferred, keepalive = false } = {}) {
    const failures = [];
    for (const region of this.ordered(preferred)) {
      let response;
      try {
        response = await this.send(region, method, path, body, keepalive);
        if (response.status === 401) {
          await this.login();
          response = await this.send(region, method, path, body, keepalive);
        }
      } catch (error) {
        failures.push(`${region.name}: ${error.message}`);
        this.onFailover(region.name, `${method} ${path}: ${error.message}`);
        continue;
      }
      if (response.status >= 500) {
        const reason = `HTTP ${response.status} ${await describeFailure(response)}`;
        failures.push(`${region.name}: ${reason}`);
        this.onFailover(region.name, `${method} ${path}: ${reason}`);
        continue;
      }
      if (!response.ok) {
        throw new Error(`${region.name} refused ${method} ${path} with HTTP ${response.status} ${await describeFailure(response)}`);
      }
      return { region: region.name, body: response.status === 204 ? undefined : await response.json() };
    }
    throw new Error(`no region answered ${method} ${path}: ${failures.join('; ')}`);
  }
}

const CODEC_PROBES = {
  avc1: 'video/mp4; codecs="avc1.64001f"',
  av01: 'video/mp4; codecs="av01.0.05M.08"',
  hvc1: 'video/mp4; codecs="hvc1.1.6.L93.B0"',
};

/** The configured codecs this browser's MediaSource decodes, in the configured order. */
export function supportedCodecs(codecs) {
  return codecs.filter((codec) => CODEC_PROBES[codec] !== undefined && MediaSource.isTypeSupported(CODEC_PROBES[codec]));
}

/** The EME configuration hls.js asks ClearKey for: cbcs fMP4 with H.264 and AAC, key ids from playlists or a pssh. */
const CLEARKEY_CONFIGURATION = {
  initDataTypes: ['keyids', 'cenc'],
  videoCapabilities: [{ contentType: 'video/mp4; codecs="avc1.64001f"' }],
  audioCapabilities: [{ contentType: 'audio/mp4; codecs="mp4a.40.2"' }],
};

/** The key systems, by the platform's names, this browser's EME offers: ClearKey when it has it. */
export async function supportedKeySystems() {
  if (typeof navigator.requestMediaKeySystemAccess !== 'function') {
    return [];
  }
  try {
    await navigator.requestMediaKeySystemAccess('org.w3.clearkey', [CLEARKEY_CONFIGURATION]);
    return ['clearkey'];
  } catch {
    return [];
  }
}
