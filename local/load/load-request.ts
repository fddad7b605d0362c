/** One request a load generator sends, built per request so each can differ (another viewer, say). */
export interface LoadRequest {
  /** @default 'GET' */
  readonly method?: string;
  /** Path and query below the target URL, e.g. `/play`. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** Builds request number `index`, counting from 0 (warmup included). */
export type LoadRequestFactory = (index: number) => LoadRequest;

/** Adds one to `counts[key]`. */
export function tally(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
