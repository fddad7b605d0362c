import { CatalogTitle } from '../catalog/catalog';

export interface TitleSource {
  get(titleId: string): Promise<CatalogTitle | undefined>;
}

export interface TitleCacheOptions {
  /** A title read longer ago than this is read again. */
  readonly maxAgeMs: number;
  /**
   * Titles kept at most; past it the longest-held goes first.
   * @default 1000
   */
  readonly maxEntries?: number;
}

/**
 * Catalog titles kept in the play function's memory for a few seconds, so a popular title costs
 * one table read per few seconds rather than one per play. Only titles found are kept: a title
 * just published plays at once, and a change to one (withdrawn, a new availability window)
 * reaches plays within `maxAgeMs`; availability itself is still judged at each play's time.
 * Plays that miss together share one read.
 */
export class TitleCache implements TitleSource {
  private readonly entries = new Map<string, { title: Promise<CatalogTitle | undefined>; readAtMs: number }>();
  private readonly maxEntries: number;

  constructor(
    private readonly source: TitleSource,
    private readonly options: TitleCacheOptions,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.maxEntries = options.maxEntries ?? 1000;
  }

  get(titleId: string): Promise<CatalogTitle | undefined> {
    const now = this.nowMs();
    const cached = this.entries.get(titleId);
    if (cached && now - cached.readAtMs < this.options.maxAgeMs) {
      return cached.title;
    }
    const entry = { title: this.source.get(titleId), readAtMs: now };
    const forget = () => {
      if (this.entries.get(titleId) === entry) {
        this.entries.delete(titleId);
      }
    };
    entry.title.then((title) => {
      if (!title) {
        forget();
      }
    }, forget);
    this.entries.delete(titleId);
    this.entries.set(titleId, entry);
    if (this.entries.size > this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value!);
    }
    return entry.title;
  }
}
