import { dropLine, factsLine, holdLine, parseState, snapshotText, STATE_FORMAT } from '../../appliance-image/agent/src/state';

const digest = 'a'.repeat(64);
const held = (size = 10) => ({ size, sha256: digest, titleId: 't1', ino: 7, ctimeMs: 1_700_000_000_123.5 });

describe('the agent state (snapshot and journal)', () => {
  it('round-trips through a snapshot and a journal replayed over it', () => {
    const state = { appliedGeneration: 4, appliedCreatedAt: '2026-11-21T01:00:00.000Z', objects: new Map([['titles/t1/a', held()], ['titles/t1/b', held(20)]]) };
    const journal = holdLine('titles/t1/c', held(30)) + dropLine('titles/t1/a') + factsLine({ targetGeneration: 5 });

    const { state: read, problems } = parseState(snapshotText(state), journal);

    expect(problems).toEqual([]);
    expect(read).toMatchObject({ appliedGeneration: 4, targetGeneration: 5 });
    expect([...read.objects.keys()]).toEqual(['titles/t1/b', 'titles/t1/c']);
    expect(read.objects.get('titles/t1/c')).toEqual(held(30));
  });

  it('keeps keys like __proto__ and constructor as entries of their own, never as the prototype', () => {
    const objects = new Map(['__proto__', 'constructor', 'toString'].map((name) => [`titles/t1/${name}`, held()]));

    const { state } = parseState(snapshotText({ objects }), holdLine('titles/t1/hasOwnProperty', held()));

    expect(state.objects.size).toBe(4);
    expect(Object.getPrototypeOf(state)).toBe(Object.prototype);
    expect(state.objects.get('titles/t1/__proto__')).toEqual(held());
  });

  it('ignores a torn last journal line: a crash mid-append recorded nothing', () => {
    const { state, problems } = parseState(undefined, holdLine('titles/t1/a', held()) + holdLine('titles/t1/b', held()).slice(0, 20));
    expect([...state.objects.keys()]).toEqual(['titles/t1/a']);
    expect(problems).toEqual([]);
  });

  it.each([
    ['a key outside the titles', ['../../etc/passwd', 10, digest, 't1', 1, 1]],
    ['the key __proto__ itself', ['__proto__', 10, digest, 't1', 1, 1]],
    ['a key outside its title', ['titles/t2/a', 10, digest, 't1', 1, 1]],
    ['a negative size', ['titles/t1/a', -1, digest, 't1', 1, 1]],
    ['a fractional size', ['titles/t1/a', 1.5, digest, 't1', 1, 1]],
    ['a size past 2^53', ['titles/t1/a', 2 ** 60, digest, 't1', 1, 1]],
    ['a digest that is not hex', ['titles/t1/a', 10, 'z'.repeat(64), 't1', 1, 1]],
    ['half an identity', ['titles/t1/a', 10, digest, 't1', 1, null]],
    ['not a tuple', { key: 'titles/t1/a' }],
  ])('drops a recorded object with %s, and says so', (_label, entry) => {
    const snapshot = JSON.stringify({ format: STATE_FORMAT, objects: [entry, ['titles/t1/ok', 10, digest, 't1', 1, 1]] });

    const { state, problems } = parseState(snapshot, undefined);

    expect([...state.objects.keys()]).toEqual(['titles/t1/ok']);
    expect(problems).toEqual(['1 recorded objects were not valid and were dropped']);
  });

  it('drops facts that are not valid, keeping the rest', () => {
    const snapshot = JSON.stringify({ format: STATE_FORMAT, appliedGeneration: 2 ** 60, targetGeneration: 3, appliedCreatedAt: 'yesterday', objects: [] });

    const { state, problems } = parseState(snapshot, undefined);

    expect(state.appliedGeneration).toBeUndefined();
    expect(state.appliedCreatedAt).toBeUndefined();
    expect(state.targetGeneration).toBe(3);
    expect(problems).toEqual(['state.json: appliedGeneration is not valid and was dropped', 'state.json: appliedCreatedAt is not valid and was dropped']);
  });

  it.each([
    ['not JSON', '{"format":', /not JSON/],
    ['a list', '[]', /not a JSON object/],
    ['another format', JSON.stringify({ format: 'v9', objects: [] }), /neither/],
  ])('starts from nothing, saying why, when state.json is %s', (_label, text, problem) => {
    const { state, problems } = parseState(text, undefined);
    expect(state.objects.size).toBe(0);
    expect(problems).toEqual([expect.stringMatching(problem)]);
  });

  it('reads the version-1 state, whose objects were a JSON object by key, without their file identities', () => {
    const object = JSON.stringify({ size: 10, sha256: digest, titleId: 't1' });
    const v1 = `{"appliedGeneration":3,"objects":{"titles/t1/a":${object},"__proto__":${object}}}`;

    const { state, problems } = parseState(v1, undefined);

    expect(state.appliedGeneration).toBe(3);
    expect([...state.objects.entries()]).toEqual([['titles/t1/a', { size: 10, sha256: digest, titleId: 't1' }]]);
    expect(problems).toEqual(['1 recorded objects were not valid and were dropped']);
  });

  // Bounds loose enough for a busy machine; what they catch is work that grows faster than the state.
  it('reads and writes the state of 100,000 objects in seconds, not minutes', () => {
    const objects = new Map(Array.from({ length: 100_000 }, (_, i) => [`titles/t${i % 500}/avc1/index_0_${String(i).padStart(5, '0')}.m4s`, { ...held(i), titleId: `t${i % 500}` }]));

    const writing = performance.now();
    const text = snapshotText({ appliedGeneration: 9, objects });
    const written = performance.now() - writing;
    const reading = performance.now();
    const { state } = parseState(text, undefined);
    const read = performance.now() - reading;

    expect(state.objects.size).toBe(100_000);
    expect({ written: written < 5000, read: read < 5000 }).toEqual({ written: true, read: true });
  });
});
