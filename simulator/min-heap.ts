/** A binary min-heap of (count, time, title); an entry is `latest` if no newer one for its title was pushed. */
export class MinHeap {
  private readonly counts: number[] = [];
  private readonly times: number[] = [];
  private readonly titles: number[] = [];
  private readonly newest = new Map<number, number>();

  push(count: number, time: number, title: number): void {
    this.newest.set(title, time);
    this.counts.push(count);
    this.times.push(time);
    this.titles.push(title);
    let child = this.counts.length - 1;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (!this.less(child, parent)) {
        break;
      }
      this.swap(child, parent);
      child = parent;
    }
  }

  pop(): { count: number; title: number; latest: boolean } | undefined {
    if (this.counts.length === 0) {
      return undefined;
    }
    const top = { count: this.counts[0], title: this.titles[0], latest: this.newest.get(this.titles[0]) === this.times[0] };
    const last = this.counts.length - 1;
    this.swap(0, last);
    this.counts.pop();
    this.times.pop();
    this.titles.pop();
    let parent = 0;
    for (;;) {
      const left = parent * 2 + 1;
      const right = left + 1;
      let smallest = parent;
      if (left < this.counts.length && this.less(left, smallest)) {
        smallest = left;
      }
      if (right < this.counts.length && this.less(right, smallest)) {
        smallest = right;
      }
      if (smallest === parent) {
        break;
      }
      this.swap(parent, smallest);
      parent = smallest;
    }
    return top;
  }

  private less(a: number, b: number): boolean {
    return this.counts[a] < this.counts[b] || (this.counts[a] === this.counts[b] && this.times[a] < this.times[b]);
  }

  private swap(a: number, b: number): void {
    [this.counts[a], this.counts[b]] = [this.counts[b], this.counts[a]];
    [this.times[a], this.times[b]] = [this.times[b], this.times[a]];
    [this.titles[a], this.titles[b]] = [this.titles[b], this.titles[a]];
  }
}
