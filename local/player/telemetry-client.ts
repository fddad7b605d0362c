import { endpoint, RegionEndpoint } from './control-plane-client';
import { fetchBody, FetchError } from './http-fetch';

/** The `/events` protocol's event types (`lambda/telemetry/telemetry.ts`). */
export type TelemetryEventType = 'start' | 'heartbeat' | 'rebuffer' | 'bitrate-switch' | 'error' | 'stop';

export interface TelemetryEventFields {
  readonly positionSeconds?: number;
  readonly bitrateKbps?: number;
  readonly fatal?: boolean;
  readonly code?: string;
}

interface TelemetryEvent extends TelemetryEventFields {
  readonly type: TelemetryEventType;
  readonly sessionId: string;
  readonly at: string;
}

export interface TelemetryCounts {
  /** Events a region took (2xx). */
  readonly sent: number;
  /** Events no region took. */
  readonly failed: number;
  /** Events a region took but rejected one by one. */
  readonly rejected: number;
}

const MAX_EVENTS_PER_BATCH = 100;

/**
 * Sends a session's telemetry in the background, in order, batching what piles up while a batch
 * is in flight: to the region that granted the play, else to the others in turn. A batch no
 * region takes is counted and reported, never thrown: telemetry does not stop a play.
 */
export class TelemetryClient {
  private readonly queue: TelemetryEvent[] = [];
  private flushing?: Promise<void>;
  private counts = { sent: 0, failed: 0, rejected: 0 };

  constructor(
    /** The granting region first. */
    private readonly regions: readonly RegionEndpoint[],
    private readonly token: string,
    private readonly sessionId: string,
    private readonly timeoutMs: number,
    private readonly onFailed: (events: number, reason: string) => void,
  ) {}

  get totals(): TelemetryCounts {
    return { ...this.counts };
  }

  send(type: TelemetryEventType, fields: TelemetryEventFields = {}): void {
    const { positionSeconds, bitrateKbps, fatal, code } = fields;
    this.queue.push({
      type,
      sessionId: this.sessionId,
      at: new Date().toISOString(),
      ...(positionSeconds === undefined ? {} : { positionSeconds: Math.round(Math.max(0, positionSeconds) * 1000) / 1000 }),
      ...(bitrateKbps === undefined ? {} : { bitrateKbps: Math.max(1, Math.round(bitrateKbps)) }),
      ...(fatal === undefined ? {} : { fatal }),
      ...(code === undefined ? {} : { code: code.slice(0, 64) }),
    });
    this.flushing ??= this.flush().finally(() => {
      this.flushing = undefined;
    });
  }

  /** Resolves once everything sent so far was delivered or given up on. */
  async drain(): Promise<void> {
    while (this.flushing) {
      await this.flushing;
    }
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_EVENTS_PER_BATCH);
      const reasons: string[] = [];
      let delivered = false;
      for (const region of this.regions) {
        try {
          const { body } = await fetchBody(endpoint(region, '/events'), {
            method: 'POST',
            timeoutMs: this.timeoutMs,
            headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ events: batch }),
          });
          this.counts.sent += batch.length;
          this.counts.rejected += rejectedCount(body);
          delivered = true;
          break;
        } catch (error) {
          if (!(error instanceof FetchError)) {
            throw error;
          }
          reasons.push(`${region.name}: ${error.message}`);
        }
      }
      if (!delivered) {
        this.counts.failed += batch.length;
        this.onFailed(batch.length, reasons.join('; '));
      }
    }
  }
}

function rejectedCount(body: Buffer): number {
  try {
    const answer = JSON.parse(body.toString('utf8')) as { rejected?: unknown };
    return Array.isArray(answer.rejected) ? answer.rejected.length : 0;
  } catch {
    return 0;
  }
}
