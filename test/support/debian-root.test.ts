import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { archiveTree, extractTree, treeListing } from './debian-root';

describe('the cached root file system round trip', () => {
  let scratch: string;

  beforeEach(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nearstream-roundtrip-'));
  });

  afterEach(() => {
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  function makeTree(dir: string): void {
    fs.mkdirSync(path.join(dir, 'etc'), { mode: 0o755 });
    fs.mkdirSync(path.join(dir, 'tmp'));
    fs.chmodSync(path.join(dir, 'tmp'), 0o1777);
    fs.writeFileSync(path.join(dir, 'etc', 'shadow'), 'x', { mode: 0o640 });
    fs.chownSync(path.join(dir, 'etc', 'shadow'), 0, 42);
    fs.symlinkSync('/proc/self/mounts', path.join(dir, 'etc', 'mtab'));
  }

  it('unpacks into a private scratch directory with the archived root mode, not the scratch mode', async () => {
    const built = path.join(scratch, 'built');
    fs.mkdirSync(built, { mode: 0o755 });
    fs.chmodSync(built, 0o755);
    makeTree(built);
    const unpacked = fs.mkdtempSync(path.join(scratch, 'unpacked-'));
    expect(fs.statSync(unpacked).mode & 0o777).toBe(0o700);

    await archiveTree(built, path.join(scratch, 'root.tar'));
    await extractTree(path.join(scratch, 'root.tar'), unpacked);

    expect(fs.statSync(unpacked).mode & 0o7777).toBe(0o755);
    expect(await treeListing(unpacked)).toEqual(await treeListing(built));
  });

  it('tells two trees apart when only a mode differs', async () => {
    const a = fs.mkdtempSync(path.join(scratch, 'a-'));
    const b = fs.mkdtempSync(path.join(scratch, 'b-'));
    makeTree(a);
    makeTree(b);
    fs.chmodSync(b, 0o755);

    expect(await treeListing(a)).not.toEqual(await treeListing(b));
  });
});
