import { parseIp, parsePrefix, PrefixTable } from '../../../lambda/playback/ip-prefix';

const prefix = (text: string) => {
  const parsed = parsePrefix(text);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
};

describe('parseIp', () => {
  it.each([
    ['203.0.113.7', [203, 0, 113, 7]],
    ['::ffff:203.0.113.7', [203, 0, 113, 7]],
    ['::1', [...Array(15).fill(0), 1]],
    ['2001:db8::8a2e:370:7334', [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0x8a, 0x2e, 0x03, 0x70, 0x73, 0x34]],
  ])('parses %s', (text, bytes) => {
    expect([...parseIp(text)!]).toEqual(bytes);
  });

  it.each(['256.1.1.1', '1.2.3', 'example.com', '1::2::3', '1:2:3:4:5:6:7:8:9', '12345::'])('rejects %s', (text) => {
    expect(parseIp(text)).toBeUndefined();
  });
});

describe('parsePrefix', () => {
  it('says what is wrong with a bad prefix', () => {
    expect(parsePrefix('10.0.0.1/8')).toBe("'10.0.0.1/8' has host bits set beyond /8");
    expect(parsePrefix('10.0.0.0/33')).toBe("'10.0.0.0/33' is longer than 32 bits");
    expect(parsePrefix('10.0.0.0')).toMatch(/is not an IP prefix/);
  });
});

describe('PrefixTable', () => {
  const table = new PrefixTable<string>();
  table.add(prefix('10.0.0.0/8'), 'wide');
  table.add(prefix('10.1.0.0/16'), 'narrow');
  table.add(prefix('10.1.2.0/24'), 'narrowest');
  table.add(prefix('0.0.0.0/0'), 'default');
  table.add(prefix('2001:db8::/32'), 'v6');

  it('returns every containing prefix, longest first', () => {
    expect(table.matches(parseIp('10.1.2.3')!).map((m) => [m.value, m.prefixLength])).toEqual([
      ['narrowest', 24],
      ['narrow', 16],
      ['wide', 8],
      ['default', 0],
    ]);
  });

  it('keeps IPv4 and IPv6 apart', () => {
    expect(table.matches(parseIp('2001:db8::1')!).map((m) => m.value)).toEqual(['v6']);
    expect(table.matches(parseIp('2001:db9::1')!)).toEqual([]);
    expect(table.matches(parseIp('192.0.2.1')!).map((m) => m.value)).toEqual(['default']);
  });
});
