// The player's telemetry to `POST /events`: what the control plane turns into stream starts, leases
// and watch positions. A lost batch is counted and shown, never allowed to stop playback.

/** Positions are kept to the millisecond, as `/events` accepts them. */
export function positionSeconds(seconds) {
  return Math.max(0, Math.round(seconds * 1000) / 1000);
}

export class Telemetry {
  /**
   * @param {{ client: import('./platform.js').RegionClient, region: string, sessionId: string, leaseSeconds: number, onChange: () => void }} options
   */
  constructor({ client, region, sessionId, leaseSeconds, onChange }) {
    this.client = client;
    this.region = region;
    this.sessionId = sessionId;
    this.leaseSeconds = leaseSeconds;
    this.onChange = onChange;
    this.counts = { sent: 0, failed: 0, lastFailure: '' };
    this.heartbeat = undefined;
    this.stopped = false;
  }

  /** `fields`: positionSeconds, bitrateKbps, fatal, code, as far as the event has them. */
  send(type, fields = {}, { keepalive = false } = {}) {
    if (this.stopped) {
      return;
    }
    const event = { type, sessionId: this.sessionId, at: new Date().toISOString() };
    if (fields.positionSeconds !== undefined) {
      event.positionSeconds = positionSeconds(fields.positionSeconds);
    }
    if (fields.bitrateKbps !== undefined && fields.bitrateKbps >= 1) {
      event.bitrateKbps = Math.round(fields.bitrateKbps);
    }
    if (fields.fatal !== undefined) {
      event.fatal = fields.fatal;
    }
    if (fields.code !== undefined) {
      event.code = String(fields.code).slice(0, 64);
    }
    this.client
      .call('POST', '/events', { body: { events: [event] }, preferred: this.region, keepalive })
      .then(() => {
        this.counts.sent++;
      })
      .catch((error) => {
        this.counts.failed++;
        this.counts.lastFailure = `${type}: ${error.message}`;
      })
      .finally(this.onChange);
  }

  /** Starts the heartbeat that keeps the stream's lease: twice per lease. */
  started(position, bitrateKbps) {
    this.send('start', { positionSeconds: position(), bitrateKbps });
    this.heartbeat = setInterval(() => this.send('heartbeat', { positionSeconds: position() }), (this.leaseSeconds * 1000) / 2);
  }

  /** The last event of the session: frees its stream slot. */
  stop(position, { keepalive = false } = {}) {
    this.send('stop', { positionSeconds: position }, { keepalive });
    clearInterval(this.heartbeat);
    this.stopped = true;
  }
}
