import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AccessLogReader, healthFigures } from '../../appliance-image/agent/src/edge-metrics';

describe('edge health figures', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-edge-metrics-'));
  const log = path.join(dir, 'access.json');
  const line = (status: number, bytes: number) => `${JSON.stringify({ status, bytes, verdict: 'ok' })}\n`;
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads only what was logged since the last read, and starts over after rotation', () => {
    fs.writeFileSync(log, line(200, 999));
    let clock = 0;
    const reader = new AccessLogReader(log, () => clock);
    fs.appendFileSync(log, line(200, 1_000_000) + line(206, 500_000) + line(503, 200) + 'not json\n');
    clock = 10_000;
    expect(reader.read()).toEqual({ requests: 3, serverErrors: 1, bytes: 1_500_200, seconds: 10 });
    clock = 20_000;
    expect(reader.read()).toMatchObject({ requests: 0, bytes: 0 });
    fs.writeFileSync(log, line(200, 42));
    clock = 30_000;
    expect(reader.read()).toMatchObject({ requests: 1, bytes: 42 });
  });

  it('leaves a half-written last line for the next read', () => {
    fs.writeFileSync(log, '');
    const reader = new AccessLogReader(log);
    fs.appendFileSync(log, line(200, 10) + '{"status":200,"by');
    expect(reader.read()).toMatchObject({ requests: 1, bytes: 10 });
    fs.appendFileSync(log, 'tes":20}\n');
    expect(reader.read()).toMatchObject({ requests: 1, bytes: 20 });
  });

  it('takes load as the larger of the connection and egress shares, capped at 1', () => {
    const window = { requests: 100, serverErrors: 2, bytes: 1.25e9, seconds: 1 };
    expect(healthFigures(window, 500, { egressGbps: 40, maxConnections: 20_000 })).toEqual({ load: 0.25, egressGbps: 10, errorRate: 0.02 });
    expect(healthFigures(window, 19_000, { egressGbps: 40, maxConnections: 20_000 }).load).toBe(0.95);
    expect(healthFigures(window, undefined, { egressGbps: 5, maxConnections: 20_000 }).load).toBe(1);
    expect(healthFigures({ requests: 0, serverErrors: 0, bytes: 0, seconds: 30 }, 0, { egressGbps: 5, maxConnections: 10 })).toEqual({ load: 0, egressGbps: 0, errorRate: 0 });
  });
});
