import { Browser, chromium, Page } from 'playwright-core';

/** Debian's chromium: H.264 and AV1 through MediaSource, no HEVC. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

export type PlayPhase = 'login' | 'loading' | 'playing' | 'ended' | 'error';

export interface PlayedSegment {
  readonly sn: number;
  /** hls.js's level index, and that level's picture height. */
  readonly level: number;
  readonly height: number | null;
  /** The applianceId whose source URL has the fragment's host:port. */
  readonly source: string;
}

export interface SourceMove {
  readonly from: string;
  /** The next appliance, or `none` when the grant had no more. */
  readonly to: string;
  readonly reason: string;
}

/** The page's `window.nearstream`: the current play as plain data. */
export interface WindowPlayState {
  readonly phase: PlayPhase;
  readonly error?: string;
  readonly titleId: string | null;
  readonly sessionId: string | null;
  /** The region that granted the play. */
  readonly region: string | null;
  /** The appliance sources the page plays, best first (the origin tier is skipped in a browser). */
  readonly sources: string[];
  readonly segments: PlayedSegment[];
  /** How many times hls.js switched rendition after the first. */
  readonly switches: number;
  readonly failovers: SourceMove[];
  readonly currentLevel: number | null;
  readonly bufferSeconds: number | null;
  readonly throughputKbps: number | null;
  readonly currentTime: number;
  readonly duration: number | null;
  /** For a protected grant: the EME key system and the license requests hls.js made for it. */
  readonly protection: { readonly keySystem: string; readonly scheme: string; readonly licenseRequests: number; readonly licensesGranted: number } | null;
}

/** Headless chromium that plays muted video without a gesture. Close it. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'],
  });
}

export interface PlayInBrowserOptions {
  /** @default 60_000 - for opening the page and playing to the end */
  readonly timeoutMs?: number;
  /** Hears the state about every 250 ms; awaited before the next look. */
  readonly onProgress?: (state: WindowPlayState) => void | Promise<void>;
}

const POLL_MS = 250;

/** Reads `window.nearstream` without DOM types: the expression runs in the page. */
function readState(page: Page): Promise<WindowPlayState | null> {
  return page.evaluate('window.nearstream ?? null') as Promise<WindowPlayState | null>;
}

/**
 * Opens the console page in headless chromium and waits until its play has ended or failed;
 * resolves to `window.nearstream` then. The browser is closed whatever happens.
 */
export async function playInBrowser(pageUrl: string, options: PlayInBrowserOptions = {}): Promise<WindowPlayState> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(pageUrl, { timeout: timeoutMs });
    for (;;) {
      const state = await readState(page);
      if (state) {
        await options.onProgress?.(state);
        if (state.phase === 'ended' || state.phase === 'error') {
          return state;
        }
      }
      if (Date.now() > deadline) {
        const where = state ? `phase ${state.phase} at ${state.currentTime} s` : 'window.nearstream never appeared';
        const errors = pageErrors.length > 0 ? `; page errors: ${pageErrors.join('; ')}` : '';
        throw new Error(`${pageUrl}: the play did not end within ${timeoutMs} ms (${where})${errors}`);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    await browser.close();
  }
}
