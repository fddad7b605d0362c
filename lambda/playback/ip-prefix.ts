/** An IP address as bytes: 4 for IPv4 (including IPv4-mapped IPv6), 16 for IPv6. */
export type IpBytes = Uint8Array;

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses an IPv4 or IPv6 address; returns undefined for anything else. */
export function parseIp(text: string): IpBytes | undefined {
  const v4 = IPV4.exec(text);
  if (v4) {
    const octets = v4.slice(1).map(Number);
    return octets.every((octet) => octet <= 255) ? Uint8Array.from(octets) : undefined;
  }
  return text.includes(':') ? parseIpv6(text) : undefined;
}

function parseIpv6(text: string): IpBytes | undefined {
  const halves = text.split('::');
  if (halves.length > 2) {
    return undefined;
  }
  const groups = (half: string): string[] => (half === '' ? [] : half.split(':'));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const last = (tail.length > 0 ? tail : head).at(-1);
  let embeddedV4: IpBytes | undefined;
  if (last?.includes('.')) {
    embeddedV4 = parseIp(last);
    if (!embeddedV4) {
      return undefined;
    }
    (tail.length > 0 ? tail : head).pop();
  }
  const groupCount = head.length + tail.length + (embeddedV4 ? 2 : 0);
  if (halves.length === 1 ? groupCount !== 8 : groupCount > 7) {
    return undefined;
  }
  const words = [...head, ...Array<string>(8 - groupCount).fill('0'), ...tail];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < words.length; i++) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(words[i])) {
      return undefined;
    }
    const word = parseInt(words[i], 16);
    bytes[i * 2] = word >> 8;
    bytes[i * 2 + 1] = word & 0xff;
  }
  if (embeddedV4) {
    bytes.set(embeddedV4, 12);
  }
  const isV4Mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return isV4Mapped ? bytes.slice(12) : bytes;
}

export interface ParsedPrefix {
  readonly bytes: IpBytes;
  readonly length: number;
}

/** Parses `10.1.0.0/16` or `2001:db8::/32`, or returns why it is not a valid prefix. */
export function parsePrefix(text: string): ParsedPrefix | string {
  const [address, lengthText, extra] = text.split('/');
  const bytes = address === undefined ? undefined : parseIp(address);
  if (!bytes || lengthText === undefined || extra !== undefined || !/^\d{1,3}$/.test(lengthText)) {
    return `'${text}' is not an IP prefix like 203.0.113.0/24 or 2001:db8::/32`;
  }
  const length = Number(lengthText);
  if (length > bytes.length * 8) {
    return `'${text}' is longer than ${bytes.length * 8} bits`;
  }
  for (let bit = length; bit < bytes.length * 8; bit++) {
    if (bitAt(bytes, bit)) {
      return `'${text}' has host bits set beyond /${length}`;
    }
  }
  return { bytes, length };
}

function bitAt(bytes: IpBytes, bit: number): number {
  return (bytes[bit >> 3] >> (7 - (bit & 7))) & 1;
}

interface Node<T> {
  children: [Node<T> | undefined, Node<T> | undefined];
  values?: T[];
}

export interface PrefixMatch<T> {
  readonly value: T;
  readonly prefixLength: number;
}

/** Values stored under IP prefixes, found by the addresses they contain, most specific first. */
export class PrefixTable<T> {
  private readonly roots = { 4: newNode<T>(), 16: newNode<T>() };

  add(prefix: ParsedPrefix, value: T): void {
    let node = this.roots[prefix.bytes.length as 4 | 16];
    for (let bit = 0; bit < prefix.length; bit++) {
      const side = bitAt(prefix.bytes, bit);
      node = node.children[side] ??= newNode<T>();
    }
    (node.values ??= []).push(value);
  }

  /** Every value whose prefix contains `ip`, longest prefix first. */
  matches(ip: IpBytes): PrefixMatch<T>[] {
    const found: PrefixMatch<T>[] = [];
    let node: Node<T> | undefined = this.roots[ip.length as 4 | 16];
    for (let depth = 0; node; depth++) {
      if (node.values) {
        for (const value of node.values) {
          found.push({ value, prefixLength: depth });
        }
      }
      if (depth === ip.length * 8) {
        break;
      }
      node = node.children[bitAt(ip, depth)];
    }
    return found.reverse();
  }
}

function newNode<T>(): Node<T> {
  return { children: [undefined, undefined] };
}
