import { Holdings, holdingsDigest, holdingsOf } from '../../../lambda/fleet/fleet-protocol';
import { placementOrder, SignedFillManifest } from '../../../lambda/shared/fill-manifest';

/**
 * Titles that arrived (a fill in progress) are told at most this often: steering just does not use
 * the new copies yet. A title lost, or a new generation, is told at once.
 */
export const ADDITIONS_INTERVAL_MS = 5 * 60_000;

/** What the control plane last acknowledged holding for this node. */
interface Acknowledged {
  readonly digest: string;
  readonly generation: number;
  readonly titles: ReadonlySet<string>;
}

/**
 * Decides when a report carries the node's holdings: only when they differ from what the control
 * plane acknowledged, and then at once if anything was lost or the generation changed, else (only
 * additions) at most every `ADDITIONS_INTERVAL_MS`. A node that just started has nothing
 * acknowledged and always sends them.
 */
export class HoldingsTracker {
  private acknowledged?: Acknowledged;
  private lastSentAtMs = -Infinity;

  /** The holdings to send with this report, or undefined when the control plane has them (or they can wait). */
  toSend(manifest: SignedFillManifest | undefined, applianceId: string, held: ReadonlySet<string>, nowMs: number): Holdings | undefined {
    if (!manifest) {
      return undefined;
    }
    const holdings = holdingsOf(manifest.generation, placementOrder(manifest, applianceId), held);
    const acknowledged = this.acknowledged;
    if (acknowledged?.digest === holdingsDigest(holdings)) {
      return undefined;
    }
    const urgent =
      acknowledged === undefined ||
      acknowledged.generation !== holdings.generation ||
      [...acknowledged.titles].some((titleId) => !held.has(titleId));
    if (!urgent && nowMs - this.lastSentAtMs < ADDITIONS_INTERVAL_MS) {
      return undefined;
    }
    this.lastSentAtMs = nowMs;
    return holdings;
  }

  /** What the control plane answered it stores; `held` is what the node held when it reported. */
  acknowledge(stored: { readonly digest: string; readonly generation: number } | null | undefined, held: ReadonlySet<string>, sent: Holdings | undefined): void {
    if (stored && sent && stored.digest === holdingsDigest(sent)) {
      this.acknowledged = { digest: stored.digest, generation: stored.generation, titles: held };
    } else if (stored?.digest !== this.acknowledged?.digest) {
      // The control plane has nothing, or not what the node last had acknowledged (a restore, a lost write): send at once.
      this.acknowledged = undefined;
    }
  }
}
