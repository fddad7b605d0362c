import * as fs from 'node:fs';
import * as path from 'node:path';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { itemKeys } from '../../lambda/shared/control-table';
import { ManifestObject, signManifest } from '../../lambda/shared/fill-manifest';
import { loadConfig } from '../../appliance-image/agent/src/config';
import { ControlPlane } from '../../appliance-image/agent/src/control-plane';
import { fill } from '../../appliance-image/agent/src/fill';
import { Origin } from '../../appliance-image/agent/src/origin';
import { NodeStore } from '../../appliance-image/agent/src/store';
import { AGENT_CREDENTIALS, AGENT_PRINCIPAL, APPLIANCE_IDENTITY, ApplianceWorld, makeTitle } from '../support/agent-harness';
import { TEST_KEYRING } from '../support/fixtures';
import { leastPrivilege } from '../support/iam/least-privilege';

type Item = { object: ManifestObject; body: Buffer };

describe('the fill agent', () => {
  const world = new ApplianceWorld();
  leastPrivilege({ buckets: { origin: 'origin' } }).observe(APPLIANCE_IDENTITY, { take: () => world.takeAgentCalls() });
  const movie = makeTitle('movie', 6, 120_000);
  const show = makeTitle('show', 4, 80_000);
  const doc = makeTitle('doc', 3, 50_000);

  beforeAll(async () => {
    await world.start();
  });

  afterAll(async () => {
    await world.stop();
  });

  const status = async () => JSON.parse((await world.runAgent('status')).stdout);
  const expectServed = (items: readonly Item[]) => {
    const served = world.servedFiles();
    for (const { object } of items) {
      expect({ key: object.key, sha256: served[object.key] }).toEqual({ key: object.key, sha256: object.sha256 });
    }
  };

  it('registers a new node on its own, before any fill, so the next plan can place titles on it', async () => {
    const run = await world.runAgent('register');

    expect(run.status).toBe(0);
    expect(run.stdout).toContain('registered oca-1 in isp-a');
    expect(await world.fleet.describe('oca-1')).toMatchObject({ principalArn: AGENT_PRINCIPAL, clusterId: 'isp-a', baseUrl: 'https://oca-1.isp-a.example', holdings: undefined });
  });

  it('fills a small catalog, verified, and reports the titles it holds to the control plane', async () => {
    await world.publish(1, [...movie, ...show]);

    const run = await world.runAgent('fill', '--ignore-window');

    expect(run.status).toBe(0);
    expectServed([...movie, ...show]);
    expect(Object.keys(world.servedFiles())).toHaveLength(10);
    expect(await status()).toMatchObject({ appliedGeneration: 1, objectsHeld: 10, titlesHeld: ['movie', 'show'], lastFill: { result: 'complete', downloadedObjects: 10 } });
    expect(await world.fleet.describe('oca-1')).toMatchObject({ principalArn: AGENT_PRINCIPAL, clusterId: 'isp-a', holdings: { generation: 1, count: 2 } });
    expect((await world.fleet.heldTitles('oca-1')).sort()).toEqual(['movie', 'show']);
    expect(run.stdout).toContain('"message":"fill finished"');
  });

  it('downloads nothing when the cache already matches the manifest', async () => {
    const run = await world.runAgent('fill', '--ignore-window');
    expect(run.status).toBe(0);
    expect((await status()).lastFill).toMatchObject({ result: 'complete', downloadedObjects: 0 });
  });

  it('removes partial downloads of objects the manifest no longer lists', async () => {
    const stale = path.join(world.stateDir, 'partial', 'f'.repeat(64));
    fs.mkdirSync(path.dirname(stale), { recursive: true });
    fs.writeFileSync(stale, Buffer.alloc(300_000, 1));

    const run = await world.runAgent('fill', '--ignore-window');

    expect(run.status).toBe(0);
    expect(fs.existsSync(stale)).toBe(false);
    expect(run.stdout).toMatch(/"message":"fill starting".*"discardedPartials":1/);
  });

  it('rejects a corrupted origin object, keeps it from the cache, and reports the title as not held', async () => {
    const corrupted = makeTitle('doc', 3, 50_000).map((item, i) => (i === 1 ? { ...item, body: Buffer.from(item.body).fill(7, 0, 10) } : item));
    await world.publish(2, [...movie, ...show, ...corrupted]);
    await world.s3.put('origin', corrupted[1].object.key, corrupted[1].body);
    const tampered = { ...corrupted[1], object: { ...corrupted[1].object, sha256: makeTitle('x', 1, 10)[0].object.sha256 } };
    await world.publish(2, [...movie, ...show, corrupted[0], tampered, corrupted[2]]);

    const run = await world.runAgent('fill', '--ignore-window');

    expect(run.status).toBe(1);
    expect(world.servedFiles()[tampered.object.key]).toBeUndefined();
    expect(fs.readdirSync(path.join(world.stateDir, 'partial'))).toEqual([]);
    const after = await status();
    expect(after.titlesHeld).toEqual(['movie', 'show']);
    expect(after.lastFill).toMatchObject({ result: 'failed', failures: [{ key: tampered.object.key, reason: expect.stringContaining('the manifest says') }] });
    expect(run.stdout).toContain('corrupt object discarded');
    expect((await world.fleet.heldTitles('oca-1')).sort()).toEqual(['movie', 'show']);
  });

  it('evicts what a manifest no longer lists only once everything new is verified', async () => {
    const items = [...movie, ...doc];
    await world.publish(3, items.map((item, i) => (i === 0 ? { ...item, object: { ...item.object, sha256: '0'.repeat(64) } } : item)));
    expect((await world.runAgent('fill', '--ignore-window')).status).toBe(1);
    expectServed(show);

    await world.publish(3, items);
    expect((await world.runAgent('fill', '--ignore-window')).status).toBe(0);
    expectServed(items);
    const served = world.servedFiles();
    expect(show.every(({ object }) => served[object.key] === undefined)).toBe(true);
    expect(await status()).toMatchObject({ appliedGeneration: 3, titlesHeld: ['doc', 'movie'], lastFill: { evictedObjects: 4 } });
  });

  it('finishes a file cleanly after being killed in the middle of it, never serving a partial', async () => {
    const big = makeTitle('epic', 1, 6_000_000);
    await world.publish(4, [...movie, ...doc, ...big]);
    world.writeConfig({ bandwidthCapBytesPerSecond: 1_000_000 });
    const agent = world.startAgent('fill', '--ignore-window');
    const partial = path.join(world.stateDir, 'partial', NodeStore.partialName(big[0].object));
    const deadline = Date.now() + 20_000;
    while (!(fs.existsSync(partial) && fs.statSync(partial).size > 500_000) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    agent.kill('SIGKILL');
    await new Promise((resolve) => agent.once('exit', resolve));
    const partialBytes = fs.statSync(partial).size;
    expect(partialBytes).toBeGreaterThan(0);
    expect(partialBytes).toBeLessThan(big[0].object.size);
    expect(world.servedFiles()[big[0].object.key]).toBeUndefined();

    world.writeConfig({});
    const run = await world.runAgent('fill', '--ignore-window');

    expect(run.status).toBe(0);
    expectServed([...movie, ...doc, ...big]);
    expect((await status()).lastFill.downloadedBytes).toBeLessThan(big[0].object.size);
    expect(fs.existsSync(partial)).toBe(false);
  });

  it.each([
    ['a tampered signature', (text: string) => text.replace('"generation":5', '"generation":5 ').replace(/"value":"[^"]+"/, '"value":"AAAA"'), /signature does not match/],
    // An old plan replayed: a lower generation made before the applied one (made after it, it would be a planner whose numbering restarted).
    ['an older generation', (text: string) => JSON.stringify(signManifest({ ...JSON.parse(text), generation: 1, createdAt: new Date(Date.now() - 6 * 86_400_000).toISOString() }, TEST_KEYRING)), /older than the applied generation 4/],
    ['a path escaping the cache', (text: string) => JSON.stringify(signManifest({ ...JSON.parse(text), objects: [{ key: 'titles/../../../etc/x', size: 1, sha256: 'a'.repeat(64), titleId: 'x' }] }, TEST_KEYRING)), /path segment/],
    ['a duplicate key', (text: string) => { const m = JSON.parse(text); return JSON.stringify(signManifest({ ...m, objects: [m.objects[0], m.objects[0]] }, TEST_KEYRING)); }, /listed twice/],
    ['more bytes than the disk ceiling', (text: string) => { const m = JSON.parse(text); return JSON.stringify(signManifest({ ...m, objects: [{ ...m.objects[0], size: 60_000_000 }] }, TEST_KEYRING)); }, /the disk budget is 50000000/],
    ['malformed JSON', () => '{"format": "nearstream-fill-manifest/v1", ', /malformed JSON/],
  ])('rejects a manifest with %s, writing nothing', async (_label, mutate, reason) => {
    const before = world.servedFiles();
    const stateBefore = await status();
    const good = signManifest({ clusterId: 'isp-a', generation: 5, createdAt: new Date().toISOString(), validUntil: new Date(Date.now() + 3_600_000).toISOString(), objects: makeTitle('new', 2, 1000).map((i) => i.object) }, TEST_KEYRING);
    await world.publish(5, [], { manifestText: mutate(JSON.stringify(good)) });

    const run = await world.runAgent('fill', '--ignore-window');

    expect(run.status).toBe(1);
    expect(world.servedFiles()).toEqual(before);
    const after = await status();
    expect(after.lastFill).toMatchObject({ result: 'rejected', message: expect.stringMatching(reason) });
    expect([after.appliedGeneration, after.objectsHeld, after.titlesHeld]).toEqual([stateBefore.appliedGeneration, stateBefore.objectsHeld, stateBefore.titlesHeld]);
  });

  it('never fills past the disk ceiling: when the new plan does not fit beside the old content, what it drops goes first', async () => {
    const cacheBytes = () => Object.keys(world.servedFiles()).reduce((sum, key) => sum + fs.statSync(path.join(world.cacheDir, key)).size, 0);
    const old = makeTitle('old', 2, 400_000);
    await world.publish(100, old);
    expect((await world.runAgent('fill', '--ignore-window')).status).toBe(0);
    const held = cacheBytes();
    const large = makeTitle('large', 4, 1_000_000);
    const ceiling = Math.max(4_000_010, held + 2_500_000);
    await world.publish(101, large);
    world.writeConfig({ diskCeilingBytes: ceiling });
    const run = await world.runAgent('fill', '--ignore-window');
    world.writeConfig({});

    expect(run.status).toBe(0);
    expect(run.stdout).toContain('evicted early to make room');
    expect(cacheBytes()).toBeLessThanOrEqual(ceiling);
    expectServed(large);
    expect(old.every(({ object }) => world.servedFiles()[object.key] === undefined)).toBe(true);
    expect((await status()).lastFill).toMatchObject({ result: 'complete', downloadedObjects: large.length, evictedObjects: old.length });
  });

  it('stops cleanly at the end of the fill window, keeping what it verified', async () => {
    const slow = makeTitle('slow', 5, 400_000);
    await world.publish(200, slow);
    world.writeConfig({ bandwidthCapBytesPerSecond: 400_000, diskCeilingBytes: 50_000_000 });
    Object.assign(process.env, AGENT_CREDENTIALS);
    const config = loadConfig(world.configFile);
    const windowEndsIn = 2500;
    // The next 06:00 UTC, the window's end: the manifest was made just now, not in this clock's future.
    const fakeStart = Math.ceil((Date.now() - 6 * 3_600_000) / 86_400_000) * 86_400_000 + 6 * 3_600_000 - windowEndsIn;
    const realStart = Date.now();

    const outcome = await fill(config, {
      origin: new Origin(config.region, config.s3Endpoint),
      controlPlane: new ControlPlane(config.controlPlaneUrl, config.region),
      nowMs: () => fakeStart + (Date.now() - realStart),
    });
    world.writeConfig({});

    expect(outcome.result).toBe('window-ended');
    expect(Date.now() - realStart).toBeLessThan(windowEndsIn + 5000);
    expect(outcome.downloadedObjects).toBeGreaterThan(0);
    expect(outcome.downloadedObjects).toBeLessThan(slow.length);
    const served = world.servedFiles();
    for (const { object } of slow) {
      expect([undefined, object.sha256]).toContain(served[object.key]);
    }
  });

  it('refuses to start outside its fill window without being told to', async () => {
    const hour = new Date().getUTCHours();
    world.writeConfig({ fillWindow: { startHourUtc: (hour + 2) % 24, endHourUtc: (hour + 3) % 24 } });
    const run = await world.runAgent('fill');
    world.writeConfig({});
    expect(run.status).toBe(0);
    expect((await status()).lastFill).toMatchObject({ result: 'window-ended', message: expect.stringContaining('outside the fill window') });
  });

  it('registers again when the control plane has forgotten it, and goes on reporting', async () => {
    const client = world.dynamo.documentClient();
    for (const key of [itemKeys.applianceRegistration('oca-1'), itemKeys.applianceHealth('oca-1')]) {
      await client.send(new DeleteCommand({ TableName: 'fleet', Key: key }));
    }
    const agent = world.startAgent('serve');
    const deadline = Date.now() + 15_000;
    while ((await world.fleet.describe('oca-1'))?.reportedAtMs === undefined && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    agent.kill('SIGTERM');
    await new Promise((resolve) => agent.once('exit', resolve));

    expect(await world.fleet.describe('oca-1')).toMatchObject({ principalArn: AGENT_PRINCIPAL, clusterId: 'isp-a', reportedAtMs: expect.any(Number) });
  });

  it('keeps reporting its health while serving, and stops cleanly on SIGTERM', async () => {
    const before = (await world.fleet.describe('oca-1'))!.reportedAtMs ?? 0;
    const agent = world.startAgent('serve');
    const deadline = Date.now() + 10_000;
    while (((await world.fleet.describe('oca-1'))!.reportedAtMs ?? 0) <= before && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((await world.fleet.describe('oca-1'))!.reportedAtMs).toBeGreaterThan(before);
    agent.kill('SIGTERM');
    const code = await new Promise((resolve) => agent.once('exit', resolve));
    expect(code).toBe(0);
  });

  it('fills only the titles the manifest places on this appliance', async () => {
    await world.publish(200, [...movie, ...show, ...doc], { placements: { 'oca-1': ['doc'], 'oca-2': ['movie', 'show'] } });

    const run = await world.runAgent('fill', '--ignore-window');

    expect(run.status).toBe(0);
    expect(Object.keys(world.servedFiles()).sort()).toEqual(doc.map(({ object }) => object.key).sort());
    expect(await status()).toMatchObject({ appliedGeneration: 200, titlesHeld: ['doc'] });
  });

  it('names the field when its config is wrong', async () => {
    world.writeConfig({ parallelism: 0 });
    const run = await world.runAgent('status');
    world.writeConfig({});
    expect(run.status).toBe(1);
    expect(run.stdout).toContain(`${world.configFile}: parallelism:`);
  });
});
