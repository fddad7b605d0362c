/**
 * Runs `work` on every item, at most `width` at a time, each worker taking the next item when it
 * is done (so one slow item does not hold a whole batch back). Rejects with the first failure.
 */
export async function inParallel<T>(items: readonly T[], width: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        await work(items[index], index);
      }
    }),
  );
}
