import { ManifestObject, SignedFillManifest } from '../../lambda/shared/fill-manifest';
import { planFill, titlesHeld } from '../../appliance-image/agent/src/plan';
import { HeldObject } from '../../appliance-image/agent/src/state';

const object = (key: string, size = 10): ManifestObject => ({ key, size, sha256: 'a'.repeat(64), titleId: key.split('/')[1] });
const manifestOf = (objects: readonly ManifestObject[]) => ({ objects }) as unknown as SignedFillManifest;
const heldAs = (objects: readonly ManifestObject[]) => new Map<string, HeldObject>(objects.map(({ key, size, sha256, titleId }) => [key, { size, sha256, titleId }]));

describe('the fill plan', () => {
  it('downloads what is not held with the listed digest and size, and evicts what is no longer listed', () => {
    const held = heldAs([object('titles/a/1'), object('titles/a/2'), object('titles/b/1')]);
    const plan = planFill(manifestOf([object('titles/a/1'), object('titles/a/2', 11), object('titles/c/1')]), 'oca-1', held);

    expect(plan.downloads.map((o) => o.key)).toEqual(['titles/a/2', 'titles/c/1']);
    expect(plan.evictions).toEqual(['titles/b/1']);
    expect(plan.inTheWay).toEqual([]);
    expect(plan.downloadBytes).toBe(21);
  });

  it('evicts first what is in the way: a held file where a directory goes, and held files where a file goes', () => {
    const held = heldAs([object('titles/a/avc1'), object('titles/b/avc1/seg-1'), object('titles/b/avc1/seg-2'), object('titles/c/x')]);
    const plan = planFill(manifestOf([object('titles/a/avc1/seg-1'), object('titles/b/avc1'), object('titles/c/x')]), 'oca-1', held);

    expect([...plan.inTheWay].sort()).toEqual(['titles/a/avc1', 'titles/b/avc1/seg-1', 'titles/b/avc1/seg-2']);
  });

  it('keeps keys that name Object.prototype members apart', () => {
    const listed = ['__proto__', 'constructor', 'hasOwnProperty'].map((name) => object(`titles/a/${name}`));
    const held = heldAs(listed.slice(0, 2));

    const plan = planFill(manifestOf(listed), 'oca-1', held);

    expect(plan.downloads.map((o) => o.key)).toEqual(['titles/a/hasOwnProperty']);
    expect(titlesHeld(manifestOf(listed), 'oca-1', heldAs(listed))).toEqual(['a']);
  });

  it('plans 100,000 objects against 100,000 held in seconds, not minutes', () => {
    const listed = Array.from({ length: 100_000 }, (_, i) => object(`titles/t${i % 400}/avc1/seg-${i}.m4s`));
    const held = heldAs(Array.from({ length: 100_000 }, (_, i) => object(`titles/t${(i % 400) + 200}/avc1/seg-${i + 50_000}.m4s`)));

    const started = performance.now();
    const plan = planFill(manifestOf(listed), 'oca-1', held);
    const titles = titlesHeld(manifestOf(listed), 'oca-1', held);

    expect(performance.now() - started).toBeLessThan(5000);
    expect(plan.downloads.length + plan.evictions.length).toBeGreaterThan(0);
    expect(titles.length).toBeLessThan(400);
  });
});
