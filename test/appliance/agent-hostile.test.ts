import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ManifestObject, signManifest } from '../../lambda/shared/fill-manifest';
import { NodeStore } from '../../appliance-image/agent/src/store';
import { encodeCodec, probeSource } from '../../local/encoder/ffmpeg-stand-in';
import { ApplianceWorld, makeTitle } from '../support/agent-harness';
import { FaultProxy } from '../support/fault-proxy';
import { TEST_KEYRING } from '../support/fixtures';

type Item = { object: ManifestObject; body: Buffer };
/** What a hostile manifest changes from a good one with one object, `titles/evil/avc1/seg.m4s`. */
type ManifestChange = { generation?: number; createdAt?: string; validUntil?: string; key?: string; titleId?: string; size?: number; also?: string; twice?: boolean };

const sha256 = (body: Buffer | string) => createHash('sha256').update(body).digest('hex');
const itemOf = (key: string, titleId: string, body: Buffer): Item => ({ body, object: { key, size: body.length, sha256: sha256(body), titleId } });

/** Every file under `dir`, links and all, by relative path: what it is and, for files, its digest. */
function tree(dir: string): Record<string, string> {
  const found: Record<string, string> = {};
  const walk = (at: string) => {
    for (const entry of fs.readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      const rel = path.relative(dir, full);
      if (entry.isSymbolicLink()) found[rel] = `link -> ${fs.readlinkSync(full)}`;
      else if (entry.isDirectory()) walk(full);
      else found[rel] = sha256(fs.readFileSync(full));
    }
  };
  walk(dir);
  return found;
}

describe('the fill agent, given hostile or damaged input', () => {
  const world = new ApplianceWorld();
  let generation = 1000;
  let outside: string;
  let originProxy: FaultProxy;
  let controlProxy: FaultProxy;
  const movie = makeTitle('movie', 4, 60_000);

  beforeAll(async () => {
    await world.start();
    outside = path.join(world.root, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'victim'), 'precious bytes outside the node\'s directories');
    const { s3Endpoint, controlPlaneUrl } = JSON.parse(fs.readFileSync(world.configFile, 'utf8'));
    [originProxy, controlProxy] = await Promise.all([FaultProxy.start(s3Endpoint), FaultProxy.start(controlPlaneUrl)]);
    world.writeConfig({ s3Endpoint: originProxy.url, controlPlaneUrl: controlProxy.url });
  });

  afterAll(async () => {
    await Promise.all([originProxy?.stop(), controlProxy?.stop()]);
    await world.stop();
  });

  const fill = () => world.runAgent('fill', '--ignore-window');
  const status = async () => JSON.parse((await world.runAgent('status')).stdout);
  const publish = (items: readonly Item[], changes?: Parameters<ApplianceWorld['publish']>[2]) => world.publish(++generation, items, changes);
  const cachePath = (key: string) => path.join(world.cacheDir, key);
  const expectServed = (items: readonly Item[]) => {
    const served = world.servedFiles();
    for (const { object } of items) {
      expect({ key: object.key, sha256: served[object.key], size: fs.lstatSync(cachePath(object.key)).size }).toEqual({ key: object.key, sha256: object.sha256, size: object.size });
    }
  };

  describe('objects with identical bytes (the same clip encoded as two titles)', () => {
    let twins: Item[];

    beforeAll(async () => {
      const work = path.join(world.root, 'encode');
      fs.mkdirSync(path.join(work, 'out'), { recursive: true });
      const clip = path.join(work, 'clip.mp4');
      execFileSync('ffmpeg', [
        '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=24', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
        '-t', '4', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-shortest', clip,
      ]);
      await encodeCodec(clip, await probeSource(clip), 'avc1', path.join(work, 'out'), 'twina');
      const files = fs.readdirSync(path.join(work, 'out')).map((name) => [name, fs.readFileSync(path.join(work, 'out', name))] as const);
      twins = ['twina', 'twinb'].flatMap((titleId) => files.map(([name, body]) => itemOf(`titles/${titleId}/avc1/${name}`, titleId, body)));
    });

    it('fills each key into its own file at its own size, both titles held', async () => {
      expect(twins.length).toBeGreaterThan(8);
      expect(new Set(twins.map((item) => item.object.sha256)).size).toBe(twins.length / 2);
      await publish(twins);

      const run = await fill();

      expect(run.status).toBe(0);
      expectServed(twins);
      expect(fs.readdirSync(path.join(world.stateDir, 'partial'))).toEqual([]);
      expect(await status()).toMatchObject({ objectsHeld: twins.length, titlesHeld: ['twina', 'twinb'], lastFill: { result: 'complete', downloadedObjects: twins.length } });
    });

    it('repairs files damaged between fills: doubled, truncated, replaced, overwritten in place (its mtime put back), deleted, and removes strays', async () => {
      const [doubled, truncated, replaced, overwritten, deleted] = twins.filter((item) => item.object.size > 100).map((item) => item.object);
      fs.appendFileSync(cachePath(doubled.key), fs.readFileSync(cachePath(doubled.key)));
      fs.truncateSync(cachePath(truncated.key), 10);
      fs.writeFileSync(`${cachePath(replaced.key)}.new`, randomBytes(replaced.size));
      fs.renameSync(`${cachePath(replaced.key)}.new`, cachePath(replaced.key));
      const { atime, mtime } = fs.statSync(cachePath(overwritten.key));
      const handle = fs.openSync(cachePath(overwritten.key), 'r+');
      fs.writeSync(handle, Buffer.alloc(16, 0xee), 0, 16, 40);
      fs.closeSync(handle);
      fs.utimesSync(cachePath(overwritten.key), atime, mtime);
      fs.rmSync(cachePath(deleted.key));
      fs.writeFileSync(cachePath('titles/twina/avc1/stray.m4s'), 'not listed');
      fs.mkdirSync(cachePath('titles/twinc/avc1'), { recursive: true });

      const run = await fill();

      expect(run.status).toBe(0);
      expectServed(twins);
      expect(Object.keys(world.servedFiles()).sort()).toEqual(twins.map((item) => item.object.key).sort());
      expect(fs.existsSync(cachePath('titles/twinc'))).toBe(false);
      expect((await status()).lastFill).toMatchObject({ result: 'complete', downloadedObjects: 5 });
    });

    it('adopts what the cache holds by hashing it when state.json is lost or garbage, downloading nothing', async () => {
      fs.writeFileSync(path.join(world.stateDir, 'state.json'), '{"format":"nearstream-agent-state/v2","objects":[["titles/');
      fs.rmSync(path.join(world.stateDir, 'journal.jsonl'), { force: true });

      const run = await fill();

      expect(run.status).toBe(0);
      expect(run.stdout).toContain('state.json is not JSON');
      expect(await status()).toMatchObject({ objectsHeld: twins.length, titlesHeld: ['twina', 'twinb'], lastFill: { result: 'complete', downloadedObjects: 0 } });
    });
  });

  it('holds keys named like Object.prototype members and empty objects, each its own entry in the state', async () => {
    const odd = ['__proto__', 'constructor', 'hasOwnProperty', 'toString'].map((name) => itemOf(`titles/odd/avc1/${name}`, 'odd', randomBytes(500)));
    const empty = itemOf('titles/odd/avc1/empty.m4s', 'odd', Buffer.alloc(0));
    await publish([...odd, empty, ...movie]);

    expect((await fill()).status).toBe(0);
    const second = await fill();

    expect(second.status).toBe(0);
    expectServed([...odd, empty, ...movie]);
    expect(await status()).toMatchObject({ objectsHeld: 9, titlesHeld: ['movie', 'odd'], lastFill: { downloadedObjects: 0 } });
  });

  it('moves between plans where a key that was a file becomes a directory of others, and back', async () => {
    const asFile = [itemOf('titles/shape/avc1', 'shape', randomBytes(300))];
    const asDirectory = [itemOf('titles/shape/avc1/seg-1.m4s', 'shape', randomBytes(300)), itemOf('titles/shape/avc1/seg-2.m4s', 'shape', randomBytes(300))];

    for (const items of [asFile, asDirectory, asFile]) {
      await publish([...movie, ...items]);
      const run = await fill();
      expect(run.status).toBe(0);
      expect(Object.keys(world.servedFiles()).filter((key) => key.startsWith('titles/shape')).sort()).toEqual(items.map((item) => item.object.key));
      expectServed(items);
    }
  });

  it.each<[string, ManifestChange, RegExp]>([
    ['a generation beyond 2^53', { generation: 2 ** 60 }, /generation must be a whole number from 1 to 9007199254740991/],
    ['a createdAt that is not a timestamp', { createdAt: 'last tuesday' }, /createdAt must be an ISO 8601 UTC instant/],
    ['a validUntil before createdAt', { validUntil: new Date(Date.now() - 60_000).toISOString(), createdAt: new Date().toISOString() }, /is not after createdAt/],
    ['a validity of a year', { validUntil: new Date(Date.now() + 365 * 86_400_000).toISOString() }, /valid for \d+ hours; the most is 168/],
    ['a createdAt a day ahead', { createdAt: new Date(Date.now() + 86_400_000).toISOString(), validUntil: new Date(Date.now() + 2 * 86_400_000).toISOString() }, /createdAt .* is in the future/],
    ['a key outside its title', { key: 'titles/movie/avc1/x.m4s', titleId: 'other' }, /is not under titles\/other\//],
    ['a key at the cache root', { key: 'index.html' }, /is not under titles\/evil\//],
    ['a key with a NUL', { key: 'titles/evil/avc1/a\u0000b' }, /control character U\+0000/],
    ['a key with a trailing space', { key: 'titles/evil/avc1/seg.m4s ' }, /leading or trailing spaces/],
    ['a key with a bidi override', { key: 'titles/evil/avc1/\u202egpj.m4s' }, /U\+202E/],
    ['a key in decomposed Unicode', { key: 'titles/evil/avc1/caf\u0065\u0301.m4s' }, /normalization form C/],
    ['a path segment over 255 bytes', { key: `titles/evil/avc1/${'é'.repeat(128)}` }, /segment of 256 bytes/],
    ['a key over 1,024 bytes', { key: `titles/evil/${'abcdefgh/'.repeat(120)}x` }, /S3 keys are at most 1024/],
    ['a key that is another\'s directory', { also: 'titles/evil/avc1' }, /'titles\/evil\/avc1' is also a directory of/],
    ['a key listed twice with different digests', { twice: true }, /listed twice/],
    ['a fractional size', { size: 10.5 }, /objects\[0\] needs/],
  ])('refuses a signed manifest with %s, naming why, writing nothing', async (_label, change, reason) => {
    const before = { served: world.servedFiles(), status: await status(), manifest: fs.readFileSync(path.join(world.stateDir, 'manifest.json'), 'utf8') };
    const { generation: bump, createdAt, validUntil, key, titleId, also, twice, size } = change;
    const body = Buffer.from('evil');
    const object = { key: key ?? 'titles/evil/avc1/seg.m4s', size: size ?? body.length, sha256: sha256(body), titleId: titleId ?? 'evil' };
    const objects = [object, ...(also ? [{ ...object, key: `${also}/seg-2.m4s` }, { ...object, key: also }] : []), ...(twice ? [{ ...object, sha256: 'f'.repeat(64) }] : [])];
    const manifest = signManifest(
      {
        clusterId: 'isp-a',
        generation: bump ?? generation + 1,
        createdAt: createdAt ?? new Date().toISOString(),
        validUntil: validUntil ?? new Date(Date.now() + 3_600_000).toISOString(),
        objects,
      },
      TEST_KEYRING,
    );
    await publish([], { manifestText: JSON.stringify(manifest) });

    const run = await fill();

    expect(run.status).toBe(1);
    const after = await status();
    expect(after.lastFill).toMatchObject({ result: 'rejected', message: expect.stringMatching(reason) });
    expect(world.servedFiles()).toEqual(before.served);
    expect([after.appliedGeneration, after.objectsHeld, after.titlesHeld]).toEqual([before.status.appliedGeneration, before.status.objectsHeld, before.status.titlesHeld]);
    expect(fs.readFileSync(path.join(world.stateDir, 'manifest.json'), 'utf8')).toBe(before.manifest);
  });

  it('takes the next plan after refusing a generation it could never move past', async () => {
    await publish(movie);
    const run = await fill();
    expect(run.status).toBe(0);
    expect(await status()).toMatchObject({ appliedGeneration: generation, titlesHeld: ['movie'] });
  });

  it('drops hand-edited state entries it cannot trust, and touches nothing they point at', async () => {
    const file = path.join(world.stateDir, 'state.json');
    const state = JSON.parse(fs.readFileSync(file, 'utf8'));
    const victim = path.relative(world.cacheDir, path.join(outside, 'victim'));
    state.objects.push([victim, 10, 'a'.repeat(64), 'movie', 1, 1], ['__proto__', 10, 'a'.repeat(64), 'movie'], ['titles/movie/avc1/x', -1, 'a'.repeat(64), 'movie']);
    state.appliedGeneration = 2 ** 60;
    fs.writeFileSync(file, JSON.stringify(state));
    const before = tree(outside);

    const run = await fill();

    expect(run.status).toBe(0);
    expect(run.stdout).toContain('3 recorded objects were not valid and were dropped');
    expect(run.stdout).toContain('appliedGeneration is not valid');
    expect(tree(outside)).toEqual(before);
    expect(await status()).toMatchObject({ objectsHeld: movie.length, appliedGeneration: generation, lastFill: { result: 'complete', downloadedObjects: 0 } });
  });

  describe('symbolic links in its directories', () => {
    it('refuses a linked title directory, naming it, and writes and removes nothing outside', async () => {
      const linked = makeTitle('linked', 2, 1000);
      fs.mkdirSync(path.join(outside, 'linked-avc1'));
      fs.writeFileSync(path.join(outside, 'linked-avc1', 'seg-0.m4s'), 'not the segment');
      fs.mkdirSync(cachePath('titles/linked'), { recursive: true });
      fs.symlinkSync(path.join(outside, 'linked-avc1'), cachePath('titles/linked/avc1'));
      await publish([...movie, ...linked]);
      const before = tree(outside);

      const run = await fill();

      expect(run.status).toBe(1);
      expect(tree(outside)).toEqual(before);
      const after = await status();
      expect(after.titlesHeld).toEqual(['movie']);
      expect(after.lastFill.failures).toEqual(linked.map(({ object }) => ({ key: object.key, reason: expect.stringMatching(/titles\/linked\/avc1 is a symbolic link; the agent never follows links/) })));

      fs.rmSync(cachePath('titles/linked/avc1'));
      expect((await fill()).status).toBe(0);
      expectServed([...movie, ...linked]);
      expect(tree(outside)).toEqual(before);
    });

    it('replaces a link planted at an object\'s path with the object, leaving its target alone', async () => {
      const before = tree(outside);
      fs.rmSync(cachePath(movie[0].object.key));
      fs.symlinkSync(path.join(outside, 'victim'), cachePath(movie[0].object.key));

      const run = await fill();

      expect(run.status).toBe(0);
      expect(fs.lstatSync(cachePath(movie[0].object.key)).isFile()).toBe(true);
      expectServed(movie);
      expect(tree(outside)).toEqual(before);
    });

    it('never writes through a link planted in place of a partial file', async () => {
      const fresh = makeTitle('fresh', 1, 5000);
      fs.symlinkSync(path.join(outside, 'victim'), path.join(world.stateDir, 'partial', NodeStore.partialName(fresh[0].object)));
      await publish([...movie, ...fresh]);
      const before = tree(outside);

      const run = await fill();

      expect(run.status).toBe(0);
      expectServed([...movie, ...fresh]);
      expect(tree(outside)).toEqual(before);
    });

    it('refuses a partial directory that is a link, changing nothing', async () => {
      const partial = path.join(world.stateDir, 'partial');
      fs.rmSync(partial, { recursive: true });
      fs.mkdirSync(path.join(outside, 'partial-target'));
      fs.writeFileSync(path.join(outside, 'partial-target', 'f'.repeat(64)), 'kept');
      fs.symlinkSync(path.join(outside, 'partial-target'), partial);
      await publish([...movie, ...makeTitle('later', 1, 100)]);
      const before = { outside: tree(outside), cache: tree(world.cacheDir) };

      const run = await fill();

      expect(run.status).toBe(1);
      expect(run.stdout).toMatch(/partial is a symbolic link; the agent never follows links in its directories/);
      expect({ outside: tree(outside), cache: tree(world.cacheDir) }).toEqual(before);
      fs.rmSync(partial);
    });

    it('evicts nothing through a linked directory, and never what its link points at', async () => {
      const gone = makeTitle('gone', 2, 1000);
      await publish([...movie, ...gone]);
      expect((await fill()).status).toBe(0);
      fs.mkdirSync(path.join(outside, 'gone-avc1'));
      for (const { object, body } of gone) {
        fs.writeFileSync(path.join(outside, 'gone-avc1', path.basename(object.key)), body);
      }
      fs.rmSync(cachePath('titles/gone/avc1'), { recursive: true });
      fs.symlinkSync(path.join(outside, 'gone-avc1'), cachePath('titles/gone/avc1'));
      const before = tree(outside);
      await publish(movie);

      const run = await fill();

      expect(run.status).toBe(0);
      expect(tree(outside)).toEqual(before);
      expect(await status()).toMatchObject({ objectsHeld: movie.length, titlesHeld: ['movie'] });
      fs.rmSync(cachePath('titles/gone'), { recursive: true });
    });

    it('never follows a linked state.json, writing its own in place of the link', async () => {
      const file = path.join(world.stateDir, 'state.json');
      fs.rmSync(file);
      fs.symlinkSync(path.join(outside, 'victim'), file);
      const before = tree(outside);

      const run = await fill();

      expect(run.status).toBe(0);
      expect(run.stdout).toContain('is a symbolic link');
      expect(tree(outside)).toEqual(before);
      expect(fs.lstatSync(file).isFile()).toBe(true);
      expect(await status()).toMatchObject({ objectsHeld: movie.length, lastFill: { result: 'complete', downloadedObjects: 0 } });
    });
  });

  describe('transient failures', () => {
    it('rides out an origin that answers 503 twice and resets a connection before answering', async () => {
      const flaky = makeTitle('flaky', 2, 20_000);
      await publish([...movie, ...flaky]);
      const isObject = (key: string) => (method: string, at: string) => method === 'GET' && at.startsWith(`/origin/${key}`);
      originProxy.inject(isObject(flaky[0].object.key), 503, 2);
      originProxy.inject(isObject(flaky[0].object.key), 'reset', 1);
      originProxy.inject((method, at) => method === 'GET' && at.startsWith('/origin/manifests/'), 503, 1);
      originProxy.requests.length = 0;

      const run = await fill();

      expect(run.status).toBe(0);
      expectServed([...movie, ...flaky]);
      expect(originProxy.requests.filter((request) => request.path.startsWith(`/origin/${flaky[0].object.key}`)).map((request) => request.fault)).toEqual([503, 503, 'reset', undefined]);
    });

    it('rides out a control plane that fails once on every call', async () => {
      const routes = ['/fleet/register', '/fleet/manifest', '/fleet/report'];
      routes.forEach((route) => controlProxy.inject((_method, at) => at.startsWith(route), 500, 1));
      controlProxy.requests.length = 0;

      const run = await fill();

      expect(run.status).toBe(0);
      const answers = (route: string) => controlProxy.requests.filter((request) => request.path.startsWith(route)).map((request) => request.fault ?? 'ok');
      expect(routes.map(answers)).toEqual([[500, 'ok'], [500, 'ok'], [500, 'ok']]);
      expect(run.stdout).toContain('"message":"register failed; retrying"');
      expect(await world.fleet.heldTitles('oca-1')).toEqual(expect.arrayContaining(['movie']));
    });

    it('does not retry what the origin refuses (403), and says so', async () => {
      const refused = makeTitle('refused', 1, 1000);
      await publish([...movie, ...refused]);
      originProxy.inject((method, at) => method === 'GET' && at.startsWith(`/origin/${refused[0].object.key}`), 403, 10);
      originProxy.requests.length = 0;

      const run = await fill();

      expect(run.status).toBe(1);
      expect(originProxy.requests.filter((request) => request.path.startsWith(`/origin/${refused[0].object.key}`))).toHaveLength(1);
      expect((await status()).lastFill.failures).toEqual([{ key: refused[0].object.key, reason: expect.stringContaining('answered 403 (AccessDenied)') }]);
    });
  });
});
