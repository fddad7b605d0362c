import { createHash } from 'node:crypto';
import { assembleInventory, InventoryError, parseInventory } from '../../../lambda/shared/title-inventory';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

describe('title inventories', () => {
  const listed = [
    { key: 'titles/t1/avc1/index.m3u8', size: 10 },
    { key: 'titles/t1/avc1/seg 1.m4s', size: 20 },
  ];
  const digests = new Map(listed.map((object) => [object.key, { ...object, sha256: sha(object.key) }]));

  it('refuses to assemble a title with a key appliances could not serve, naming key and rule', () => {
    expect(() => assembleInventory('t1', listed, digests)).toThrow(InventoryError);
    expect(() => assembleInventory('t1', listed, digests)).toThrow("title t1: object key 'titles/t1/avc1/seg 1.m4s' has a path segment 'seg 1.m4s' the edge would not serve");
  });

  it('assembles one whose keys are all servable, and reads it back', () => {
    const good = listed.slice(0, 1);
    const { body, record } = assembleInventory('t1', good, digests);
    expect(parseInventory('t1', Buffer.from(body), record)).toEqual([{ key: good[0].key, size: 10, sha256: sha(good[0].key), titleId: 't1' }]);
  });

  it('skips, when planning, a recorded inventory that lists such a key, so one title cannot fail a region\'s plan', () => {
    const body = JSON.stringify(listed.map((object) => ({ ...object, sha256: sha(object.key), titleId: 't1' })));
    const record = { key: 'titles/t1/inventory.json', objects: 2, bytes: 30, sha256: sha(body) };
    expect(() => parseInventory('t1', Buffer.from(body), record)).toThrow(/object key 'titles\/t1\/avc1\/seg 1.m4s' .* appliances could not hold it/);
  });
});
