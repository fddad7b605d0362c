import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { clearFaultFile, decideFault, FaultFile, writeFaultFile } from '../../local/api/fault-injection';
import { LocalGateway } from '../../local/api/local-gateway';

/** Draws that come out as given, in turn. */
function draws(...values: number[]): () => number {
  return () => values.shift() ?? 0.999;
}

describe('a local chaos fault, per invocation', () => {
  it('fails the invocations its error percent draws, and lets the rest through', () => {
    const settings = { errorPercent: 10 };

    expect(decideFault(settings, 'local-play', 0, draws(0.05))).toEqual({ kind: 'error', status: 502 });
    expect(decideFault(settings, 'local-play', 0, draws(0.1))).toEqual({ kind: 'none' });
  });

  it('delays only the share of invocations it names, by its delay', () => {
    const settings = { delayMs: 1500, invocationPercent: 25 };

    expect(decideFault(settings, 'local-play', 0, draws(0.99, 0.2))).toEqual({ kind: 'delay', delayMs: 1500 });
    expect(decideFault(settings, 'local-play', 0, draws(0.99, 0.3))).toEqual({ kind: 'none' });
  });

  it('answers the status it names, as an injected HTTP integration response does', () => {
    expect(decideFault({ errorPercent: 100, errorStatus: 503 }, 'local-health', 0, draws(0))).toEqual({ kind: 'error', status: 503 });
  });

  it('reaches only the functions it names, as an experiment reaches only the functions tagged for it', () => {
    const settings = { errorPercent: 100, functions: ['local-play', 'local-health'] };

    expect(decideFault(settings, 'local-health', 0, draws(0))).toEqual({ kind: 'error', status: 502 });
    expect(decideFault(settings, 'local-fleet', 0, draws(0))).toEqual({ kind: 'none' });
  });

  it('is over at its untilMs, and is none without settings', () => {
    expect(decideFault({ errorPercent: 100, untilMs: 1000 }, 'local-play', 999, draws(0))).toEqual({ kind: 'error', status: 502 });
    expect(decideFault({ errorPercent: 100, untilMs: 1000 }, 'local-play', 1000, draws(0))).toEqual({ kind: 'none' });
    expect(decideFault(undefined, 'local-play', 0, draws(0))).toEqual({ kind: 'none' });
  });
});

describe('a fault file, read per request', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-faults-'));
  const file = path.join(dir, 'faults', 'us-east-1.json');
  afterEach(() => clearFaultFile(file));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('looks at the file at most once a cache period, so a new fault takes up to that long to land', () => {
    let nowMs = 0;
    const faults = new FaultFile(file, { cacheMs: 1000, nowMs: () => nowMs, random: () => 0 });
    expect(faults.next('local-play')).toEqual({ kind: 'none' });

    writeFaultFile(file, { errorPercent: 100 });
    nowMs = 999;
    expect(faults.next('local-play')).toEqual({ kind: 'none' });
    nowMs = 1000;
    expect(faults.next('local-play')).toEqual({ kind: 'error', status: 502 });

    clearFaultFile(file);
    nowMs = 2000;
    expect(faults.next('local-play')).toEqual({ kind: 'none' });
  });

  it('takes a file that does not parse as no fault', () => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '{"errorPerc');

    expect(new FaultFile(file, { random: () => 0 }).next('local-play')).toEqual({ kind: 'none' });
  });
});

describe('the local API gateway under a fault file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-gateway-faults-'));
  const faultFile = path.join(dir, 'region.json');
  let gateway: LocalGateway;
  let invocations = 0;

  beforeAll(async () => {
    gateway = await LocalGateway.start(
      [{ method: 'GET', path: '/health', auth: 'public', handler: async () => (invocations++, { statusCode: 200, body: 'ok' }) }],
      { faultFile },
    );
  });
  afterEach(() => clearFaultFile(faultFile));
  afterAll(async () => {
    await gateway.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers 502 without running the handler when the invocation fails, as API Gateway does for a Lambda error', async () => {
    writeFaultFile(faultFile, { errorPercent: 100 });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const before = invocations;

    const response = await fetch(`${gateway.url}/health`);

    expect(response.status).toBe(502);
    expect(invocations).toBe(before);
  });

  it('answers 503 for the functions an evacuation names, and leaves the others running', async () => {
    writeFaultFile(faultFile, { errorPercent: 100, errorStatus: 503, functions: ['local-function'] });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const before = invocations;

    const evacuated = await fetch(`${gateway.url}/health`);

    expect(evacuated.status).toBe(503);
    expect(invocations).toBe(before);

    writeFaultFile(faultFile, { errorPercent: 100, errorStatus: 503, functions: ['local-play'] });
    await new Promise((resolve) => setTimeout(resolve, 1100));

    expect((await fetch(`${gateway.url}/health`)).status).toBe(200);
  });

  it('runs the handler after the delay when the invocation is delayed', async () => {
    writeFaultFile(faultFile, { delayMs: 300, invocationPercent: 100 });
    await new Promise((resolve) => setTimeout(resolve, 1100));

    const startedMs = Date.now();
    const response = await fetch(`${gateway.url}/health`);

    expect(response.status).toBe(200);
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(290);
  });
});
