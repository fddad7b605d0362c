/** One name of a query string, header or cookie list as CloudFront Functions shows it. */
export interface FunctionValue {
  /** The first value. */
  value: string;
  /** Every value, present only when the name came more than once. */
  multiValue?: { value: string }[];
}

export type FunctionValues = Record<string, FunctionValue>;

/** The `name=value` pairs of a raw query string, in order, still percent-encoded. */
export function queryPairs(rawQuery: string): [string, string][] {
  return rawQuery
    .split('&')
    .filter((pair) => pair !== '')
    .map(splitPair);
}

/** The `name=value` pairs of every Cookie header, in order. */
export function cookiePairs(cookieHeaders: readonly string[]): [string, string][] {
  return cookieHeaders
    .flatMap((header) => header.split(';'))
    .map((pair) => pair.trim())
    .filter((pair) => pair !== '')
    .map(splitPair);
}

/** The first value of each name, as a signature check reads them. */
export function firstValues(pairs: readonly [string, string][]): Map<string, string> {
  const first = new Map<string, string>();
  for (const [name, value] of pairs) {
    if (!first.has(name)) {
      first.set(name, value);
    }
  }
  return first;
}

/** Pairs grouped by name, in CloudFront Functions' shape. */
export function functionValues(pairs: readonly [string, string][]): FunctionValues {
  const grouped: FunctionValues = {};
  for (const [name, value] of pairs) {
    const existing = grouped[name];
    if (!existing) {
      grouped[name] = { value };
    } else {
      existing.multiValue = [...(existing.multiValue ?? [{ value: existing.value }]), { value }];
    }
  }
  return grouped;
}

function splitPair(pair: string): [string, string] {
  const equals = pair.indexOf('=');
  return equals === -1 ? [pair, ''] : [pair.slice(0, equals), pair.slice(equals + 1)];
}
