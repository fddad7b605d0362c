import {
  estimateCostUsd,
  inventoryDue,
  processingTitle,
  referenceBytes,
  resolutionClass,
  withFailure,
  withInventory,
  withJobCompleted,
  withJobSubmitted,
} from '../../../lambda/encoding/catalog-entry';
import { resolveEnvironment } from '../../../lib/config/environment';

const RATES = resolveEnvironment({ name: 'dev' }).encoding.ratesUsdPerMinute;
const source = { bucket: 'source', key: 'uploads/The Film.mov', bytes: 10 };

describe('catalog entries from encoding', () => {
  it('classes resolutions as MediaConvert prices them', () => {
    expect([479, 576, 720, 1080, 1440, 2160].map(resolutionClass)).toEqual(['sd', 'sd', 'hd', 'hd', 'uhd', 'uhd']);
  });

  it('estimates cost as minutes x renditions x rate', () => {
    const renditions = [
      { codec: 'avc1' as const, height: 360 },
      { codec: 'avc1' as const, height: 1080 },
      { codec: 'hvc1' as const, height: 2160 },
    ];
    expect(estimateCostUsd(renditions, 90 * 60, RATES)).toBeCloseTo(90 * (0.0075 + 0.015 + 0.06), 4);
  });

  it('sizes the reference ladder from its rungs up to the source height', () => {
    expect(referenceBytes(['avc1'], 8, 360)).toBe(((235_000 + 560_000) * 8) / 8);
  });

  it('names the title after the upload and starts it processing', () => {
    expect(processingTitle('t1', source, 'automated', 'now')).toMatchObject({
      name: 'The Film',
      status: 'processing',
      encoding: { ladder: 'automated', jobs: {} },
    });
  });

  it('records a submitted job once', () => {
    const submitted = withJobSubmitted(processingTitle('t1', source, 'fixed', 'now'), 'fixed', 'job-1')!;
    expect(submitted.encoding!.jobs).toEqual({ fixed: { jobId: 'job-1', status: 'SUBMITTED' } });
    expect(withJobSubmitted(submitted, 'fixed', 'job-2')).toBeUndefined();
  });

  const rendition = { codec: 'avc1' as const, width: 640, height: 360, bitrateKbps: 300, bytes: 300_000 };
  const outputs = [{ codec: 'avc1' as const, manifests: { hls: 'h', dash: 'd' }, renditions: [rendition], durationSeconds: 8 }];
  const inventory = { key: 'titles/t1/inventory.json', objects: 3, bytes: 300_100, sha256: 'a'.repeat(64) };

  it('makes its inventory due only when all its jobs completed, with savings measured against the reference', () => {
    const half = withJobCompleted(processingTitle('t1', source, 'fixed', 'now'), 'fixed', 'job-1', outputs, RATES);
    expect(half.status).toBe('processing');
    expect(inventoryDue(half)).toBe(false);
    const whole = withJobCompleted(half, 'av1', 'job-2', [], RATES);
    expect(whole).toMatchObject({ status: 'processing', availableFrom: 'now', durationSeconds: 8 });
    expect(inventoryDue(whole)).toBe(true);
    expect(whole.encoding!.referenceBytes).toBe(referenceBytes(['avc1'], 8));
    expect(whole.encoding!.savingsPercent).toBeCloseTo((1 - 300_000 / whole.encoding!.referenceBytes!) * 100, 1);
  });

  it('makes a title available only with its inventory recorded, and never before its jobs completed', () => {
    const half = withJobCompleted(processingTitle('t1', source, 'fixed', 'now'), 'fixed', 'job-1', outputs, RATES);
    expect(() => withInventory(half, inventory, 'later')).toThrow('title t1 still waits for its av1 job; an inventory now would miss their outputs');

    const available = withInventory(withJobCompleted(half, 'av1', 'job-2', [], RATES), inventory, 'later')!;
    expect(available).toMatchObject({ status: 'available', availableFrom: 'later', encoding: { inventory } });
    expect(inventoryDue(available)).toBe(false);

    const rebuilt = withInventory(available, { ...inventory, objects: 4 }, 'much later')!;
    expect(rebuilt).toMatchObject({ status: 'available', availableFrom: 'later', encoding: { inventory: { objects: 4 } } });
    expect(withInventory(withFailure(half, 'broken input'), inventory, 'later')).toBeUndefined();
  });

  it('keeps a failed title failed when its remaining jobs complete', () => {
    const failed = withFailure(processingTitle('t1', source, 'fixed', 'now'), 'broken input', 'fixed', 'job-1');
    const after = withJobCompleted(failed, 'av1', 'job-2', [], RATES);
    expect(after).toMatchObject({ status: 'failed', encoding: { failureReason: 'broken input' } });
    expect(inventoryDue(after)).toBe(false);
  });
});
