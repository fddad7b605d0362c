import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ManifestObject } from '../../lambda/shared/fill-manifest';
import { NodeStore, StoreRefusedError } from '../../appliance-image/agent/src/store';

const objectOf = (key: string, body: Buffer): ManifestObject => ({ key, size: body.length, sha256: createHash('sha256').update(body).digest('hex'), titleId: key.split('/')[1] });

describe('the node store', () => {
  let root: string;
  let dirs: { cacheDir: string; stateDir: string };
  let outside: string;
  const never = new AbortController().signal;

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-store-'));
    dirs = { cacheDir: path.join(root, 'cache'), stateDir: path.join(root, 'state') };
    outside = path.join(root, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'victim'), 'outside bytes');
  });

  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  const served = (key: string) => path.join(dirs.cacheDir, key);
  async function put(store: NodeStore, object: ManifestObject, body: Buffer): Promise<void> {
    const partial = await store.openPartial(object);
    await partial.handle.write(body);
    await store.commit(partial, object);
  }

  it('commits a partial by renaming it into the served tree, and records it durably at the next flush', async () => {
    const store = NodeStore.open(dirs);
    const body = randomBytes(1000);
    const object = objectOf('titles/t1/avc1/seg-1.m4s', body);

    await put(store, object, body);
    const beforeFlush = NodeStore.readState(dirs.stateDir).objects.size;
    await store.flush();

    expect(fs.readFileSync(served(object.key))).toEqual(body);
    expect(beforeFlush).toBe(0);
    const stats = fs.lstatSync(served(object.key));
    expect(NodeStore.readState(dirs.stateDir).objects.get(object.key)).toEqual({ size: 1000, sha256: object.sha256, titleId: 't1', ino: stats.ino, ctimeMs: stats.ctimeMs });
    expect(fs.readdirSync(path.join(dirs.stateDir, 'partial'))).toEqual([]);
  });

  it('refuses to commit through a directory swapped for a link after the run checked it', async () => {
    const store = NodeStore.open(dirs);
    const first = randomBytes(100);
    await put(store, objectOf('titles/t1/avc1/seg-1.m4s', first), first);
    const body = randomBytes(100);
    const object = objectOf('titles/t1/avc1/seg-2.m4s', body);
    const partial = await store.openPartial(object);
    await partial.handle.write(body);
    fs.rmSync(path.join(dirs.cacheDir, 'titles', 't1', 'avc1'), { recursive: true });
    fs.symlinkSync(outside, path.join(dirs.cacheDir, 'titles', 't1', 'avc1'));

    await expect(store.commit(partial, object)).rejects.toThrow(/link/);
    expect(fs.readdirSync(outside)).toEqual(['victim']);
  });

  it('tells serve when the recorded state changed, so it re-reads only then', async () => {
    const store = NodeStore.open(dirs);
    const body = randomBytes(100);
    const before = NodeStore.recordVersion(dirs.stateDir);
    expect(NodeStore.recordVersion(dirs.stateDir)).toBe(before);

    await put(store, objectOf('titles/t1/avc1/seg-1.m4s', body), body);
    await store.flush();

    expect(NodeStore.recordVersion(dirs.stateDir)).not.toBe(before);
    const after = NodeStore.recordVersion(dirs.stateDir);
    expect(NodeStore.recordVersion(dirs.stateDir)).toBe(after);
  });

  it('gives identical bytes under two keys a partial file each, and a served file each', async () => {
    const store = NodeStore.open(dirs);
    const body = randomBytes(5000);
    const [a, b] = ['titles/t1/avc1/init.mp4', 'titles/t2/avc1/init.mp4'].map((key) => objectOf(key, body));

    expect(NodeStore.partialName(a)).not.toBe(NodeStore.partialName(b));
    const [pa, pb] = await Promise.all([store.openPartial(a), store.openPartial(b)]);
    await Promise.all([pa.handle.write(body), pb.handle.write(body)]);
    await Promise.all([store.commit(pa, a), store.commit(pb, b)]);

    expect([fs.statSync(served(a.key)).size, fs.statSync(served(b.key)).size]).toEqual([5000, 5000]);
  });

  it('snapshots the whole state and empties the journal; replaying an old journal over it changes nothing', async () => {
    const store = NodeStore.open(dirs);
    const body = randomBytes(10);
    await put(store, objectOf('titles/t1/a', body), body);
    await store.flush();
    const journal = fs.readFileSync(path.join(dirs.stateDir, 'journal.jsonl'), 'utf8');

    await store.snapshot({ appliedGeneration: 3 });
    expect(fs.existsSync(path.join(dirs.stateDir, 'journal.jsonl'))).toBe(false);
    fs.writeFileSync(path.join(dirs.stateDir, 'journal.jsonl'), journal);

    expect(NodeStore.readState(dirs.stateDir)).toEqual(store.state);
  });

  describe('reconciling with the disk', () => {
    const bodies = Object.fromEntries(['intact', 'resized', 'replaced', 'missing', 'adopted', 'wrong-size', 'unlisted'].map((name) => [name, randomBytes(100)]));
    const objects = Object.fromEntries(Object.entries(bodies).map(([name, body]) => [name, objectOf(`titles/t1/avc1/${name}.m4s`, body)]));

    async function damagedCache(): Promise<NodeStore> {
      const store = NodeStore.open(dirs);
      for (const name of ['intact', 'resized', 'replaced', 'missing']) {
        await put(store, objects[name], bodies[name]);
      }
      await store.snapshot();
      fs.appendFileSync(served(objects.resized.key), 'more');
      fs.writeFileSync(`${served(objects.replaced.key)}.new`, randomBytes(100));
      fs.renameSync(`${served(objects.replaced.key)}.new`, served(objects.replaced.key));
      fs.rmSync(served(objects.missing.key));
      fs.writeFileSync(served(objects.adopted.key), bodies.adopted);
      fs.writeFileSync(served(objects['wrong-size'].key), bodies['wrong-size'].subarray(0, 50));
      fs.writeFileSync(served(objects.unlisted.key), bodies.unlisted);
      fs.symlinkSync(path.join(outside, 'victim'), served('titles/t1/avc1/link.m4s'));
      fs.mkdirSync(served('titles/t9/avc1'), { recursive: true });
      return NodeStore.open(dirs);
    }

    it('holds only what is on disk as recorded, adopts listed files that hash right, removes the rest, and follows no link', async () => {
      const store = await damagedCache();
      const listed = new Map(Object.values(objects).filter((object) => object !== objects.unlisted).map((object) => [object.key, object]));

      const summary = await store.reconcile(listed, never);

      expect(summary).toEqual({ held: 2, lost: 3, adopted: 1, removed: 4, refused: ['titles/t1/avc1/link.m4s'] });
      expect([...store.objects.keys()].sort()).toEqual([objects.adopted.key, objects.intact.key]);
      expect(fs.readdirSync(served('titles/t1/avc1')).sort()).toEqual(['adopted.m4s', 'intact.m4s', 'link.m4s']);
      expect(fs.existsSync(served('titles/t9'))).toBe(false);
      expect(fs.readFileSync(path.join(outside, 'victim'), 'utf8')).toBe('outside bytes');
      expect(NodeStore.readState(dirs.stateDir).objects).toEqual(store.objects);
    });

    it('without a manifest, leaves files no record accounts for where they are, and does not hold them', async () => {
      const store = await damagedCache();

      const summary = await store.reconcile(undefined, never);

      expect(summary).toMatchObject({ held: 1, lost: 3, adopted: 0 });
      expect(fs.existsSync(served(objects.unlisted.key))).toBe(true);
      expect(fs.existsSync(served(objects.adopted.key))).toBe(true);
    });
  });

  describe('links and keys it refuses', () => {
    it('refuses a key that is not an object key before touching the disk', async () => {
      const store = NodeStore.open(dirs);
      await expect(store.openPartial({ key: 'titles/t1/../../../outside/victim', size: 1, sha256: 'a'.repeat(64), titleId: 't1' })).rejects.toThrow(
        /object key 'titles\/t1\/\.\.\/\.\.\/\.\.\/outside\/victim' has an empty, '\.' or '\.\.' path segment/,
      );
      expect(() => store.evict('../outside/victim')).toThrow(StoreRefusedError);
      expect(fs.readFileSync(path.join(outside, 'victim'), 'utf8')).toBe('outside bytes');
    });

    it('refuses a cache directory that is a link before any byte moves', async () => {
      fs.mkdirSync(served('titles/t1'), { recursive: true });
      fs.symlinkSync(outside, served('titles/t1/avc1'));
      const store = NodeStore.open(dirs);

      await expect(store.openPartial(objectOf('titles/t1/avc1/victim', Buffer.from('x')))).rejects.toThrow(/titles\/t1\/avc1 is a symbolic link; the agent never follows links/);
      expect(fs.readdirSync(path.join(dirs.stateDir, 'partial'))).toEqual([]);
    });

    it.each([
      ['symbolic', fs.symlinkSync],
      ['hard', fs.linkSync],
    ])('replaces a %s link planted in place of a partial file rather than writing through it', async (_kind, link) => {
      const store = NodeStore.open(dirs);
      const body = Buffer.from('the object');
      const object = objectOf('titles/t1/avc1/seg.m4s', body);
      link(path.join(outside, 'victim'), path.join(dirs.stateDir, 'partial', NodeStore.partialName(object)));

      await put(store, object, body);

      expect(fs.readFileSync(served(object.key), 'utf8')).toBe('the object');
      expect(fs.readFileSync(path.join(outside, 'victim'), 'utf8')).toBe('outside bytes');
    });

    it('evicts a file and the directories it leaves empty, but removes nothing through a linked directory', async () => {
      const store = NodeStore.open(dirs);
      const body = Buffer.from('victim');
      const [kept, gone, linked] = ['titles/t1/avc1/a', 'titles/t2/avc1/a', 'titles/t3/avc1/victim'].map((key) => objectOf(key, body));
      for (const object of [kept, gone, linked]) {
        await put(store, object, body);
      }
      fs.rmSync(served('titles/t3/avc1'), { recursive: true });
      fs.symlinkSync(outside, served('titles/t3/avc1'));

      store.evict(gone.key);
      store.evict(linked.key);

      expect(fs.existsSync(served('titles/t2'))).toBe(false);
      expect(fs.existsSync(served(kept.key))).toBe(true);
      expect(fs.readFileSync(path.join(outside, 'victim'), 'utf8')).toBe('outside bytes');
      expect([...store.objects.keys()]).toEqual([kept.key]);
    });

    it('refuses to open when its partial directory is a link', () => {
      fs.mkdirSync(dirs.stateDir);
      fs.symlinkSync(outside, path.join(dirs.stateDir, 'partial'));
      expect(() => NodeStore.open(dirs)).toThrow(/partial is a symbolic link; the agent never follows links in its directories: remove it/);
    });

    it('discards unwanted partials, links among them, without following them', () => {
      const store = NodeStore.open(dirs);
      fs.symlinkSync(outside, path.join(dirs.stateDir, 'partial', 'linked-dir'));
      fs.symlinkSync(path.join(outside, 'victim'), path.join(dirs.stateDir, 'partial', 'linked-file'));

      expect(store.discardPartialsExcept([])).toBe(2);
      expect(fs.readdirSync(outside)).toEqual(['victim']);
    });
  });
});
