import { hash32, rendezvousOrder, RendezvousNodes } from '../../../lambda/shared/rendezvous';

describe('rendezvous hashing', () => {
  const ids = Array.from({ length: 13 }, (_, i) => `oca-7-${i}`);

  it('orders nodes by score, the same whatever order they are given in', () => {
    const order = rendezvousOrder('title-42', ids);

    expect([...order].sort()).toEqual([...ids].sort());
    expect(rendezvousOrder('title-42', [...ids].reverse())).toEqual(order);
    expect(rendezvousOrder('title-43', ids)).not.toEqual(order);
  });

  it('gives the same order from precomputed hashes, first choice included', () => {
    const shuffled = [...ids].sort((a, b) => hash32(a) - hash32(b));
    const nodes = new RendezvousNodes(shuffled);
    const positions = new Int32Array(nodes.size);
    for (const titleId of ['title-0', 'title-1', 'title-99', 'a title with spaces']) {
      nodes.order(hash32(titleId), positions);

      expect(Array.from(positions, (position) => shuffled[position])).toEqual(rendezvousOrder(titleId, ids));
      expect(shuffled[nodes.first(hash32(titleId))]).toBe(rendezvousOrder(titleId, ids)[0]);
    }
  });

  it('breaks a tie (equal hashes) by id', () => {
    // The same id twice hashes equal: the two tie, and keep their order among themselves.
    const twins = new RendezvousNodes(['oca-b', 'oca-a', 'oca-a']);
    const positions = new Int32Array(3);
    twins.order(hash32('title-1'), positions);

    expect([...positions].filter((position) => position !== 0)).toEqual([1, 2]);
  });
});
