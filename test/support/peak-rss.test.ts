import { runNodeMeasuringPeakRss } from './peak-rss';

const MB = 1024 * 1024;

describe('runNodeMeasuringPeakRss', () => {
  it('counts memory the child touched and freed again before it exited', async () => {
    const result = await runNodeMeasuringPeakRss(['-e', 'let b = Buffer.alloc(200 * 1024 * 1024, 1); b = undefined; console.log("done")']);

    expect(result.status).toBe(0);
    expect(result.stdout).toBe('done\n');
    expect(result.peakRssBytes).toBeGreaterThan(200 * MB);
  });

  it('counts memory touched in the last moment before process.exit', async () => {
    const result = await runNodeMeasuringPeakRss(['-e', 'globalThis.kept = Buffer.alloc(150 * 1024 * 1024, 1); process.exit(3)']);

    expect(result.status).toBe(3);
    expect(result.peakRssBytes).toBeGreaterThan(150 * MB);
  });

  it('reports a small child as small', async () => {
    const result = await runNodeMeasuringPeakRss(['-e', 'process.stderr.write("hello")']);

    expect(result.stderr).toBe('hello');
    expect(result.peakRssBytes).toBeGreaterThan(10 * MB);
    expect(result.peakRssBytes).toBeLessThan(150 * MB);
  });

  it("reports a small child of a large parent as small, not the parent's size at fork", async () => {
    const parentMemory = Buffer.alloc(300 * MB, 1);

    const result = await runNodeMeasuringPeakRss(['-e', '0']);

    expect(parentMemory[0]).toBe(1);
    expect(result.peakRssBytes).toBeLessThan(150 * MB);
  });

  it('reports no peak for a child killed by a signal, whose figure could not be read', async () => {
    const result = await runNodeMeasuringPeakRss(['-e', 'process.kill(process.pid, "SIGKILL")']);

    expect(result.status).toBeNull();
    expect(result.peakRssBytes).toBeUndefined();
  });
});
