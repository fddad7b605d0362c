import { CatalogTitle } from '../../../lambda/catalog/catalog';
import { TitleCache } from '../../../lambda/playback/title-cache';
import { catalogTitle } from '../../support/fixtures';

/** A catalog that counts its reads and answers from a map the test changes. */
class CountingCatalog {
  readonly titles = new Map<string, CatalogTitle>();
  reads = 0;
  failing = false;

  get = async (titleId: string): Promise<CatalogTitle | undefined> => {
    this.reads++;
    if (this.failing) {
      throw new Error('table unreachable');
    }
    return this.titles.get(titleId);
  };
}

describe('the play function\'s title cache', () => {
  let nowMs: number;
  let catalog: CountingCatalog;
  let cache: TitleCache;

  beforeEach(() => {
    nowMs = 0;
    catalog = new CountingCatalog();
    catalog.titles.set('movie-1', catalogTitle('movie-1'));
    cache = new TitleCache(catalog, { maxAgeMs: 5000 }, () => nowMs);
  });

  it('reads a title once for the plays within maxAgeMs, and again after it', async () => {
    await cache.get('movie-1');
    nowMs = 4999;
    await cache.get('movie-1');
    const readsWithin = catalog.reads;
    catalog.titles.set('movie-1', catalogTitle('movie-1', { status: 'failed' }));
    nowMs = 5000;

    expect(readsWithin).toBe(1);
    expect((await cache.get('movie-1'))?.status).toBe('failed');
    expect(catalog.reads).toBe(2);
  });

  it('shares one read among plays that miss together', async () => {
    const titles = await Promise.all(Array.from({ length: 10 }, () => cache.get('movie-1')));

    expect(new Set(titles).size).toBe(1);
    expect(catalog.reads).toBe(1);
  });

  it('does not keep a title it did not find, so one published since plays at once', async () => {
    expect(await cache.get('movie-2')).toBeUndefined();
    catalog.titles.set('movie-2', catalogTitle('movie-2'));

    expect((await cache.get('movie-2'))?.titleId).toBe('movie-2');
  });

  it('does not keep a failed read: the next play asks the table again', async () => {
    catalog.failing = true;
    await expect(cache.get('movie-1')).rejects.toThrow('table unreachable');
    catalog.failing = false;

    expect((await cache.get('movie-1'))?.titleId).toBe('movie-1');
    expect(catalog.reads).toBe(2);
  });

  it('keeps at most maxEntries titles, letting the longest-held go first', async () => {
    cache = new TitleCache(catalog, { maxAgeMs: 5000, maxEntries: 2 }, () => nowMs);
    for (const titleId of ['a-1', 'b-1', 'c-1']) {
      catalog.titles.set(titleId, catalogTitle(titleId));
      await cache.get(titleId);
    }
    await cache.get('c-1');
    await cache.get('b-1');
    const readsOfKept = catalog.reads - 3;
    await cache.get('a-1');

    expect([readsOfKept, catalog.reads - 3]).toEqual([0, 1]);
  });
});
